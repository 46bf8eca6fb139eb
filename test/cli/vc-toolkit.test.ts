/**
 * The VC door from a shell, as the README shows it: `did create` for the issuer and the
 * agent, `vc issue` an AgentAuthorization, `vc present` over a fresh challenge, and the
 * presentation signs for the agent within what the credential allows.
 */
import assert from "node:assert/strict";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { runCli } from "../helpers/process.js";
import { BASIC_POLICY, startTestVault, type TestVault } from "../helpers/vault.js";

const dir = mkdtempSync(join(tmpdir(), "av-vc-cli-"));
let tv: TestVault;
let url: string;
let issuerDid: string;
/** `vc present` of the agent's key file and credential written by the first test. */
const present = [
  "vc",
  "present",
  "--holder",
  join(dir, "agent.json"),
  "--credential",
  join(dir, "vc.jwt"),
];

async function cli(args: string[]): Promise<string> {
  const out = await runCli(args, { VAULT_URL: url ?? "http://127.0.0.1:9" });
  assert.equal(out.code, 0, `${args.join(" ")}: ${out.stdout}`);
  return out.stdout.trim();
}

before(async () => {
  issuerDid = await cli(["did", "create", "--out", join(dir, "issuer.json")]);
  tv = await startTestVault({ VAULT_TRUSTED_VC_ISSUERS: JSON.stringify([issuerDid]) });
  await tv.app.listen({ port: 0, host: "127.0.0.1" });
  url = `http://127.0.0.1:${(tv.app.server.address() as { port: number }).port}`;
});
after(async () => tv?.stop());

test("did create → vc issue → vc present: the presentation signs for the agent", async () => {
  assert.match(issuerDid, /^did:key:z6Mk/);
  assert.equal(statSync(join(dir, "issuer.json")).mode & 0o777, 0o600);
  const agent = await tv.createAgent(BASIC_POLICY);
  const agentDid = await cli(["did", "create", "--out", join(dir, "agent.json")]);
  const vc = await cli([
    "vc",
    "issue",
    "--issuer",
    join(dir, "issuer.json"),
    "--subject",
    agentDid,
    "--agent",
    agent.id,
    "--capabilities",
    "read,execute",
    "--spend-limit",
    "ETH=0.005",
  ]);
  writeFileSync(join(dir, "vc.jwt"), vc);
  const vp = await cli(present);
  const sign = (message: string) =>
    fetch(`${url}/v1/agents/${agent.id}/sign/message`, {
      method: "POST",
      headers: { "x-agent-presentation": vp, "content-type": "application/json" },
      body: JSON.stringify({ message }),
    });
  const res = await sign("from the shell");
  assert.equal(res.status, 200, await res.text());
  // Presented again, the same presentation is a replay.
  const again = await sign("again");
  assert.equal(
    ((await again.json()) as { error: { code: string } }).error.code,
    "CHALLENGE_REPLAYED",
  );
});

test("vc present refuses a server whose audience is not the pinned one", async () => {
  const out = await runCli([...present, "--audience", "urn:agent-vault:elsewhere"], {
    VAULT_URL: url,
  });
  assert.notEqual(out.code, 0);
  assert.equal(out.stdout, "", "no presentation is printed");
});

test("did create refuses to overwrite a key file", async () => {
  const out = await runCli(["did", "create", "--out", join(dir, "issuer.json")], {});
  assert.notEqual(out.code, 0);
});
