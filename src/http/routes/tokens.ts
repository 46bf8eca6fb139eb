/**
 * Agent tokens: issue (POST /v1/tokens), revoke (POST /v1/tokens/:jti/revoke), rotate the
 * signing key (POST /v1/tokens/keys/rotate) and the public keys (/.well-known/jwks.json).
 * Tokens are issued against an API key only: a token cannot mint tokens, so none outlives
 * or outgrows the key behind it.
 */
import type { JsonSchemaToTsProvider } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyInstance } from "fastify";
import { CAPABILITIES } from "../../auth/jwt/capabilities.js";
import { MAX_TTL_SECONDS } from "../../auth/jwt/index.js";
import { VaultError } from "../../errors/index.js";
import type { Vault } from "../../services/vault.js";
import { anyOf } from "../auth/doors.js";
import {
  actorOf,
  assertAgentAccess,
  principalOf,
  requireAdmin,
  requireAny,
} from "../auth/scopes.js";

export async function tokenRoutes(base: FastifyInstance, { vault }: { vault: Vault }) {
  // Request types come from the route schemas (json-schema-to-ts), not from casts.
  const app = base.withTypeProvider<JsonSchemaToTsProvider>();
  const apiKeyOnly = anyOf(app, ["apiKey"]);
  const keyOrToken = anyOf(app, ["apiKey", "jwt"]);

  app.post(
    "/v1/tokens",
    {
      preHandler: [apiKeyOnly.auth, requireAny("WRITE")],
      schema: {
        tags: ["tokens"],
        security: apiKeyOnly.security,
        body: {
          type: "object",
          properties: {
            agentId: { type: "string", minLength: 1, maxLength: 64 },
            capabilities: {
              type: "array",
              items: { type: "string", enum: [...CAPABILITIES] },
              minItems: 1,
              maxItems: CAPABILITIES.length,
            },
            task: { type: "string", minLength: 1, maxLength: 128 },
            ttlSeconds: { type: "integer", minimum: 1, maximum: MAX_TTL_SECONDS, default: 900 },
            audience: { type: "string", minLength: 1, maxLength: 256 },
          },
          required: ["agentId", "capabilities"],
          additionalProperties: false,
        } as const,
      },
    },
    async (req, reply) => {
      const body = req.body;
      const p = assertAgentAccess(req, body.agentId);
      await vault.agents.get(body.agentId);
      const issued = await vault.tokens.issue(body, p, actorOf(p));
      return reply.status(201).send({ ...issued, tokenType: "Bearer" });
    },
  );

  app.post(
    "/v1/tokens/:jti/revoke",
    {
      preHandler: [keyOrToken.auth, requireAny("WRITE")],
      schema: {
        tags: ["tokens"],
        security: keyOrToken.security,
        params: {
          type: "object",
          properties: { jti: { type: "string", minLength: 1, maxLength: 128 } },
          required: ["jti"],
        } as const,
      },
    },
    async (req) => {
      const { jti } = req.params;
      const p = principalOf(req);
      if (!p.scopes.has("ADMIN")) {
        // An agent's credential revokes tokens of its own agent; operators revoke any jti.
        const owner = await vault.tokens.issuedFor(jti);
        if (!owner) throw new VaultError("TOKEN_NOT_FOUND");
        if (p.kind !== "agent" || owner.agentId !== p.agentId)
          throw new VaultError("FORBIDDEN_AGENT");
      }
      return vault.tokens.revoke(jti, actorOf(p));
    },
  );

  app.post(
    "/v1/tokens/keys/rotate",
    {
      preHandler: [apiKeyOnly.auth, requireAdmin()],
      schema: { tags: ["tokens"], security: apiKeyOnly.security },
    },
    async (req) => vault.tokens.rotate(actorOf(principalOf(req))),
  );

  app.get(
    "/.well-known/jwks.json",
    { schema: { tags: ["tokens"], security: [] } },
    async (_req, reply) => {
      void reply.header("cache-control", "public, max-age=60");
      return vault.tokens.jwks();
    },
  );
}
