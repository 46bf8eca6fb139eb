/**
 * Parked x402 payments (src/auth/x402/parked.ts) on both storage engines: what a payment
 * waiting for an operator needs round-trips, a week-old one is pruned at the next park, and
 * a SQLite table from before `requested_by` is adopted with its rows.
 */
import assert from "node:assert/strict";
import { openParkedPayments, type ParkedPayment } from "../../src/auth/x402/parked.js";
import { openDatabase } from "../../src/store/db.js";
import { onBothEngines } from "../helpers/engines.js";

const DAY = 86_400_000;

const payment = (approvalId: string): ParkedPayment => ({
  approvalId,
  agentId: "agt_a",
  accepted: {
    scheme: "exact",
    network: "eip155:84532",
    amount: "1",
    asset: "0x036CbD53842c5426634e7929541eC2318f3dCF7e",
    payTo: "0x2222222222222222222222222222222222222222",
    maxTimeoutSeconds: 300,
    extra: { name: "USDC", version: "2" },
  },
  resource: undefined,
  authorization: { from: "0xa", to: "0xb", value: "1" } as ParkedPayment["authorization"],
  requestedBy: "key_1",
});

onBothEngines({
  "a parked payment round-trips; a week-old one is pruned by the next park": async (f) => {
    let now = 1_000 * DAY;
    const parked = await openParkedPayments(f.open(), () => now);
    await parked.park(payment("apr_old"));
    assert.deepEqual(await parked.get("apr_old"), payment("apr_old"));
    now += 8 * DAY;
    await parked.park(payment("apr_new"));
    assert.equal(await parked.get("apr_old"), undefined);
    assert.equal((await parked.get("apr_new"))?.requestedBy, "key_1");
  },

  "a table from before requested_by is adopted with its rows": {
    only: "sqlite",
    run: async (f) => {
      const db = openDatabase(f.file as string);
      db.exec(`CREATE TABLE x402_parked (approval_id TEXT PRIMARY KEY, agent_id TEXT NOT NULL,
        accepted TEXT NOT NULL, resource TEXT, authorization TEXT NOT NULL, created_ms INTEGER NOT NULL);
        INSERT INTO x402_parked VALUES ('apr_kept', 'agt_a', '{}', NULL, '{}', ${Date.now()})`);
      db.close();
      const parked = await openParkedPayments(f.open());
      assert.equal((await parked.get("apr_kept"))?.requestedBy, "");
      await parked.park(payment("apr_2"));
      assert.equal((await parked.get("apr_2"))?.requestedBy, "key_1");
    },
  },
});
