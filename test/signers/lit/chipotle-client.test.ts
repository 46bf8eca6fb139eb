/**
 * The Chipotle REST client against the fake lit-api-server: the paths, key header and
 * shapes it speaks; every failure status (401, 402, 403, 429 retried with bounded
 * backoff, 500) and malformed bodies mapped to stable vault codes; Chipotle's
 * wildcards refused; the group/usage-key permission rule as the server applies it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { keccak256, toUtf8Bytes } from "ethers";
import { isVaultError } from "../../../src/errors/index.js";
import {
  type ChipotleClient,
  createChipotleClient,
} from "../../../src/signers/lit/chipotle/client.js";
import type { ChipotleError } from "../../../src/signers/lit/chipotle/http.js";
import { codeOf } from "../../helpers/errors.js";
import { type ChipotleFake, startChipotleFake } from "../../helpers/lit/chipotle-fake.js";

const SIGNS = `async function main(p) {
  const key = await Lit.Actions.getPrivateKey({ pkpId: p.pkpId });
  return { address: new ethers.Wallet(key).address };
}
`;
const THROWS = `async function main() { throw new Error("boom"); }\n`;

async function cidOf(code: string): Promise<string> {
  const mod = (await import("ipfs-only-hash" as string)) as {
    default: { of(s: string): Promise<string> };
  };
  return mod.default.of(code);
}
const hash = (cid: string) => keccak256(toUtf8Bytes(cid));

describe("Chipotle client", () => {
  let fake: ChipotleFake;
  let account: string;
  let sleeps: number[];
  let client: ChipotleClient;

  before(async () => {
    fake = await startChipotleFake();
    account = fake.newAccount();
  });
  after(() => fake.close());

  const fresh = (extra: Parameters<typeof createChipotleClient>[0] | object = {}) => {
    sleeps = [];
    client = createChipotleClient({
      baseUrl: fake.url,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      ...extra,
    });
    return client;
  };

  /** A PKP in a group with exactly one CID, and a usage key that may execute there alone. */
  async function bound(code: string) {
    const c = fresh();
    const pkpId = await c.createWallet(account);
    const groupId = await c.addGroup(account, {
      name: "g",
      description: "",
      pkpIds: [pkpId],
      cidHashes: [hash(await cidOf(code))],
    });
    const usage = await c.addUsageApiKey(account, {
      name: "u",
      description: "",
      executeInGroups: [groupId],
    });
    return { pkpId, groupId, usage };
  }

  it("creates a wallet with the key in X-Api-Key, under /core/v1/ (also when the URL has it)", async () => {
    for (const baseUrl of [fake.url, `${fake.url}/`, `${fake.url}/core/v1/`]) {
      const pkpId = await fresh({ baseUrl }).createWallet(account);
      assert.match(pkpId, /^0x[0-9a-f]{40}$/);
    }
    const last = fake.requests.at(-1);
    assert.deepEqual([last?.method, last?.path, last?.as], ["GET", "create_wallet", "account"]);
    // The fake, like lit-api-server, also takes the key as Authorization: Bearer.
    const bearer = await fetch(`${fake.url}/core/v1/create_wallet`, {
      headers: { authorization: `Bearer ${account}` },
    });
    assert.equal(bearer.status, 200);
  });

  it("sends a group of exactly the PKP and the CID hash, and a usage key with execute rights only", async () => {
    const { groupId } = await bound(SIGNS);
    const group = fake.state.groups.get(groupId);
    assert.equal(group?.pkpIds.size, 1);
    assert.deepEqual([...(group?.cidHashes ?? [])], [BigInt(hash(await cidOf(SIGNS)))]);
    const key = fake.requests.filter((r) => r.path === "add_usage_api_key").at(-1)?.body;
    assert.deepEqual(key, {
      name: "u",
      description: "",
      can_create_groups: false,
      can_delete_groups: false,
      can_create_pkps: false,
      manage_ipfs_ids_in_groups: [],
      add_pkp_to_groups: [],
      remove_pkp_from_groups: [],
      execute_in_groups: [groupId],
    });
  });

  it("lists wallets, and adds a PKP and an action to a group (the server hashes the CID)", async () => {
    const { pkpId, groupId } = await bound(SIGNS);
    const c = fresh();
    const wallets = await c.listWallets(account);
    assert.ok(wallets.some((w) => w.walletAddress === pkpId));
    const second = await c.createWallet(account);
    await c.addPkpToGroup(account, groupId, second);
    await c.addActionToGroup(account, groupId, "QmAnotherAction");
    const group = fake.state.groups.get(groupId);
    assert.ok(group?.pkpIds.has(second));
    assert.ok(group?.cidHashes.has(BigInt(hash("QmAnotherAction"))));
    assert.equal(
      await codeOf(c.addPkpToGroup(account, groupId, `0x${"0".repeat(40)}`)),
      "VALIDATION_FAILED",
    );
    assert.equal(await codeOf(c.addActionToGroup(account, 0, "QmX")), "VALIDATION_FAILED");
  });

  it("runs a permitted action with the usage key; the PKP's key signs inside it", async () => {
    const { pkpId, usage } = await bound(SIGNS);
    const r = await fresh().litAction(usage, { code: SIGNS, jsParams: { pkpId } });
    assert.equal(r.hasError, false);
    assert.equal((r.response as { address: string }).address.toLowerCase(), pkpId);
  });

  it("runs by ipfs_id once the code is cached; a cache miss is a 400 (LIT_REQUEST_REJECTED)", async () => {
    const code = `${SIGNS}// ipfs\n`;
    const { pkpId, usage } = await bound(code);
    const cid = await cidOf(code);
    const miss = fresh().litAction(usage, { ipfsId: cid, jsParams: { pkpId } });
    await assert.rejects(
      miss,
      (e: ChipotleError) => e.code === "LIT_REQUEST_REJECTED" && e.litStatus === 400,
    );
    await client.litAction(usage, { code, jsParams: { pkpId } });
    const hit = await client.litAction(usage, { ipfsId: cid, jsParams: { pkpId } });
    assert.equal((hit.response as { address: string }).address.toLowerCase(), pkpId);
  });

  it("maps 401 (unknown key, no key) to LIT_UNAUTHENTICATED", async () => {
    assert.equal(await codeOf(fresh().createWallet("not-a-key")), "LIT_UNAUTHENTICATED");
    assert.equal(await codeOf(fresh().createWallet("")), "LIT_UNAUTHENTICATED");
  });

  it("maps 402 (no credits) to LIT_NO_CREDITS", async () => {
    const broke = fake.newAccount(0);
    assert.equal(await codeOf(fresh().createWallet(broke)), "LIT_NO_CREDITS");
  });

  it("maps 403 to LIT_NOT_PERMITTED: a usage key may run only its group's CIDs", async () => {
    const { pkpId, usage } = await bound(SIGNS);
    const other = `${SIGNS}// another action\n`;
    const r = fresh().litAction(usage, { code: other, jsParams: { pkpId } });
    await assert.rejects(
      r,
      (e: ChipotleError) => e.code === "LIT_NOT_PERMITTED" && e.litStatus === 403,
    );
  });

  it("refuses getPrivateKey for a PKP outside the action's group: the action throws, 500, LIT_ACTION_FAILED", async () => {
    const { usage } = await bound(SIGNS);
    const stranger = await fresh().createWallet(account);
    const before = fake.state.getPrivateKeyCalls;
    const r = client.litAction(usage, { code: SIGNS, jsParams: { pkpId: stranger } });
    await assert.rejects(
      r,
      (e: ChipotleError) => e.code === "LIT_ACTION_FAILED" && e.litStatus === 500,
    );
    assert.equal(fake.state.getPrivateKeyCalls, before);
  });

  it("maps an action that throws (500) to LIT_ACTION_FAILED, a 500 elsewhere to LIT_UNAVAILABLE", async () => {
    const { usage, groupId } = await bound(THROWS);
    assert.equal(
      await codeOf(fresh().litAction(usage, { code: THROWS, jsParams: {} })),
      "LIT_ACTION_FAILED",
    );
    fake.inject({
      path: "add_action_to_group",
      status: 500,
      body: JSON.stringify("Internal server error."),
    });
    assert.equal(await codeOf(client.addActionToGroup(account, groupId, "Qm")), "LIT_UNAVAILABLE");
  });

  it("retries 429 with exponential backoff, then succeeds", async () => {
    fake.inject({ path: "create_wallet", status: 429, times: 2 });
    const pkpId = await fresh().createWallet(account);
    assert.match(pkpId, /^0x[0-9a-f]{40}$/);
    assert.deepEqual(sleeps, [250, 500]);
  });

  it("gives up on 429 after the bounded retries (LIT_RATE_LIMITED); Retry-After is honoured but capped", async () => {
    fake.inject({ path: "create_wallet", status: 429, times: 4, headers: { "retry-after": "60" } });
    const calls = fake.requests.length;
    assert.equal(
      await codeOf(fresh({ retries: 3, maxBackoffMs: 1000 }).createWallet(account)),
      "LIT_RATE_LIMITED",
    );
    assert.equal(fake.requests.length - calls, 4);
    assert.deepEqual(sleeps, [1000, 1000, 1000]);
  });

  it("reads every error body shape, and keeps the upstream text out of what clients see", async () => {
    const shapes = [
      [JSON.stringify("bare string reason"), "bare string reason"],
      [JSON.stringify({ error: "error field reason" }), "error field reason"],
      [JSON.stringify({ message: "message field reason" }), "message field reason"],
      [catcherBody(), "Forbidden: Forbidden"],
      ["<html>not json</html>", "<html>not json</html>"],
    ] as const;
    for (const [body, text] of shapes) {
      fake.inject({ path: "create_wallet", status: 403, body });
      const err = await fresh()
        .createWallet(account)
        .then(
          () => assert.fail("accepted"),
          (e: unknown) => e as ChipotleError,
        );
      assert.ok(isVaultError(err));
      assert.equal(err.code, "LIT_NOT_PERMITTED");
      assert.equal(err.upstream, text);
      assert.doesNotMatch(JSON.stringify(err.toJSON()), /reason|html/);
    }
  });

  it("maps a malformed success body to LIT_BAD_RESPONSE", async () => {
    for (const body of [
      "not json",
      JSON.stringify({}),
      JSON.stringify({ wallet_address: "0x12" }),
    ]) {
      fake.inject({ path: "create_wallet", status: 200, body });
      assert.equal(await codeOf(fresh().createWallet(account)), "LIT_BAD_RESPONSE");
    }
    fake.inject({ path: "lit_action", status: 200, body: JSON.stringify({ logs: "" }) });
    assert.equal(
      await codeOf(fresh().litAction(account, { code: SIGNS, jsParams: {} })),
      "LIT_BAD_RESPONSE",
    );
    fake.inject({
      path: "add_group",
      status: 200,
      body: JSON.stringify({ success: true, group_id: "zero" }),
    });
    const g = fresh().addGroup(account, { name: "", description: "", pkpIds: [], cidHashes: [] });
    assert.equal(await codeOf(g), "LIT_BAD_RESPONSE");
  });

  it("maps an unreachable server to LIT_UNAVAILABLE", async () => {
    const closed = await startChipotleFake();
    await closed.close();
    assert.equal(
      await codeOf(fresh({ baseUrl: closed.url }).createWallet(account)),
      "LIT_UNAVAILABLE",
    );
  });

  it("refuses Chipotle's wildcards before sending anything; the fake refuses them too", async () => {
    const calls = fake.requests.length;
    const zero = `0x${"0".repeat(64)}`;
    const c = fresh();
    assert.equal(
      await codeOf(
        c.addGroup(account, { name: "", description: "", pkpIds: [], cidHashes: [zero] }),
      ),
      "VALIDATION_FAILED",
    );
    const zeroPkp = `0x${"0".repeat(40)}`;
    assert.equal(
      await codeOf(
        c.addGroup(account, { name: "", description: "", pkpIds: [zeroPkp], cidHashes: [] }),
      ),
      "VALIDATION_FAILED",
    );
    assert.equal(
      await codeOf(c.addUsageApiKey(account, { name: "", description: "", executeInGroups: [0] })),
      "VALIDATION_FAILED",
    );
    assert.equal(fake.requests.length, calls);
    const res = await fetch(`${fake.url}/core/v1/add_usage_api_key`, {
      method: "POST",
      headers: { "X-Api-Key": account, "content-type": "application/json" },
      body: JSON.stringify({
        name: "",
        description: "",
        can_create_groups: false,
        can_delete_groups: false,
        can_create_pkps: false,
        manage_ipfs_ids_in_groups: [],
        add_pkp_to_groups: [],
        remove_pkp_from_groups: [],
        execute_in_groups: [0],
      }),
    });
    assert.equal(res.status, 400);
  });

  it("never puts a key in a message (account or usage key)", async () => {
    fake.inject({ path: "create_wallet", status: 401 });
    const err = (await fresh()
      .createWallet(account)
      .catch((e: unknown) => e)) as ChipotleError;
    assert.ok(!`${err.message} ${err.upstream} ${JSON.stringify(err.toJSON())}`.includes(account));
    assert.ok(!JSON.stringify(fake.requests).includes(account));
  });
});

function catcherBody(): string {
  return JSON.stringify({ error: { code: 403, reason: "Forbidden", description: "Forbidden" } });
}
