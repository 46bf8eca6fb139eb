/**
 * Verifiable credentials: the one-time challenge a presentation must carry, and the
 * credential the vault issues each agent (its DID bound to its vault address).
 */
import type { JsonSchemaToTsProvider } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyInstance } from "fastify";
import type { Vault } from "../../services/vault.js";
import { anyOf } from "../auth/doors.js";
import {
  actorOf,
  assertAgentAccess,
  principalOf,
  requireAdmin,
  requireAny,
} from "../auth/scopes.js";
import { agentIdParams } from "../schemas.js";

export async function vcRoutes(base: FastifyInstance, { vault }: { vault: Vault }) {
  // Request types come from the route schemas (json-schema-to-ts), not from casts.
  const app = base.withTypeProvider<JsonSchemaToTsProvider>();
  app.get(
    "/v1/auth/challenge",
    { schema: { tags: ["credentials"], security: [] } },
    async (_req, reply) => {
      void reply.header("cache-control", "no-store");
      return { ...(await vault.credentials.challenge()), verifier: vault.credentials.did };
    },
  );

  // Third parties checking an agent's provenance may pay for it when the route is priced.
  const doors = anyOf(app, ["apiKey", "jwt", "vc", "x402"]);
  app.get(
    "/v1/agents/:id/credential",
    {
      preHandler: [doors.auth, requireAny("READ")],
      config: doors.config,
      schema: { tags: ["credentials"], params: agentIdParams, security: doors.security },
    },
    async (req) => {
      const { id } = req.params;
      assertAgentAccess(req, id);
      const agent = await vault.agents.get(id);
      return vault.credentials.agentCredential({ id: agent.id, address: agent.address });
    },
  );

  // Revoking a holder DID (every presentation it makes) or a credential id, pushed to other
  // vaults like every revocation (audit entry credential.revoked → its event).
  const operator = anyOf(app, ["apiKey"]);
  app.delete(
    "/v1/credentials/:id",
    {
      preHandler: [operator.auth, requireAdmin()],
      schema: {
        tags: ["credentials"],
        security: operator.security,
        params: {
          type: "object",
          properties: { id: { type: "string", minLength: 1, maxLength: 512 } },
          required: ["id"],
        } as const,
      },
    },
    async (req) => {
      const { id } = req.params;
      const actor = actorOf(principalOf(req));
      // The revocation and its audit entry (so its event) commit together.
      const revoked = await vault.store.sql.transaction(async () => {
        const fresh = await vault.credentials.revoke(id, actor);
        if (fresh) await vault.audit.append({ type: "credential.revoked", actor, data: { id } });
        return fresh;
      });
      return { id, revoked };
    },
  );
}
