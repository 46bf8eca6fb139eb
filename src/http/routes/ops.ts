/** Liveness, readiness (a signing quorum is reachable), metrics, clusters' status, OpenAPI. */
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

  // Ready while some cluster can sign: a cluster without a quorum stops only its own agents,
  // so the vault stays in rotation and says which cluster is out. The top-level threshold,
  // up and down describe the home cluster (the only one unless VAULT_CLUSTERS names more).
  app.get("/readyz", { schema: open }, async (_req, reply) => {
    const clusters = vault.clusters.shards.map(({ name, cluster }) => {
      const nodes = cluster.nodes();
      return {
        name,
        ready: cluster.hasQuorum(),
        threshold: { t: cluster.t, n: cluster.n },
        up: nodes.filter((n) => n.up).length,
        down: nodes.filter((n) => !n.up).map((n) => `node-${n.index}`),
      };
    });
    const home = clusters.find((c) => c.name === vault.clusters.home.name);
    const ready = clusters.some((c) => c.ready);
    return reply.status(ready ? 200 : 503).send({
      ready,
      threshold: home?.threshold,
      up: home?.up,
      down: home?.down,
      clusters,
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
      const nodesOf = (cluster: typeof vault.cluster) =>
        cluster.nodes().map((n) => (inside ? n : { index: n.index, up: n.up, since: n.since }));
      const agents = await vault.store.agentsPerCluster();
      const clusters = vault.clusters.shards.map(({ name, cluster }) => ({
        name,
        threshold: { t: cluster.t, n: cluster.n },
        nodes: nodesOf(cluster),
        agents: agents.get(name) ?? 0,
      }));
      return {
        threshold: { t: vault.cluster.t, n: vault.cluster.n },
        nodes: nodesOf(vault.cluster),
        clusterAddress: await vault.checkpoints.clusterAddress(),
        clusters,
      };
    },
  );

  app.get("/openapi.json", { schema: open }, async () => app.swagger());
}
