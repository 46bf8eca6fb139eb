/**
 * A small typed client for Lit's Chipotle REST API (`/core/v1/`), written from the
 * server's published request/response models (LIT-Protocol/chipotle,
 * lit-api-server/src/core/v1/models/{request,response}.rs): no npm package speaks it.
 * Every reply is checked against the documented shape; a reply that does not match is
 * LIT_BAD_RESPONSE. The client refuses Chipotle's wildcards (a zero CID hash or PKP id
 * in a group, group 0 in a usage key's rights): with them any code could read a key.
 */
import { VaultError } from "../../../errors/index.js";
import { ChipotleError, type ChipotleHttpOptions, createCall } from "./http.js";

export type ChipotleClientOptions = ChipotleHttpOptions;

export interface LitActionResult {
  /** main's return value; Chipotle JSON-parses it when it can, else the raw string. */
  response: unknown;
  logs: string;
  hasError: boolean;
}

export interface WalletItem {
  id: string;
  name: string;
  description: string;
  walletAddress: string;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const HASH = /^0x[0-9a-fA-F]{64}$/;

function bad(what: string): never {
  throw new ChipotleError("LIT_BAD_RESPONSE", 200, what);
}

function field(body: unknown, name: string): unknown {
  return body !== null && typeof body === "object"
    ? (body as Record<string, unknown>)[name]
    : undefined;
}

function stringField(body: unknown, name: string, call: string): string {
  const v = field(body, name);
  if (typeof v !== "string" || v === "") bad(`${call}: missing ${name}`);
  return v;
}

function refuseWildcard(ok: boolean, what: string): void {
  if (!ok) throw new VaultError("VALIDATION_FAILED", `refusing a Chipotle wildcard: ${what}`);
}

/** A group id as Chipotle returns it: a decimal (or 0x) string; requests take a u64 number. */
export function parseGroupId(raw: string): number {
  const n = /^0x[0-9a-f]+$/i.test(raw) ? Number.parseInt(raw, 16) : Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) bad(`unusable group_id ${raw.slice(0, 40)}`);
  return n;
}

export function createChipotleClient(options: ChipotleClientOptions) {
  const call = createCall(options);
  return {
    /** GET /create_wallet → the new PKP's id (its wallet address). Billed. */
    async createWallet(accountKey: string): Promise<string> {
      const address = stringField(
        await call("GET", "create_wallet", accountKey),
        "wallet_address",
        "create_wallet",
      );
      if (!ADDRESS.test(address)) bad("create_wallet: wallet_address is not an address");
      return address;
    },

    async listWallets(accountKey: string, page = 0, size = 100): Promise<WalletItem[]> {
      const body = await call(
        "GET",
        `list_wallets?page_number=${page}&page_size=${size}`,
        accountKey,
      );
      if (!Array.isArray(body)) bad("list_wallets: not an array");
      return body.map((item) => ({
        id: stringField(item, "id", "list_wallets"),
        name: String(field(item, "name") ?? ""),
        description: String(field(item, "description") ?? ""),
        walletAddress: stringField(item, "wallet_address", "list_wallets"),
      }));
    },

    /** POST /add_group: a group permitting exactly these PKPs and CID hashes. */
    async addGroup(
      accountKey: string,
      group: { name: string; description: string; pkpIds: string[]; cidHashes: string[] },
    ): Promise<number> {
      for (const id of group.pkpIds) refuseWildcard(ADDRESS.test(id) && BigInt(id) !== 0n, id);
      for (const h of group.cidHashes) refuseWildcard(HASH.test(h) && BigInt(h) !== 0n, h);
      const body = await call("POST", "add_group", accountKey, {
        group_name: group.name,
        group_description: group.description,
        pkp_ids_permitted: group.pkpIds,
        cid_hashes_permitted: group.cidHashes,
      });
      if (field(body, "success") !== true) bad("add_group: success is not true");
      return parseGroupId(stringField(body, "group_id", "add_group"));
    },

    async addActionToGroup(accountKey: string, groupId: number, cid: string): Promise<void> {
      refuseWildcard(groupId > 0, "group 0");
      const body = await call("POST", "add_action_to_group", accountKey, {
        group_id: groupId,
        action_ipfs_cid: cid,
      });
      if (field(body, "success") !== true) bad("add_action_to_group: success is not true");
    },

    async addPkpToGroup(accountKey: string, groupId: number, pkpId: string): Promise<void> {
      refuseWildcard(groupId > 0 && ADDRESS.test(pkpId) && BigInt(pkpId) !== 0n, pkpId);
      const body = await call("POST", "add_pkp_to_group", accountKey, {
        group_id: groupId,
        pkp_id: pkpId,
      });
      if (field(body, "success") !== true) bad("add_pkp_to_group: success is not true");
    },

    /** POST /add_usage_api_key: a key that may execute in these groups and do nothing else. */
    async addUsageApiKey(
      accountKey: string,
      key: { name: string; description: string; executeInGroups: number[] },
    ): Promise<string> {
      for (const g of key.executeInGroups) refuseWildcard(g > 0, "group 0");
      const body = await call("POST", "add_usage_api_key", accountKey, {
        name: key.name,
        description: key.description,
        can_create_groups: false,
        can_delete_groups: false,
        can_create_pkps: false,
        manage_ipfs_ids_in_groups: [],
        add_pkp_to_groups: [],
        remove_pkp_from_groups: [],
        execute_in_groups: key.executeInGroups,
      });
      if (field(body, "success") !== true) bad("add_usage_api_key: success is not true");
      return stringField(body, "usage_api_key", "add_usage_api_key");
    },

    async removeUsageApiKey(accountKey: string, usageKey: string): Promise<void> {
      await call("POST", "remove_usage_api_key", accountKey, { usage_api_key: usageKey });
    },

    /**
     * POST /lit_action with `code` or `ipfs_id` (the server runs the code it cached under
     * that CID, or answers 400 on a cache miss) and `js_params`, passed to `main`.
     */
    async litAction(
      key: string,
      req: { code?: string; ipfsId?: string; jsParams: unknown },
    ): Promise<LitActionResult> {
      const body = await call("POST", "lit_action", key, {
        ...(req.code === undefined ? {} : { code: req.code }),
        ...(req.ipfsId === undefined ? {} : { ipfs_id: req.ipfsId }),
        js_params: req.jsParams,
      });
      const hasError = field(body, "has_error");
      const logs = field(body, "logs");
      if (!(body !== null && typeof body === "object" && "response" in body)) {
        bad("lit_action: no response field");
      }
      if (typeof hasError !== "boolean") bad("lit_action: has_error is not a boolean");
      return {
        response: field(body, "response"),
        logs: typeof logs === "string" ? logs : "",
        hasError,
      };
    },
  };
}

export type ChipotleClient = ReturnType<typeof createChipotleClient>;
