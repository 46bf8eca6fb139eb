/**
 * The audit log, its verification (local chain, checkpoint signatures, node heads) and
 * checkpoints. Reading needs AUDIT from an API key, an agent token or a presentation; an
 * agent's own credential lists only that agent's entries (an operator's lists every one).
 * Checkpoints and verification reveal no payments, so they may also be sold over x402.
 */
import type { JsonSchemaToTsProvider } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyInstance } from "fastify";
import { clusterFailure } from "../../services/cluster-errors.js";
import type { Vault } from "../../services/vault.js";
import { anyOf } from "../auth/doors.js";
import { principalOf, requireAny } from "../auth/scopes.js";
import { queryIntegers } from "../schemas.js";

export async function auditRoutes(base: FastifyInstance, { vault }: { vault: Vault }) {
  // Request types come from the route schemas (json-schema-to-ts), not from casts.
  const app = base.withTypeProvider<JsonSchemaToTsProvider>();
  const readers = anyOf(app, ["apiKey", "jwt", "vc"]);
  const heads = anyOf(app, ["apiKey", "jwt", "vc", "x402"]);
  const preHandler = [heads.auth, requireAny("AUDIT")];
  const schema = { tags: ["audit"], security: heads.security };

  app.get(
    "/v1/audit",
    {
      preHandler: [readers.auth, requireAny("AUDIT")],
      preValidation: queryIntegers("fromSeq", "limit"),
      schema: {
        tags: ["audit"],
        security: readers.security,
        querystring: {
          type: "object",
          properties: {
            fromSeq: { type: "integer", minimum: 1, default: 1 },
            limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
          },
          additionalProperties: false,
        } as const,
      },
    },
    async (req) => {
      const { fromSeq, limit } = req.query;
      const p = principalOf(req);
      const agentId = p.kind === "agent" && p.agentId ? p.agentId : undefined;
      const entries = await vault.audit.list(fromSeq, limit, agentId);
      return { entries, head: await vault.audit.head(), ...(agentId ? { agentId } : {}) };
    },
  );

  app.get("/v1/audit/verify", { preHandler, config: heads.config, schema }, async () =>
    vault.checkpoints.verifyAll(),
  );

  app.get("/v1/audit/checkpoints", { preHandler, config: heads.config, schema }, async () => ({
    clusterAddress: await vault.checkpoints.clusterAddress(),
    checkpoints: await vault.audit.checkpoints.list(),
  }));

  const admin = anyOf(app, ["apiKey"]);
  app.post(
    "/v1/audit/checkpoints",
    {
      preHandler: [admin.auth, requireAny()],
      schema: { tags: ["audit"], security: admin.security },
    },
    async () => {
      const cp = await vault.checkpoints.checkpoint().catch((err: unknown) => {
        throw clusterFailure(err);
      });
      return { checkpoint: cp ?? (await vault.audit.checkpoints.latest()) ?? null };
    },
  );
}
