/** Liveness, readiness (a signing quorum is reachable), metrics, cluster status, OpenAPI. */
import type { FastifyInstance } from "fastify";
import type { Registry } from "prom-client";
import type { Vault } from "../../services/vault.js";
import { anyOf } from "../auth/doors.js";
import { principalOf, requireAny } from "../auth/scopes.js";

export async function opsRoutes(
  app: FastifyInstance,
  { vault, registry }: { vault: Vault; registry: Registry },
) {
  // Public: no credentials, declared as `security: []` in the OpenAPI document.
  const open = { tags: ["ops"], security: [] };
  app.get("/healthz", { schema: open }, async () => ({ ok: true }));

  app.get("/readyz", { schema: open }, async (_req, reply) => {
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

  app.get("/metrics", { schema: open }, async (_req, reply) => {
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  // A credential with READ or AUDIT, or an x402 payment when VAULT_X402_PRICES prices it.
  const doors = anyOf(app, ["apiKey", "jwt", "vc", "x402"]);
  app.get(
    "/v1/cluster",
    {
      preHandler: [doors.auth, requireAny("READ", "AUDIT")],
      config: doors.config,
      schema: { tags: ["ops"], security: doors.security },
    },
    async (req) => {
      // Node addresses and connection errors are the operator's business only: agents and
      // x402 payers see each node's index, state and since when.
      const p = principalOf(req);
      const inside = p.kind === "operator" && p.via !== "x402";
      const nodes = vault.cluster
        .nodes()
        .map((n) => (inside ? n : { index: n.index, up: n.up, since: n.since }));
      return {
        threshold: { t: vault.cluster.t, n: vault.cluster.n },
        nodes,
        clusterAddress: vault.checkpoints.clusterAddress(),
      };
    },
  );

  app.get("/openapi.json", { schema: open }, async () => app.swagger());
}
