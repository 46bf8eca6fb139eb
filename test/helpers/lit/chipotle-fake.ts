/**
 * A fake of Lit's Chipotle REST API (lit-api-server `/core/v1/`) for tests, on
 * 127.0.0.1:0, honouring the published contracts (LIT-Protocol/chipotle,
 * lit-api-server/src/core/v1): paths and methods, request and reply shapes, the key in
 * `X-Api-Key` or `Authorization: Bearer`, group ids as decimal strings, wallet
 * addresses as lower-case hex, error bodies as a bare JSON string (ErrMessage) or
 * Rocket's catcher object for guard failures (401, 402, 429), 403 when the key may not
 * execute the action's CID, 400 on an `ipfs_id` cache miss, 500 when the action throws.
 * Permission rule: `/lit_action` needs a group the key may execute in that holds
 * keccak256(CID text); `Lit.Actions.getPrivateKey({pkpId})` needs such a group that
 * also holds the PKP. The real server treats a zero hash / PKP id / group 0 as a
 * wildcard; this fake refuses them (400), so code that used one fails loudly here.
 * Actions run through run-action.ts's `runChipotleAction` (node:vm, test-only: not a
 * sandbox), with ethers 5.7.2 and `Lit.Actions.getPrivateKey`.
 * API: `const fake = await startChipotleFake(); const key = fake.newAccount()`, then
 * `fake.url`, `fake.inject({path, status, body?, times?, headers?})` to script failures,
 * `fake.requests` (what was called, keys redacted), `fake.state`, `await fake.close()`.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { keccak256, toUtf8Bytes, Wallet } from "ethers";
import { runChipotleAction } from "./run-action.js";

interface Group {
  id: number;
  account: string;
  pkpIds: Set<string>;
  cidHashes: Set<bigint>;
}
interface Injection {
  path: string;
  status: number;
  body?: string;
  headers?: Record<string, string>;
  times: number;
}

const REASONS: Record<number, string> = {
  401: "Unauthorized",
  402: "Payment Required",
  429: "Too Many Requests",
};

/** Rocket's default JSON catcher body, what a failed request guard produces. */
function catcher(status: number): string {
  const reason = REASONS[status] ?? "Error";
  return JSON.stringify({ error: { code: status, reason, description: reason } });
}

const hashOf = (cid: string) => BigInt(keccak256(toUtf8Bytes(cid)));

/** Lit's CID of action code: ipfs-only-hash with default options (untyped package). */
async function cidOf(code: string): Promise<string> {
  const mod = (await import("ipfs-only-hash" as string)) as {
    default: { of(s: string): Promise<string> };
  };
  return mod.default.of(code);
}

export async function startChipotleFake() {
  const state = {
    accounts: new Map<string, { credits: number }>(),
    usageKeys: new Map<string, { account: string; executeInGroups: number[] }>(),
    wallets: new Map<string, { account: string; privateKey: string }>(),
    groups: new Map<number, Group>(),
    cache: new Map<string, string>(),
    getPrivateKeyCalls: 0,
  };
  const injections: Injection[] = [];
  /** What was called, with which kind of key (the keys themselves are not kept). */
  const requests: { method: string; path: string; body: unknown; as: string }[] = [];
  let nextGroup = 1;

  /** The account a key acts for, and whether it is the account key itself. */
  function who(key: string): { account: string; usage?: number[] } | undefined {
    if (state.accounts.has(key)) return { account: key };
    const u = state.usageKeys.get(key);
    return u && { account: u.account, usage: u.executeInGroups };
  }
  function executable(key: string, cidHash: bigint): Group[] {
    const k = who(key);
    if (!k) return [];
    return [...state.groups.values()].filter(
      (g) =>
        g.account === k.account &&
        g.cidHashes.has(cidHash) &&
        (k.usage === undefined || k.usage.includes(g.id)),
    );
  }

  async function route(method: string, path: string, key: string, body: unknown) {
    const k = who(key);
    if (!k) return { status: 401, raw: catcher(401) };
    const b = (body ?? {}) as Record<string, unknown>;
    const billed = path === "create_wallet" || path === "lit_action";
    const account = state.accounts.get(k.account);
    if (billed && account !== undefined) {
      if (account.credits <= 0) return { status: 402, raw: catcher(402) };
      account.credits -= 1;
    }
    const management = k.usage === undefined;
    const fail = (status: number, msg: string) => ({ status, raw: JSON.stringify(msg) });
    const ok = (v: unknown) => ({ status: 200, raw: JSON.stringify(v) });
    const isList = (v: unknown) => Array.isArray(v);

    if (method === "GET" && path === "create_wallet") {
      if (!management) return fail(403, "Forbidden: key cannot create PKPs");
      const w = Wallet.createRandom();
      state.wallets.set(w.address.toLowerCase(), { account: k.account, privateKey: w.privateKey });
      return ok({ wallet_address: w.address.toLowerCase() });
    }
    if (method === "GET" && path === "list_wallets") {
      return ok(
        [...state.wallets.entries()]
          .filter(([, w]) => w.account === k.account)
          .map(([a]) => ({
            id: keccak256(a),
            name: "Wallet",
            description: "Wallet",
            wallet_address: a,
          })),
      );
    }
    if (method !== "POST") return fail(404, "Not Found");
    if (path === "add_group") {
      if (!management) return fail(403, "Forbidden: key cannot create groups");
      const {
        group_name,
        group_description,
        pkp_ids_permitted: pkps,
        cid_hashes_permitted: cids,
      } = b;
      if (
        typeof group_name !== "string" ||
        typeof group_description !== "string" ||
        !isList(pkps) ||
        !isList(cids)
      ) {
        return fail(400, "Bad Request: malformed add_group body");
      }
      const pkpIds = (pkps as unknown[]).map((p) => String(p).toLowerCase());
      const hashes = (cids as unknown[]).map((h) => BigInt(String(h)));
      if (pkpIds.some((p) => BigInt(p) === 0n) || hashes.some((h) => h === 0n)) {
        return fail(400, "fake: wildcard group entries are refused");
      }
      if (pkpIds.some((p) => state.wallets.get(p)?.account !== k.account)) {
        return fail(400, "add_group failed: unknown PKP");
      }
      const id = nextGroup++;
      state.groups.set(id, {
        id,
        account: k.account,
        pkpIds: new Set(pkpIds),
        cidHashes: new Set(hashes),
      });
      return ok({ success: true, group_id: String(id) });
    }
    if (path === "add_action_to_group" || path === "add_pkp_to_group") {
      const g = state.groups.get(Number(b.group_id));
      if (!management || g?.account !== k.account) return fail(403, "Forbidden: not your group");
      if (path === "add_pkp_to_group") g.pkpIds.add(String(b.pkp_id).toLowerCase());
      else g.cidHashes.add(hashOf(String(b.action_ipfs_cid)));
      return ok({ success: true });
    }
    if (path === "add_usage_api_key") {
      if (!management) return fail(403, "Forbidden: key cannot add keys");
      const groups = b.execute_in_groups;
      const lists = ["manage_ipfs_ids_in_groups", "add_pkp_to_groups", "remove_pkp_from_groups"];
      if (!isList(groups) || lists.some((l) => !isList(b[l])) || typeof b.name !== "string") {
        return fail(400, "Bad Request: malformed add_usage_api_key body");
      }
      const ids = (groups as unknown[]).map(Number);
      if (ids.some((g) => g === 0) || lists.some((l) => (b[l] as unknown[]).includes(0))) {
        return fail(400, "fake: wildcard group 0 is refused");
      }
      if (ids.some((g) => state.groups.get(g)?.account !== k.account)) {
        return fail(500, "add_usage_api_key failed: unknown group");
      }
      const usage = randomBytes(32).toString("base64");
      state.usageKeys.set(usage, { account: k.account, executeInGroups: ids });
      return ok({ success: true, usage_api_key: usage });
    }
    if (path === "remove_usage_api_key") {
      if (!management) return fail(403, "Forbidden");
      state.usageKeys.delete(String(b.usage_api_key));
      return ok({ success: true });
    }
    if (path === "lit_action") return litAction(key, b);
    return fail(404, "Not Found");
  }

  async function litAction(key: string, b: Record<string, unknown>) {
    const fail = (status: number, msg: string) => ({ status, raw: JSON.stringify(msg) });
    let code: string;
    let cid: string;
    if (typeof b.code === "string" && b.code !== "") {
      code = b.code;
      cid = await cidOf(code);
    } else if (typeof b.ipfs_id === "string" && b.ipfs_id !== "") {
      const cached = state.cache.get(b.ipfs_id);
      if (cached === undefined)
        return fail(
          400,
          "No cached code found. Submit the action code at least once before referencing it by IPFS ID.: cache miss",
        );
      code = cached;
      cid = b.ipfs_id;
    } else {
      return fail(400, "Either `code` or `ipfs_id` must be provided.");
    }
    const cidHash = hashOf(cid);
    if (executable(key, cidHash).length === 0) {
      return fail(
        403,
        `The provided API key is not authorized to execute the specified action (${cid}).`,
      );
    }
    state.cache.set(cid, code);
    const getPrivateKey = async ({ pkpId }: { pkpId: string }) => {
      const id = String(pkpId).toLowerCase();
      if (!executable(key, cidHash).some((g) => g.pkpIds.has(id))) {
        throw new Error(`pkp ${id} is not in a group with action ${cid}`);
      }
      state.getPrivateKeyCalls += 1;
      const w = state.wallets.get(id);
      if (!w) throw new Error("unknown pkp");
      return w.privateKey;
    };
    const params = (b.js_params ?? {}) as Record<string, unknown>;
    const run = await runChipotleAction(code, { jsParams: params, getPrivateKey });
    if (run.error !== undefined) {
      return fail(500, `Internal server error.: Actions failed with : ${run.error}`);
    }
    // Chipotle JSON-parses the response when it can (core_features.rs); run-action already
    // round-tripped main's value through JSON.
    let response: unknown = run.response ?? null;
    if (typeof response === "string") {
      try {
        response = JSON.parse(response);
      } catch {
        // a plain string stays a string
      }
    }
    return { status: 200, raw: JSON.stringify({ response, logs: run.logs, has_error: false }) };
  }

  async function handle(req: IncomingMessage, res: ServerResponse) {
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname.replace(/^\/core\/v1\//, "");
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: unknown;
    try {
      body = text === "" ? undefined : JSON.parse(text);
    } catch {
      res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify("Bad Request"));
      return;
    }
    const logged =
      body !== null && typeof body === "object" && "usage_api_key" in body
        ? { ...body, usage_api_key: "<redacted>" }
        : body;
    const bearer = /^bearer\s+(\S+)/i.exec(req.headers.authorization ?? "")?.[1];
    const key = bearer ?? String(req.headers["x-api-key"] ?? "").trim();
    const as = state.accounts.has(key) ? "account" : state.usageKeys.has(key) ? "usage" : "none";
    requests.push({ method: req.method ?? "", path, body: logged, as });
    const injected = injections.find((i) => i.path === path && i.times > 0);
    if (injected) {
      injected.times -= 1;
      res.writeHead(injected.status, { "content-type": "application/json", ...injected.headers });
      res.end(injected.body ?? catcher(injected.status));
      return;
    }
    const out = !url.pathname.startsWith("/core/v1/")
      ? { status: 404, raw: JSON.stringify("Not Found") }
      : await route(req.method ?? "", path, key, body);
    res.writeHead(out.status, { "content-type": "application/json" }).end(out.raw);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err) => res.writeHead(500).end(JSON.stringify(String(err))));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    state,
    requests,
    newAccount(credits = Number.POSITIVE_INFINITY): string {
      const key = randomBytes(32).toString("base64");
      state.accounts.set(key, { credits });
      return key;
    },
    inject(i: Omit<Injection, "times"> & { times?: number }): void {
      injections.push({ ...i, times: i.times ?? 1 });
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

export type ChipotleFake = Awaited<ReturnType<typeof startChipotleFake>>;
