/** Prometheus metrics, on a registry of the app's own (no global state between instances). */
import type { FastifyInstance } from "fastify";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Vault } from "../services/vault.js";

export function installMetrics(app: FastifyInstance, vault: Vault): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "agent_vault_" });
  const requests = new Counter({
    name: "agent_vault_http_requests_total",
    help: "HTTP requests by route and status",
    labelNames: ["route", "method", "status"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "agent_vault_http_request_seconds",
    help: "HTTP request latency by route",
    labelNames: ["route"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  new Gauge({
    name: "agent_vault_signer_node_up",
    help: "1 when the signer node answers",
    labelNames: ["cluster", "node"],
    registers: [registry],
    collect() {
      for (const { name, cluster } of vault.clusters.shards) {
        for (const n of cluster.nodes())
          this.set({ cluster: name, node: String(n.index) }, n.up ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: "agent_vault_presig_refill_running",
    help: "1 while presignature pools are being topped up in the background",
    registers: [registry],
    collect() {
      this.set(vault.clusters.refilling() ? 1 : 0);
    },
  });
  new Gauge({
    name: "agent_vault_audit_head_seq",
    help: "Sequence number of the audit chain head",
    registers: [registry],
    async collect() {
      this.set((await vault.audit.head()).seq);
    },
  });
  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    latency.observe({ route }, reply.elapsedTime / 1000);
  });
  return registry;
}
