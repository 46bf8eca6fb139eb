/**
 * The "lit-chipotle" signer backend: an agent's key is a PKP on Lit's Chipotle network
 * (keys held in Lit's TEE, not split across nodes), usable only by the pinned policy
 * action. Creating an agent (issue 10, "Required" 2):
 *   1. GET /create_wallet                      → the PKP id (its wallet address);
 *   2. POST /add_group with exactly [keccak256(CID text)] and [pkpId]: Chipotle lets
 *      `Lit.Actions.getPrivateKey({pkpId})` succeed only for an action whose CID hash
 *      shares a group with the PKP (lit-api-server, AccountConfig.sol Group);
 *   3. POST /add_usage_api_key with execute rights on that group alone.
 * The account key (LIT_CHIPOTLE_API_KEY_FILE) serves these management calls only;
 * signing goes through the group's usage key, which lives in this process's memory and
 * nowhere else: after a restart the backend mints a fresh one for the group on first
 * use (one management call), and `close()` removes the ones it minted. A lost usage key
 * is unrecoverable by anyone, so no secret of the agent's is ever at rest in the vault.
 * Signing: POST /lit_action {ipfs_id, js_params}; the server runs the code it cached
 * under that CID, and on a cache miss (400) the backend sends the code once.
 */
import { getAddress, keccak256, toUtf8Bytes } from "ethers";
import { VaultError } from "../../../errors/index.js";
import type {
  BackendSignature,
  BackendSignRequest,
  CreatedKey,
  SignerBackend,
} from "../../backend.js";
import { type ChipotleClient, type ChipotleClientOptions, createChipotleClient } from "./client.js";
import { ChipotleError } from "./http.js";
import { readActionResult } from "./result.js";

const CLOSE_TIMEOUT_MS = 5000;

export interface ChipotleBackendConfig extends ChipotleClientOptions {
  /** The account API key, read from LIT_CHIPOTLE_API_KEY_FILE: management calls only. */
  apiKey: string;
  /** The built Chipotle policy action for this operator (its authority key baked in). */
  loadAction: () => Promise<{ code: string; cid: string }>;
  /** Operator log lines (ids and CIDs only, never a key). */
  log?: (line: string) => void;
}

/** keccak256 of the CID's text, as Chipotle stores action permissions (parse_with_hash.rs). */
export function cidHash(cid: string): string {
  return keccak256(toUtf8Bytes(cid));
}

export function createChipotleBackend(config: ChipotleBackendConfig): SignerBackend {
  const client: ChipotleClient = createChipotleClient(config);
  const accountKey = config.apiKey;
  let action: Promise<{ code: string; cid: string }> | undefined;
  const loadAction = () => {
    action ??= config.loadAction().catch((err) => {
      action = undefined;
      throw err;
    });
    return action;
  };
  /** groupId → usage key (in memory only), minted on first use after a restart. */
  const usageKeys = new Map<number, Promise<string>>();
  const usageKey = (groupId: number, agentId: string): Promise<string> => {
    let key = usageKeys.get(groupId);
    if (key === undefined) {
      config.log?.(`chipotle: minting a usage key for group ${groupId} (agent ${agentId})`);
      key = client.addUsageApiKey(accountKey, {
        name: `agent-vault ${agentId}`,
        description: `agent-vault: execute the policy action for agent ${agentId} only`,
        executeInGroups: [groupId],
      });
      key.catch(() => usageKeys.delete(groupId));
      usageKeys.set(groupId, key);
    }
    return key;
  };

  async function runAction(key: string, jsParams: unknown) {
    const { code, cid } = await loadAction();
    try {
      return await client.litAction(key, { ipfsId: cid, jsParams });
    } catch (err) {
      // 400 on an ipfs_id alone is the server's cache miss: send the code itself once.
      if (err instanceof ChipotleError && err.litStatus === 400) {
        return client.litAction(key, { code, ipfsId: cid, jsParams });
      }
      throw err;
    }
  }

  return {
    name: "lit-chipotle",

    async createKey(input): Promise<CreatedKey & { policyAuthorization?: string }> {
      const { cid } = await loadAction();
      // Checksummed, so the vault, the authorization and the action all name it alike.
      const pkpId = getAddress(await client.createWallet(accountKey));
      input.onProgress?.(`chipotle: wallet ${pkpId}`);
      const groupId = await client.addGroup(accountKey, {
        name: `agent-vault ${input.agentId}`,
        description: `agent-vault: PKP ${pkpId} with policy action ${cid}, nothing else`,
        pkpIds: [pkpId],
        cidHashes: [cidHash(cid)],
      });
      input.onProgress?.(`chipotle: group ${groupId} binds ${pkpId} to ${cid}`);
      await usageKey(groupId, input.agentId);
      input.onProgress?.(`chipotle: usage key with execute rights on group ${groupId} only`);
      const policyAuthorization =
        input.policy === undefined
          ? undefined
          : input.authorize({
              op: "lit.policy",
              agentId: input.agentId,
              address: pkpId,
              version: input.policy.version,
              policy: input.policy.policy,
            });
      // Chipotle's REST API never reveals a PKP's public key; the address is its identity.
      return {
        address: pkpId,
        publicKey: "",
        pkp: { pkpId, publicKey: "", actionCid: cid, groupId: String(groupId) },
        ...(policyAuthorization === undefined ? {} : { policyAuthorization }),
      };
    },

    async setPolicy(input) {
      // The action verifies the authorization with the key baked into it: no Lit call.
      const authorization = input.authorize({
        op: "lit.policy",
        agentId: input.agentId,
        address: input.address,
        version: input.version,
        policy: input.policy,
      });
      return { authorization };
    },

    async signDigest(req: BackendSignRequest): Promise<BackendSignature> {
      const { pkp, policy } = req;
      if (pkp?.pkpId === undefined || pkp.groupId === undefined || policy === undefined) {
        throw new VaultError(
          "INTERNAL",
          "a lit-chipotle signature needs the agent's pkp and policy",
        );
      }
      const { cid } = await loadAction();
      if (pkp.actionCid !== cid) {
        // The agent's group permits another action (an older build): refuse, say why.
        throw new VaultError(
          "LIT_NOT_PERMITTED",
          "the agent's PKP is bound to another action CID",
          {
            actionCid: pkp.actionCid,
          },
        );
      }
      const groupId = Number(pkp.groupId);
      const jsParams = {
        pkpId: pkp.pkpId,
        request: { agentId: req.agentId, intent: req.intent, digest: req.digest, policy },
      };
      const key = await usageKey(groupId, req.agentId);
      let result: Awaited<ReturnType<typeof runAction>>;
      try {
        result = await runAction(key, jsParams);
      } catch (err) {
        // A usage key the server no longer knows: forget it so the next call mints another.
        if (err instanceof ChipotleError && err.code === "LIT_UNAUTHENTICATED") {
          usageKeys.delete(groupId);
        }
        throw err;
      }
      if (result.hasError) throw new ChipotleError("LIT_ACTION_FAILED", 200, result.logs);
      const signature = readActionResult(result.response, {
        digest: req.digest,
        address: req.address,
      });
      return { signature, signers: cid };
    },

    async close() {
      const minted = [...usageKeys.values()];
      usageKeys.clear();
      // Best effort, and never holding a shutdown up for long: a key left behind is
      // known to no one once this process is gone.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled(minted.map(async (k) => client.removeUsageApiKey(accountKey, await k))),
        new Promise((r) => {
          timer = setTimeout(r, CLOSE_TIMEOUT_MS);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}
