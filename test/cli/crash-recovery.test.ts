import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { hashMessage, verifyMessage } from "ethers";
import { freePort, killed, runCli, startVaultProcess } from "../helpers/process.js";
import { ADMIN_KEY, BASIC_POLICY } from "../helpers/vault.js";
import { newVaultDir } from "../helpers/vault-snapshot.js";

// A first start's folder (test/helpers/vault-snapshot.ts): this test is about the crash.
const dir = await newVaultDir(ADMIN_KEY, {});
let vault: ChildProcess | undefined;
after(async () => {
  vault?.kill("SIGKILL");
  if (vault) await killed(vault);
});

test("kill -9 of the vault mid-signing: what was answered survives, nothing is signed twice, the chain verifies, interrupted requests are finished on restart", async () => {
  const port = await freePort();
  const env = {
    VAULT_DATA_DIR: dir,
    VAULT_PORT: String(port),
    VAULT_ADMIN_KEY: ADMIN_KEY,
    VAULT_PRESIG_POOL: "1",
  };
  const url = `http://127.0.0.1:${port}`;
  const admin = { authorization: `Bearer ${ADMIN_KEY}`, "content-type": "application/json" };
  vault = await startVaultProcess(env);
  const created = await fetch(`${url}/v1/agents`, {
    method: "POST",
    headers: admin,
    body: JSON.stringify({ name: "crash", policy: BASIC_POLICY }),
  });
  const agent = (await created.json()) as { id: string; address: string };
  const signOnce = (i: number) =>
    fetch(`${url}/v1/agents/${agent.id}/sign/message`, {
      method: "POST",
      headers: admin,
      body: JSON.stringify({ message: `m${i}` }),
    })
      .then(async (r) => ({
        i,
        status: r.status,
        body: (await r.json()) as { signature?: string; auditSeq?: number },
      }))
      .catch(() => ({ i, status: 0, body: {} as { signature?: string; auditSeq?: number } }));

  const inflight = Array.from({ length: 12 }, (_, i) => signOnce(i));
  const first = await Promise.race(inflight);
  assert.equal(first.status, 200);
  vault.kill("SIGKILL");
  await killed(vault);
  const outcomes = await Promise.all(inflight);
  // However many were answered before the kill (a timing matter, not asserted), each
  // answered one must survive below.
  const answered = outcomes.filter((o) => o.status === 200);

  // The file alone verifies, offline.
  const offline = await runCli(["audit", "verify", `--data-dir=${dir}`], {});
  assert.equal(offline.code, 0, offline.stdout);

  vault = await startVaultProcess(env);
  const after = await signOnce(100);
  assert.equal(after.status, 200, JSON.stringify(after.body));
  assert.equal(verifyMessage("m100", after.body.signature as string), agent.address);
  for (const o of answered)
    assert.equal(verifyMessage(`m${o.i}`, o.body.signature as string), agent.address);

  const verify = await fetch(`${url}/v1/audit/verify`, { headers: admin });
  const report = (await verify.json()) as { ok: boolean };
  assert.equal(report.ok, true, JSON.stringify(report));
  const audit = (await (await fetch(`${url}/v1/audit?limit=1000`, { headers: admin })).json()) as {
    entries: Array<{
      seq: number;
      type: string;
      agentId: string | null;
      data: { requestId?: string; digest?: string; seq?: number };
    }>;
  };
  const signed = audit.entries.filter((e) => e.type === "sign.signed" && e.agentId === agent.id);
  // What was acknowledged survives: each answer's audit entry is its message's signature.
  for (const o of [...answered, after]) {
    const entry = audit.entries.find((e) => e.seq === o.body.auditSeq);
    assert.equal(entry?.type, "sign.signed", `m${o.i}: answered with auditSeq ${o.body.auditSeq}`);
    assert.equal(entry?.data.digest, hashMessage(`m${o.i}`));
  }
  // Nothing is signed twice: one signature per message, request and agent sequence number.
  for (const key of ["digest", "requestId", "seq"] as const) {
    const values = signed.map((e) => e.data[key]);
    assert.equal(new Set(values).size, values.length, `sign.signed ${key}s are distinct`);
  }
  const db = new Database(join(dir, "vault.sqlite"), { readonly: true });
  const open = db
    .prepare("SELECT count(*) AS n FROM sign_requests WHERE status IN ('reserved', 'incomplete')")
    .get() as { n: number };
  db.close();
  assert.equal(open.n, 0, "no request is left holding budget or a sequence number");

  // The client subcommands, against the running vault.
  const cliEnv = { VAULT_URL: url, VAULT_ADMIN_KEY: ADMIN_KEY };
  const policyFile = join(dir, "policy.json");
  writeFileSync(policyFile, JSON.stringify(BASIC_POLICY));
  const made = await runCli(["agent", "create", "cli-agent", `--policy=${policyFile}`], cliEnv);
  assert.equal(made.code, 0, made.stdout);
  const cliAgent = JSON.parse(made.stdout) as { id: string; address: string };
  const listed = await runCli(["agent", "list"], cliEnv);
  assert.ok(listed.stdout.includes(cliAgent.id));
  const key = await runCli(["key", "create", cliAgent.id, "--scopes=EXECUTE"], cliEnv);
  const apiKey = (JSON.parse(key.stdout) as { key: string }).key;
  const cliSigned = await runCli(["sign", cliAgent.id, "--message=from the cli"], {
    VAULT_URL: url,
    VAULT_API_KEY: apiKey,
  });
  assert.equal(cliSigned.code, 0, cliSigned.stdout);
  assert.equal(
    verifyMessage(
      "from the cli",
      (JSON.parse(cliSigned.stdout) as { signature: string }).signature,
    ),
    cliAgent.address,
  );
  const exported = await runCli(["audit", "export", `--data-dir=${dir}`], {});
  const lines = exported.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { seq: number });
  assert.ok(lines.length > 10 && lines.every((e, i) => e.seq === i + 1));
});
