/**
 * Agents, their policies and their API keys. An agent is created on a signer backend
 * (issue 10: "local", "lit-v7", "lit-chipotle"; default VAULT_DEFAULT_BACKEND), and its view
 * shows the backend and, for Lit, the PKP.
 */
import type { JsonSchemaToTsProvider } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyInstance } from "fastify";
import { parseScopes } from "../../auth/apikey/index.js";
import { VaultError } from "../../errors/index.js";
import type { Vault } from "../../services/vault.js";
import { BACKEND_NAMES } from "../../signers/backend.js";
import { bearer } from "../auth/apikey.js";
import { anyOf } from "../auth/doors.js";
import {
  actorOf,
  assertAgentAccess,
  principalOf,
  requireAdmin,
  requireAny,
} from "../auth/scopes.js";
import { agentIdParams } from "../schemas.js";

const agentView = {
  type: "object",
  properties: {
    id: { type: "string" },
    name: { type: "string" },
    address: { type: "string" },
    publicKey: { type: "string" },
    backend: { type: "string", enum: [...BACKEND_NAMES] },
    pkp: {
      type: "object",
      description: "Lit agents only: how the PKP is held and the Lit Action CID it is bound to.",
      properties: {
        tokenId: { type: "string", description: "lit-v7: the PKP NFT token id." },
        pkpId: { type: "string", description: "lit-chipotle: the wallet id." },
        publicKey: { type: "string" },
        actionCid: { type: "string" },
        groupId: { type: "string", description: "lit-chipotle: the group binding PKP and CID." },
      },
    },
    cluster: {
      type: "string",
      description: "Local agents only: the signer cluster holding the key (VAULT_CLUSTERS).",
    },
    threshold: {
      type: "object",
      description: "Local agents only: the signer cluster's t-of-n.",
      properties: { t: { type: "integer" }, n: { type: "integer" } },
    },
    policyVersion: { type: "integer" },
    policy: { type: ["object", "null"], additionalProperties: true },
    createdAt: { type: "string" },
  },
};

/** The admin key itself (not a key with ADMIN scope) authorizes what nodes must honour. */
function adminSecret(req: Parameters<typeof bearer>[0]): string {
  const p = principalOf(req);
  const secret = bearer(req);
  if (p.keyId !== "admin" || !secret) {
    throw new VaultError(
      "FORBIDDEN_SCOPE",
      "creating agents and changing policies needs the operator's admin key",
    );
  }
  return secret;
}

const scopesBody = {
  type: "object",
  properties: { scopes: { type: "array", items: { type: "string" }, minItems: 1, maxItems: 6 } },
  required: ["scopes"],
  additionalProperties: false,
} as const;

export async function agentRoutes(base: FastifyInstance, { vault }: { vault: Vault }) {
  // Request types come from the route schemas (json-schema-to-ts), not from casts.
  const app = base.withTypeProvider<JsonSchemaToTsProvider>();
  const apiKey = anyOf(app, ["apiKey"]);
  const auth = apiKey.auth;
  // Reading an agent: an API key, an agent token or a presentation.
  const agentDoors = anyOf(app, ["apiKey", "jwt", "vc"]);

  app.post(
    "/v1/agents",
    {
      preHandler: [auth, requireAdmin()],
      schema: {
        tags: ["agents"],
        security: apiKey.security,
        body: {
          type: "object",
          properties: {
            name: { type: "string", minLength: 1, maxLength: 100 },
            policy: { type: "object" },
            backend: {
              type: "string",
              enum: BACKEND_NAMES,
              description: "Signer backend; default: the vault's VAULT_DEFAULT_BACKEND.",
            },
            cluster: {
              type: "string",
              minLength: 1,
              maxLength: 16,
              description:
                "Local agents: the signer cluster to hold the key; default: the least loaded.",
            },
          },
          required: ["name"],
          additionalProperties: false,
        } as const,
        response: { 201: agentView },
      },
    },
    async (req, reply) => {
      const agent = await vault.agents.create(
        req.body,
        adminSecret(req),
        actorOf(principalOf(req)),
      );
      return reply.status(201).send(agent);
    },
  );

  app.get(
    "/v1/agents",
    {
      preHandler: [agentDoors.auth, requireAny("READ")],
      schema: { tags: ["agents"], security: agentDoors.security },
    },
    async (req) => {
      const p = principalOf(req);
      const all = await vault.agents.list();
      return { agents: p.kind === "agent" ? all.filter((a) => a.id === p.agentId) : all };
    },
  );

  app.get(
    "/v1/agents/:id",
    {
      preHandler: [agentDoors.auth, requireAny("READ")],
      schema: {
        tags: ["agents"],
        params: agentIdParams,
        response: { 200: agentView },
        security: agentDoors.security,
      },
    },
    async (req) => {
      const { id } = req.params;
      assertAgentAccess(req, id);
      return await vault.agents.get(id);
    },
  );

  app.put(
    "/v1/agents/:id/policy",
    {
      preHandler: [auth, requireAdmin()],
      schema: {
        tags: ["agents"],
        security: apiKey.security,
        params: agentIdParams,
        body: {
          type: "object",
          properties: { policy: { type: "object" } },
          required: ["policy"],
          additionalProperties: false,
        } as const,
      },
    },
    async (req) => {
      const { id } = req.params;
      const { policy } = req.body;
      return await vault.agents.setPolicy(id, policy, adminSecret(req), actorOf(principalOf(req)));
    },
  );

  app.post(
    "/v1/agents/:id/keys",
    {
      preHandler: [auth, requireAny("WRITE")],
      schema: {
        tags: ["keys"],
        security: apiKey.security,
        params: agentIdParams,
        body: scopesBody,
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const p = assertAgentAccess(req, id);
      await vault.agents.get(id); // 404 for an unknown agent
      const scopes = parseScopes(req.body.scopes);
      // Below ADMIN a key with WRITE mints narrower keys, never wider ones (an agent key only
      // for its own agent); revoking it later revokes what it minted.
      if (!p.scopes.has("ADMIN") && scopes.some((s) => !p.scopes.has(s))) {
        throw new VaultError(
          "FORBIDDEN_SCOPE",
          "a key can only issue keys with a subset of its own scopes",
        );
      }
      return reply.status(201).send(await vault.keys.issue(id, scopes, actorOf(p), p.keyId));
    },
  );

  app.post(
    "/v1/keys",
    {
      preHandler: [auth, requireAdmin()],
      schema: {
        tags: ["keys"],
        security: apiKey.security,
        body: scopesBody,
      },
    },
    async (req, reply) => {
      const scopes = parseScopes(req.body.scopes);
      const p = principalOf(req);
      return reply.status(201).send(await vault.keys.issue(null, scopes, actorOf(p), p.keyId));
    },
  );

  app.delete(
    "/v1/keys/:keyId",
    {
      preHandler: [auth, requireAny("WRITE")],
      schema: {
        tags: ["keys"],
        security: apiKey.security,
        params: {
          type: "object",
          properties: { keyId: { type: "string", maxLength: 64 } },
          required: ["keyId"],
        } as const,
      },
    },
    async (req) => {
      const { keyId } = req.params;
      const key = await vault.keys.get(keyId);
      const p = principalOf(req);
      if (!p.scopes.has("ADMIN") && (p.kind !== "agent" || key.agentId !== p.agentId)) {
        throw new VaultError("FORBIDDEN_AGENT");
      }
      const revoked = await vault.keys.revoke(keyId, actorOf(p));
      return { keyId, revoked: true, alsoRevoked: revoked.filter((k) => k !== keyId) };
    },
  );
}
