/** Liveness, readiness (a signing quorum is reachable), metrics, cluster status, OpenAPI. */
import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import type { Vault } from "../../services/vault.js";
import { requireAny } from "../auth/scopes.js";

export async function opsRoutes(
  app: FastifyInstance,
  { vault, registry }: { vault: Vault; registry: Registry },
) {
  app.get("/healthz", { schema: { tags: ["ops"] } }, async () => ({ ok: true }));

  app.get("/readyz", { schema: { tags: ["ops"] } }, async (_req, reply) => {
    const nodes = vault.cluster.nodes();
    const down = nodes.filter((n) => !n.up).map((n) => `node-${n.index}`);
    const ready = vault.cluster.hasQuorum();
    return reply.status(ready ? 200 : 503).send({
      ready,
      threshold: { t: vault.cluster.t, n: vault.cluster.n },
      up: nodes.filter((n) => n.up).length,
      down,
    });
  });

  app.get("/metrics", { schema: { hide: true } }, async (_req, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  app.get(
    "/v1/cluster",
    {
      // A key with READ or AUDIT, or an x402 payment when VAULT_X402_PRICES prices the route.
      preHandler: [app.auth([app.apiKey, app.x402]), requireAny("READ", "AUDIT")],
      config: { x402: true },
      schema: { tags: ["ops"], security: [{ apiKey: [] }, { x402: [] }] },
    },
    async () => ({
      threshold: { t: vault.cluster.t, n: vault.cluster.n },
      nodes: vault.cluster.nodes(),
      clusterAddress: vault.checkpoints.clusterAddress(),
    }),
  );

  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
}
