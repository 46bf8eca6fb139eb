/**
 * The HTTP face of the vault: fastify with JSON schemas, body limits, one error
 * catalogue, front doors as plugins composed per route with @fastify/auth, and the
 * OpenAPI document generated from the same schemas.
 */
import fastifyAuth from "@fastify/auth";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyInstance } from "fastify";
import type { Vault } from "../services/vault.js";
import { apiKeyDoor } from "./auth/apikey.js";
import { installErrorHandling } from "./errors.js";
import { installMetrics } from "./metrics.js";
import { agentRoutes } from "./routes/agents.js";
import { auditRoutes } from "./routes/audit.js";
import { opsRoutes } from "./routes/ops.js";
import { signRoutes } from "./routes/sign.js";

export async function buildApp(
  vault: Vault,
  opts: { logger?: boolean } = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: opts.logger
      ? { level: vault.config.logLevel, redact: ["req.headers.authorization"] }
      : false,
    bodyLimit: vault.config.bodyLimit,
    ajv: {
      customOptions: {
        removeAdditional: false,
        coerceTypes: "array",
        useDefaults: true,
        allErrors: false,
      },
    },
  });
  installErrorHandling(app);
  await app.register(swagger, {
    openapi: {
      info: {
        title: "agent-vault",
        version: "0.1.0",
        description: "Threshold-ECDSA wallets for AI agents",
      },
      components: { securitySchemes: { apiKey: { type: "http", scheme: "bearer" } } },
      security: [{ apiKey: [] }],
    },
  });
  await app.register(fastifyAuth);
  await app.register(apiKeyDoor, { keys: vault.keys });
  const registry = installMetrics(app, vault);
  await app.register(opsRoutes, { vault, registry });
  await app.register(agentRoutes, { vault });
  await app.register(signRoutes, { vault });
  await app.register(auditRoutes, { vault });
  return app;
}
