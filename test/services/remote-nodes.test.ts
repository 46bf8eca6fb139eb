import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import { hexlify, toUtf8Bytes, verifyMessage } from "ethers";
import { loadConfig } from "../../src/config/index.js";
import { createVault, type Vault } from "../../src/services/vault.js";
import { loadOrCreateIdentity } from "../../src/transport/identity.js";
import { CLI } from "../helpers/process.js";
import { ADMIN_KEY, BASIC_POLICY } from "../helpers/vault.js";

const nodes: ChildProcess[] = [];
let vault: Vault | undefined;
after(async () => {
  await vault?.stop();
  for (const n of nodes) n.kill("SIGTERM");
});

function startNode(index: number, dir: string, vaultKey: string): Promise<string> {
  const child = spawn(process.execPath, [
    ...CLI,
    "node",
    `--index=${index}`,
    "--port=0",
    `--data-dir=${join(dir, `remote-${index}`)}`,
    `--vault-key=${vaultKey}`,
  ]);
  nodes.push(child);
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).on("line", (line) => {
      if (line.startsWith("READY ")) resolve(`http://127.0.0.1:${JSON.parse(line.slice(6)).port}`);
    });
    child.once("exit", (code) => reject(new Error(`node ${index} exited (${code})`)));
  });
}

test("the vault can use signer nodes started on their own (agent-vault node), named by VAULT_NODES", async () => {
  const dir = mkdtempSync(join(tmpdir(), "av-remote-"));
  const vaultKey = loadOrCreateIdentity(join(dir, "vault-identity.json")).publicIdentity.signingKey;
  const urls = await Promise.all([0, 1, 2].map((i) => startNode(i, dir, vaultKey)));
  const config = loadConfig({
    VAULT_DATA_DIR: dir,
    VAULT_ADMIN_KEY: ADMIN_KEY,
    VAULT_NODES: urls.join(","),
    VAULT_PRESIG_POOL: "1",
    VAULT_ZK_SETUP: "off",
  });
  vault = await createVault(config, { timers: false });
  assert.equal(vault.supervisor, undefined, "no embedded nodes were started");
  const agent = await vault.agents.create(
    { name: "remote", policy: BASIC_POLICY },
    ADMIN_KEY,
    "test",
  );
  const out = await vault.signing.sign(
    agent.id,
    { kind: "message", message: hexlify(toUtf8Bytes("far away")) },
    "test",
  );
  assert.equal(out.status, "signed");
  assert.equal(
    verifyMessage("far away", out.status === "signed" ? out.signature : ""),
    agent.address,
  );
});

test("VAULT_NODES must list exactly n nodes", () => {
  assert.throws(
    () => loadConfig({ VAULT_NODES: "http://127.0.0.1:1,http://127.0.0.1:2" }),
    /VAULT_NODES/,
  );
  assert.throws(() => loadConfig({ VAULT_NODES: "not a url" }), /VAULT_NODES/);
});
