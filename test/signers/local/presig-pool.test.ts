/**
 * The vault's presignature ledger (src/signers/local/pool.ts) on both storage engines: each
 * presignature is handed out once, even to replicas taking at the same moment, and a replica
 * never comes back empty-handed while one is left.
 */
import assert from "node:assert/strict";
import { openPresigPool } from "../../../src/signers/local/pool.js";
import { openDatabase } from "../../../src/store/db.js";
import { onBothEngines } from "../../helpers/engines.js";

onBothEngines({
  "40 takes over two replicas from a pool of 30: 30 distinct ids, then nothing": async (f) => {
    const [a, b] = [await openPresigPool(f.open()), await openPresigPool(f.open())];
    for (let i = 0; i < 30; i++) await a.add("agt", [1, 0], `ps-${i}`);
    const taken = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? a : b).take("agt", [0, 1])),
    );
    const ids = taken.filter((id) => id !== undefined);
    assert.equal(ids.length, 30, "every presignature was handed out");
    assert.equal(new Set(ids).size, 30, "none twice");
    assert.equal(await b.count("agt", [0, 1]), 0);
  },

  "oldest first, per agent and per quorum (parties in any order)": async (f) => {
    const pool = await openPresigPool(f.open());
    await pool.add("agt", [2, 0], "first");
    await new Promise((r) => setTimeout(r, 5));
    await pool.add("agt", [0, 2], "second");
    await pool.add("agt", [0, 1], "other-quorum");
    await pool.add("other", [0, 2], "other-agent");
    assert.deepEqual((await pool.quorums("agt")).map((q) => q.join(",")).sort(), ["0,1", "0,2"]);
    assert.equal(await pool.count("agt", [0, 2]), 2);
    assert.equal(await pool.take("agt", [0, 2]), "first");
    assert.equal(await pool.take("agt", [2, 0]), "second");
    assert.equal(await pool.take("agt", [0, 2]), undefined);
    assert.equal(await pool.count("other", [2, 0]), 1);
  },

  "a pool table an earlier build made is adopted with its rows": {
    only: "sqlite",
    run: async (f) => {
      const db = openDatabase(f.file as string);
      db.exec(`CREATE TABLE presig_pool (id TEXT PRIMARY KEY, agent_id TEXT NOT NULL,
        parties TEXT NOT NULL, created_at INTEGER NOT NULL);
        INSERT INTO presig_pool VALUES ('kept', 'agt', '0,1', 1)`);
      db.close();
      const pool = await openPresigPool(f.open());
      assert.equal(await pool.take("agt", [0, 1]), "kept");
    },
  },
});
