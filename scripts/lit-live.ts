/**
 * Manual check of a Lit backend against a live network (issue 10, "Required" 5):
 * create → sign → denied, with the operator's real policy action. Not run by the tests.
 *
 *   LIT_CHIPOTLE_URL=https://api.chipotle.litprotocol.com \
 *   LIT_CHIPOTLE_API_KEY_FILE=/path/to/account-key \
 *   [VAULT_ADMIN_KEY=…] npm run lit:live -- --backend=lit-chipotle
 *
 * 1. creates a PKP (create_wallet), a group of exactly that PKP and the action's CID
 *    hash, and a usage key with execute rights on that group alone;
 * 2. signs a 0.00001 ETH transfer on Base (8453) within the policy: the signature must
 *    recover to the PKP's address (nothing is broadcast);
 * 3. asks for 0.001 ETH, over the policy's maxPerTx: the action must answer
 *    POLICY_DENIED without fetching the key, and no signature comes back;
 * 4. removes the usage key it minted (the PKP and the group stay on the account).
 * Cost on Chipotle (Lit's published pricing, $0.01 per metered call-second): about six
 * metered calls, so about $0.06 per run (0.07 if the first lit_action misses Lit's code
 * cache and the code is sent). The account key is read from the file, never printed.
 * The admin authority is VAULT_ADMIN_KEY's (the action CID your vault would use) or, if
 * unset, a one-off random key (a fresh CID each run). `--fake` runs the same steps
 * against the in-repo fake server (test/helpers/lit/chipotle-fake.ts), free and offline.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { recoverAddress } from "ethers";
import { adminPublicKey, authorize } from "../src/auth/admin-authority.js";
import { isVaultError } from "../src/errors/index.js";
import { decodeIntent } from "../src/policy/index.js";
import type { Policy, SignIntent } from "../src/policy/types.js";
import { chipotleBackendFor } from "../src/signers/lit/chipotle/index.js";

const RECIPIENT = "0x000000000000000000000000000000000000dEaD";
const POLICY = {
  chains: [8453],
  assets: { ETH: { maxPerTx: "0.0001", maxPer24h: "0.0005" } },
  recipients: [RECIPIENT],
} as unknown as Policy;

const say = (s: string) => console.log(`== ${s}`);
function fail(s: string): never {
  throw new Error(s);
}

function transfer(value: string): SignIntent {
  return {
    kind: "transaction",
    tx: {
      chainId: 8453,
      to: RECIPIENT,
      value,
      data: "0x",
      nonce: 0,
      gasLimit: 21000,
      maxFeePerGas: "1000000000",
      maxPriorityFeePerGas: "1000000",
    },
  };
}

async function target(
  fake: boolean,
): Promise<{ url: string; apiKey: string; stop(): Promise<void> }> {
  if (fake) {
    const { startChipotleFake } = await import("../test/helpers/lit/chipotle-fake.js");
    const server = await startChipotleFake();
    return { url: server.url, apiKey: server.newAccount(), stop: server.close };
  }
  const url = process.env.LIT_CHIPOTLE_URL;
  const file = process.env.LIT_CHIPOTLE_API_KEY_FILE;
  if (!url || !file) fail("set LIT_CHIPOTLE_URL and LIT_CHIPOTLE_API_KEY_FILE (or pass --fake)");
  const apiKey = readFileSync(file, "utf8").trim();
  if (apiKey === "") fail(`${file} is empty`);
  return { url, apiKey, stop: async () => {} };
}

async function main() {
  const args = process.argv.slice(2);
  const backendName = args.find((a) => a.startsWith("--backend="))?.slice("--backend=".length);
  if (backendName !== "lit-chipotle") {
    fail("only --backend=lit-chipotle is live today (Lit shut its Datil v7 networks down in 2026)");
  }
  const { url, apiKey, stop } = await target(args.includes("--fake"));
  const admin = process.env.VAULT_ADMIN_KEY ?? `av_live_${randomBytes(24).toString("hex")}`;
  if (!process.env.VAULT_ADMIN_KEY)
    say("no VAULT_ADMIN_KEY: a one-off admin authority (fresh CID)");
  const backend = chipotleBackendFor({
    url,
    apiKey,
    authorityPublicKey: adminPublicKey(admin),
    log: (line) => say(line),
  });
  const agentId = `agt_live_${randomBytes(4).toString("hex")}`;
  try {
    say(`create ${agentId} on ${new URL(url).host}`);
    const created = await backend.createKey({
      agentId,
      policy: { version: 1, policy: POLICY },
      authorize: (a) => authorize(admin, a),
      onProgress: say,
    });
    say(`PKP ${created.address}, group ${created.pkp?.groupId}, action ${created.pkp?.actionCid}`);
    const policy = { version: 1, policy: POLICY, authorization: created.policyAuthorization ?? "" };
    const request = (value: string) => {
      const intent = transfer(value);
      const { digest } = decodeIntent(intent);
      return {
        agentId,
        seq: 1,
        intent,
        digest,
        address: created.address,
        pkp: created.pkp,
        policy,
      };
    };

    const allowed = request("10000000000000"); // 0.00001 ETH
    const sig = await backend.signDigest(allowed);
    if (recoverAddress(allowed.digest, sig.signature) !== created.address) {
      fail("the signature does not recover to the PKP");
    }
    say(`signed within policy: ${sig.signature.slice(0, 20)}… recovers to the PKP`);

    const raised = request("1000000000000000"); // 0.001 ETH > maxPerTx
    const denied = await backend.signDigest(raised).then(
      () => fail("a raised amount was signed"),
      (err: unknown) => err,
    );
    if (!isVaultError(denied) || denied.code !== "POLICY_DENIED") {
      fail(`expected POLICY_DENIED, got ${isVaultError(denied) ? denied.code : String(denied)}`);
    }
    say(`denied by the action: ${JSON.stringify(denied.toJSON().error)}`);
    say("ok: create → sign → denied");
  } finally {
    await backend.close?.(); // removes the usage key it minted
    await stop();
  }
}

await main().catch((err: unknown) => {
  const upstream = (err as { upstream?: string }).upstream;
  const what = isVaultError(err) ? err.code : err instanceof Error ? err.message : String(err);
  console.error(`FAILED: ${what}${upstream ? ` (Lit said: ${upstream})` : ""}`);
  process.exitCode = 1;
});
