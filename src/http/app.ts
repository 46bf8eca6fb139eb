/**
 * The HTTP face of the vault: fastify with JSON schemas, body limits, one error
 * catalogue, front doors as plugins composed per route with @fastify/auth, and the
 * OpenAPI document generated from the same schemas.
 */
import { readFileSync } from "node:fs";
import fastifyAuth from "@fastify/auth";
import swagger from "@fastify/swagger";
import Fastify, { type FastifyInstance } from "fastify";
import type { Vault } from "../services/vault.js";
import { apiKeyDoor } from "./auth/apikey.js";
import { delegationDoor } from "./auth/delegation.js";
import { jwtDoor } from "./auth/jwt.js";
import { vcDoor } from "./auth/vc.js";
import { x402Door } from "./auth/x402.js";
import { installJsonBody } from "./body.js";
import { installErrorHandling } from "./errors.js";
import { installMetrics } from "./metrics.js";
import { agentRoutes } from "./routes/agents.js";
import { auditRoutes } from "./routes/audit.js";
import { delegationRoutes } from "./routes/delegations.js";
import { eventRoutes } from "./routes/events.js";
import { federationRoutes } from "./routes/federation.js";
import { opsRoutes } from "./routes/ops.js";
import { proofRoutes } from "./routes/proofs.js";
import { signRoutes } from "./routes/sign.js";
import { tokenRoutes } from "./routes/tokens.js";
import { vcRoutes } from "./routes/vc.js";
import { x402Routes } from "./routes/x402.js";

export async function buildApp(
  vault: Vault,
  opts: { logger?: boolean } = {},
): Promise<FastifyInstance> {
  const tls = vault.config.tls;
  const app = Fastify({
    // HTTPS when configured: an operator's did:web document must be served over TLS.
    ...(tls ? { https: { cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) } } : {}),
    logger: opts.logger
      ? {
          level: vault.config.logLevel,
          redact: ["req.headers.authorization", 'req.headers["payment-signature"]'],
        }
      : false,
    bodyLimit: vault.config.bodyLimit,
    // The client address (req.ip) keys the refusal budget; behind a proxy, name the proxy.
    trustProxy: vault.config.trustProxy,
    ajv: {
      customOptions: {
        removeAdditional: false,
        // Never coerce: a number or string is validated as the client sent it, or refused
        // (querystring integers are converted explicitly, see canonicalQueryIntegers).
        coerceTypes: false,
        useDefaults: true,
        allErrors: false,
        // Errors carry their schema, whose description names the expected form.
        verbose: true,
      },
    },
  });
  installErrorHandling(app);
  installJsonBody(app);
  await app.register(swagger, {
    openapi: {
      // The route schemas are JSON Schema (nullable as type: [..., "null"]): OpenAPI 3.1.
      openapi: "3.1.0",
      info: {
        title: "agent-vault",
        version: "0.1.0",
        description: "Threshold-ECDSA wallets for AI agents",
      },
      components: {
        securitySchemes: {
          apiKey: { type: "http", scheme: "bearer" },
          // Agent JWTs from this vault or a trusted issuer (POST /v1/tokens, /.well-known/jwks.json).
          jwt: { type: "http", scheme: "bearer", bearerFormat: "JWT" },
          // A JWT Verifiable Presentation over a challenge from GET /v1/auth/challenge.
          vc: { type: "apiKey", in: "header", name: "X-Agent-Presentation" },
          // x402 v2: an EIP-3009 payment, base64 JSON (see GET /.well-known/x402 for prices).
          x402: { type: "apiKey", in: "header", name: "PAYMENT-SIGNATURE" },
          // A UCAN 1.0 chain, "Delegation <link>,<link>,…", plus a UCAN-Invocation header
          // signed by its final holder over the request (README "Delegation chains").
          delegation: { type: "http", scheme: "Delegation" },
          // Another operator's vault, subscribing to the federation stream: a JWT signed by
          // its did:web document's operator key, for this vault (README "Cross-operator trust").
          operator: { type: "http", scheme: "Operator" },
        },
      },
      // The default for a route that declares none; public routes declare `security: []`.
      security: [{ apiKey: [] }],
    },
  });
  await app.register(fastifyAuth);
  const out = { audit: vault.audit, refusals: vault.refusals };
  await app.register(apiKeyDoor, { keys: vault.keys, ...out });
  await app.register(jwtDoor, { tokens: vault.tokens, ...out });
  await app.register(vcDoor, { credentials: vault.credentials, ...out });
  await app.register(delegationDoor, { delegations: vault.delegations, ...out });
  await app.register(x402Door, { gate: vault.x402, baseUrl: vault.config.url });
  const registry = installMetrics(app, vault);
  await app.register(opsRoutes, { vault, registry });
  await app.register(agentRoutes, { vault });
  await app.register(signRoutes, { vault });
  await app.register(auditRoutes, { vault });
  await app.register(tokenRoutes, { vault });
  await app.register(vcRoutes, { vault });
  await app.register(proofRoutes, { vault });
  await app.register(delegationRoutes, { vault });
  await app.register(eventRoutes, { vault });
  await app.register(federationRoutes, { vault });
  await app.register(x402Routes, { vault, baseUrl: vault.config.url });
  return app;
}
