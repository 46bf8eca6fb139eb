/** The audit log, its verification (local chain, checkpoint signatures, node heads) and checkpoints. */
import type { FastifyInstance } from "fastify";
import { clusterFailure } from "../../services/cluster-errors.js";
import type { Vault } from "../../services/vault.js";
import { requireAny } from "../auth/scopes.js";

export async function auditRoutes(app: FastifyInstance, { vault }: { vault: Vault }) {
  const preHandler = [app.auth([app.apiKey]), requireAny("AUDIT")];

  app.get(
    "/v1/audit",
    {
      preHandler,
      schema: {
        tags: ["audit"],
        querystring: {
          type: "object",
          properties: {
            fromSeq: { type: "integer", minimum: 1, default: 1 },
            limit: { type: "integer", minimum: 1, maximum: 1000, default: 100 },
          },
          additionalProperties: false,
        },
      },
    },
    async (req) => {
      const { fromSeq, limit } = req.query as { fromSeq: number; limit: number };
      const entries = vault.audit.list(fromSeq, limit);
      return { entries, head: vault.audit.head() };
    },
  );

  app.get("/v1/audit/verify", { preHandler, schema: { tags: ["audit"] } }, async () => {
    const r = await vault.checkpoints.verifyAll();
    return r;
  });

  app.get("/v1/audit/checkpoints", { preHandler, schema: { tags: ["audit"] } }, async () => ({
    clusterAddress: vault.checkpoints.clusterAddress(),
    checkpoints: vault.audit.checkpoints.list(),
  }));

  app.post(
    "/v1/audit/checkpoints",
    { preHandler: [app.auth([app.apiKey]), requireAny()], schema: { tags: ["audit"] } },
    async () => {
      const cp = await vault.checkpoints.checkpoint().catch((err: unknown) => {
        throw clusterFailure(err);
      });
      return { checkpoint: cp ?? vault.audit.checkpoints.latest() ?? null };
    },
  );
}
