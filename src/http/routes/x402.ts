/**
 * x402 routes: the agent as payer (POST /v1/agents/:id/x402/pay), the status of a payment
 * made to this vault (GET /v1/x402/payments/:id: "unknown" settlements stay visible), and
 * the Bazaar listing of this vault's paid routes (GET /.well-known/x402).
 */
import type { FastifyInstance } from "fastify";
import { decodePaymentRequired } from "../../auth/x402/headers.js";
import { discoveryListing } from "../../auth/x402/offers.js";
import { payFor } from "../../auth/x402/payer.js";
import { VaultError } from "../../errors/index.js";
import type { Policy } from "../../policy/types.js";
import type { Vault } from "../../services/vault.js";
import { anyOfSecurity } from "../auth/outcome.js";
import { actorOf, assertAgentAccess, requireAny } from "../auth/scopes.js";
import { agentIdParams } from "../schemas.js";

export async function x402Routes(
  app: FastifyInstance,
  { vault, baseUrl }: { vault: Vault; baseUrl: string },
) {
  app.post(
    "/v1/agents/:id/x402/pay",
    {
      // Like the sign routes: an API key, an agent token or a presentation; a credential's
      // spend limits narrow the policy for this payment too.
      preHandler: [
        app.auth([app.apiKey, app.jwt, app.vc], { relation: "or" }),
        requireAny("EXECUTE"),
      ],
      schema: {
        tags: ["x402"],
        security: anyOfSecurity(["apiKey", "jwt", "vc"]),
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
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params as { id: string };
      const p = assertAgentAccess(req, id);
      const agent = vault.store.agent(id);
      if (!agent) throw new VaultError("AGENT_NOT_FOUND");
      const actor = actorOf(p);
      const pr = decodePaymentRequired((req.body as { paymentRequired: unknown }).paymentRequired);
      const resource = typeof pr.resource?.url === "string" ? pr.resource.url.slice(0, 512) : "";
      let result: Awaited<ReturnType<typeof payFor>>;
      try {
        result = await payFor(
          {
            policyOf: (agentId) => {
              const row = vault.store.policy(agentId);
              return row ? (JSON.parse(row.policy) as Policy) : undefined;
            },
            sign: (intent) =>
              vault.signing.sign(id, intent, actor, {
                canSpend: p.scopes.has("SPEND") || p.scopes.has("ADMIN"),
                ...(p.spendLimits?.length ? { spendLimits: p.spendLimits } : {}),
              }),
          },
          agent,
          pr,
        );
      } catch (err) {
        const code = err instanceof VaultError ? err.code : "INTERNAL";
        vault.audit.append({
          type: "x402.pay_refused",
          agentId: id,
          actor,
          data: { resource, code, reason: (err as Error).message.slice(0, 200) },
        });
        throw err;
      }
      const a = result.accepted;
      vault.audit.append({
        type: result.status === "signed" ? "x402.pay_signed" : "x402.pay_pending",
        agentId: id,
        actor,
        data: { resource, network: a.network, asset: a.asset, amount: a.amount, payTo: a.payTo },
      });
      if (result.status === "pending") {
        return reply.status(202).send({
          status: "pending",
          approvalId: result.approvalId,
          auditSeq: result.auditSeq,
          accepted: a,
        });
      }
      return {
        paymentSignature: result.paymentSignature,
        paymentPayload: result.paymentPayload,
        accepted: a,
        auditSeq: result.auditSeq,
      };
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
        },
      },
    },
    async (req) => vault.x402.status((req.params as { id: string }).id),
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
