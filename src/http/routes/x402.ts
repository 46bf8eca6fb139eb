/**
 * x402 routes: the agent as payer (POST /v1/agents/:id/x402/pay, and GET
 * …/x402/pay/:approvalId to collect a payment an operator approved), the status of a payment
 * made to this vault (GET /v1/x402/payments/:id: "unknown" settlements stay visible), and
 * the Bazaar listing of this vault's paid routes (GET /.well-known/x402).
 */
import type { JsonSchemaToTsProvider } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyInstance } from "fastify";
import type { Principal } from "../../auth/apikey/index.js";
import { discoveryListing } from "../../auth/x402/offers.js";
import { VaultError } from "../../errors/index.js";
import type { Vault } from "../../services/vault.js";
import { signingDoors } from "../auth/doors.js";
import { actorOf, assertAgentAccess, requireAny } from "../auth/scopes.js";
import { agentIdParams } from "../schemas.js";

const callerOf = (p: Principal) => ({
  actor: actorOf(p),
  credential: p.keyId,
  operator: p.kind === "operator",
});

export async function x402Routes(
  base: FastifyInstance,
  { vault, baseUrl }: { vault: Vault; baseUrl: string },
) {
  // Request types come from the route schemas (json-schema-to-ts), not from casts.
  const app = base.withTypeProvider<JsonSchemaToTsProvider>();
  const agentDoors = signingDoors(app, vault.config.auth.signRequiresPresentation);
  app.post(
    "/v1/agents/:id/x402/pay",
    {
      // Like the sign routes: an API key, an agent token or a presentation; a credential's
      // spend limits narrow the policy for this payment too.
      preHandler: [agentDoors.auth, requireAny("EXECUTE")],
      schema: {
        tags: ["x402"],
        security: agentDoors.security,
        summary: "Sign an x402 payment (PAYMENT-SIGNATURE) with the agent's key, within policy",
        params: agentIdParams,
        body: {
          type: "object",
          properties: {
            paymentRequired: {
              description: "the decoded PAYMENT-REQUIRED object, or the header's base64 value",
              anyOf: [{ type: "object" }, { type: "string", maxLength: 16384 }],
            },
          },
          required: ["paymentRequired"],
          additionalProperties: false,
        } as const,
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const p = assertAgentAccess(req, id);
      const out = await vault.x402Payer.pay(id, req.body.paymentRequired, callerOf(p), {
        canSpend: p.scopes.has("SPEND") || p.scopes.has("ADMIN"),
        ...(p.spendLimits?.length ? { spendLimits: p.spendLimits } : {}),
        ...(p.delegation ? { delegation: p.delegation } : {}),
      });
      return out.status === "pending" ? reply.status(202).send(out) : out;
    },
  );

  app.get(
    "/v1/agents/:id/x402/pay/:approvalId",
    {
      preHandler: [agentDoors.auth, requireAny("EXECUTE")],
      schema: {
        tags: ["x402"],
        security: agentDoors.security,
        summary:
          "Collect the PAYMENT-SIGNATURE of a payment an operator approved (202 while pending)",
        params: {
          type: "object",
          properties: {
            id: agentIdParams.properties.id,
            approvalId: { type: "string", maxLength: 64 },
          },
          required: ["id", "approvalId"],
        } as const,
      },
    },
    async (req, reply) => {
      const { id, approvalId } = req.params;
      const p = assertAgentAccess(req, id);
      // Collecting hands out a spendable authorization: SPEND, as for paying.
      if (!p.scopes.has("SPEND") && !p.scopes.has("ADMIN"))
        throw new VaultError("FORBIDDEN_SCOPE", "collecting a payment needs the SPEND scope");
      const out = await vault.x402Payer.collect(id, approvalId, callerOf(p));
      return out.status === "pending" ? reply.status(202).send(out) : out;
    },
  );

  app.get(
    "/v1/x402/payments/:id",
    {
      schema: {
        tags: ["x402"],
        summary: "Status of a payment made to this vault (verified, settled, failed, unknown)",
        security: [],
        params: {
          type: "object",
          properties: { id: { type: "string", pattern: "^pay_[A-Za-z0-9_-]{27}$" } },
          required: ["id"],
        } as const,
      },
    },
    async (req) => vault.x402.status(req.params.id),
  );

  app.get(
    "/.well-known/x402",
    {
      schema: {
        tags: ["x402"],
        summary: "Bazaar discovery listing of the paid routes",
        security: [],
      },
    },
    async () => discoveryListing(vault.x402.offers(), baseUrl),
  );
}
