/**
 * The holder's tools (src/auth/delegation/client.ts and `agent-vault delegation`): a chain
 * narrowed with `delegation create` and a request signed with `delegation invoke` are
 * accepted by the vault's verifier; `delegation inspect` names every link and its terms.
 */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openAuditLog } from "../../../src/audit/log.js";
import { createDelegationService } from "../../../src/auth/delegation/index.js";
import { createDidKey } from "../../../src/auth/vc/toolkit.js";
import { delegationCommand } from "../../../src/cli/delegation.js";
import { openDatabase } from "../../../src/store/db.js";
import { openDelegationStore } from "../../../src/store/delegations.js";
import { createSqliteSql } from "../../../src/store/sql/sqlite.js";
import { openVaultStore } from "../../../src/store/vault-store.js";
import { sha256Hex } from "./helpers.js";

async function run(args: string[]): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (line: string) => void lines.push(line);
  try {
    assert.equal(await delegationCommand(args), 0);
  } finally {
    console.log = log;
  }
  return lines.join("\n");
}

test("create narrows a chain, invoke signs a request, the vault accepts both; inspect describes it", async () => {
  const sql = createSqliteSql(openDatabase(":memory:"));
  await openVaultStore(sql);
  const svc = createDelegationService({
    store: await openDelegationStore(sql),
    audit: await openAuditLog(sql),
    passphrase: "t",
    maxDepth: 8,
    agentExists: () => true,
  });
  const dir = mkdtempSync(join(tmpdir(), "av-dlg-cli-"));
  const [alice, bob] = [createDidKey(), createDidKey()];
  writeFileSync(join(dir, "alice.json"), JSON.stringify(alice));
  writeFileSync(join(dir, "bob.json"), JSON.stringify(bob));
  const root = await svc.issue(
    {
      agentId: "agt_cli",
      audience: alice.did,
      commands: ["/vault/sign/message", "/vault/sign/transaction"],
      caps: { ETH: { maxPerTx: "0.01", maxPer24h: "0.1" } },
      expiresAt: new Date(Date.now() + 600_000).toISOString(),
    },
    "admin",
  );
  const chain = await run([
    "create",
    "--from",
    root.delegation,
    "--key",
    join(dir, "alice.json"),
    "--to",
    bob.did,
    "--commands",
    "message",
    "--caps",
    "ETH=0.001/0.002",
  ]);
  assert.equal(chain.split(",").length, 2);
  const path = "/v1/agents/agt_cli/sign/message";
  const body = JSON.stringify({ message: "hi" });
  const bodyFile = join(dir, "body.json");
  writeFileSync(bodyFile, body);
  const inv = await run([
    "invoke",
    "--chain",
    chain,
    "--key",
    join(dir, "bob.json"),
    "--path",
    path,
    "--body-file",
    bodyFile,
  ]);
  const grant = await svc.verify(chain, inv, {
    agentId: "agt_cli",
    command: "/vault/sign/message",
    method: "POST",
    path,
    bodySha256: sha256Hex(body),
  });
  assert.equal(grant.holder, bob.did);
  assert.deepEqual(grant.terms.caps, { ETH: { maxPerTx: "0.001", maxPer24h: "0.002" } });
  assert.deepEqual(grant.terms.commands, ["/vault/sign/message"]);
  // Alice cannot make a link from a chain she does not hold the end of.
  await assert.rejects(
    delegationCommand([
      "create",
      "--from",
      chain,
      "--key",
      join(dir, "alice.json"),
      "--to",
      alice.did,
    ]),
    /held by/,
  );
  const words = await run(["inspect", chain]);
  assert.match(words, /link 0 \(root\): bafy/);
  assert.match(words, new RegExp(`grants ${bob.did}`));
  assert.match(words, /"maxPerTx":"0.001"/);
});
