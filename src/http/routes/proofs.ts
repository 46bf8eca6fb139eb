/**
 * Zero-knowledge compliance proofs over the audit log (src/zk). Proving runs in one
 * child process at a time, jobs queue in FIFO order: POST answers 202 at once (the same
 * request while its job is queued, proving or done answers that job), the job is polled,
 * listed (GET /v1/proofs) or cancelled (DELETE). Jobs and bundles survive a restart.
 */
import type { JsonSchemaToTsProvider } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyInstance } from "fastify";
import { VaultError } from "../../errors/index.js";
import type { Vault } from "../../services/vault.js";
import { anyOf } from "../auth/doors.js";
import { actorOf, assertAgentAccess, principalOf, requireAny } from "../auth/scopes.js";
import { decimalString, queryIntegers } from "../schemas.js";

export async function proofRoutes(base: FastifyInstance, { vault }: { vault: Vault }) {
  // Request types come from the route schemas (json-schema-to-ts), not from casts.
  const app = base.withTypeProvider<JsonSchemaToTsProvider>();
  // AUDIT from an API key, a token or a presentation; an agent's credential sees its own proofs.
  const doors = anyOf(app, ["apiKey", "jwt", "vc"]);
  const preHandler = [doors.auth, requireAny("AUDIT")];
  const schema = { tags: ["proofs"], security: doors.security };
  // The verification key is public knowledge: anyone may pay for it when it is priced.
  const vkDoors = anyOf(app, ["apiKey", "jwt", "vc", "x402"]);
  const idParams = {
    type: "object",
    properties: { id: { type: "string", pattern: "^prf_[A-Za-z0-9_-]{1,32}$" } },
    required: ["id"],
  } as const;

  app.post(
    "/v1/proofs",
    {
      preHandler,
      schema: {
        ...schema,
        body: {
          type: "object",
          properties: {
            agentId: { type: "string", minLength: 1, maxLength: 64 },
            fromSeq: { type: "integer", minimum: 1 },
            toSeq: { type: "integer", minimum: 1 },
            asset: { type: "string", minLength: 1, maxLength: 42 },
            bound: decimalString(39),
          },
          required: ["agentId", "fromSeq", "toSeq"],
          additionalProperties: false,
        } as const,
      },
    },
    async (req, reply) => {
      const body = req.body;
      const p = assertAgentAccess(req, body.agentId);
      const job = await vault.proofs.request(body, actorOf(p));
      reply.code(202);
      return { proofId: job.id, status: job.status, fromSeq: job.fromSeq, toSeq: job.toSeq };
    },
  );

  // Newest first; an agent's credential lists only its own agent's jobs.
  app.get(
    "/v1/proofs",
    {
      preHandler,
      preValidation: queryIntegers("limit"),
      schema: {
        ...schema,
        querystring: {
          type: "object",
          properties: {
            agentId: { type: "string", minLength: 1, maxLength: 64 },
            status: { type: "string", enum: ["queued", "proving", "done", "failed", "cancelled"] },
            limit: { type: "integer", minimum: 1, maximum: 500, default: 50 },
          },
          additionalProperties: false,
        } as const,
      },
    },
    async (req) => {
      const { agentId, status, limit } = req.query;
      const p = principalOf(req);
      if (agentId !== undefined) assertAgentAccess(req, agentId);
      const own = p.kind === "agent" && p.agentId ? p.agentId : agentId;
      const proofs = await vault.proofs.list({
        ...(own !== undefined ? { agentId: own } : {}),
        ...(status !== undefined ? { status } : {}),
        limit,
      });
      return { proofs };
    },
  );

  // Registered before /v1/proofs/:id; fastify prefers the static route anyway.
  app.get(
    "/v1/proofs/verification-key",
    {
      preHandler: [vkDoors.auth, requireAny("AUDIT")],
      config: vkDoors.config,
      schema: { tags: ["proofs"], security: vkDoors.security },
    },
    async (_req, reply) => {
      const vk = vault.proofs.verificationKey();
      if (vk) return vk;
      const refusal = vault.proofs.keyRefusal() ?? new VaultError("PROOF_UNAVAILABLE");
      // While the circuit is being set up (about a minute at the default size): ask again soon.
      if (refusal.code === "PROOF_SETUP_IN_PROGRESS") reply.header("retry-after", "10");
      throw refusal;
    },
  );

  app.get(
    "/v1/proofs/:id",
    { preHandler, schema: { ...schema, params: idParams } },
    async (req) => {
      const job = await vault.proofs.job(req.params.id);
      assertAgentAccess(req, job.agentId);
      return job;
    },
  );

  app.get(
    "/v1/proofs/:id/bundle",
    { preHandler, schema: { ...schema, params: idParams } },
    async (req, reply) => {
      const id = req.params.id;
      assertAgentAccess(req, (await vault.proofs.job(id)).agentId);
      reply.header("content-disposition", `attachment; filename="${id}.bundle.json"`);
      return vault.proofs.bundle(id);
    },
  );

  // Cancels a queued job or stops its prover; a cancelled job answers the same again.
  app.delete(
    "/v1/proofs/:id",
    { preHandler, schema: { ...schema, params: idParams } },
    async (req) => {
      const id = req.params.id;
      const p = assertAgentAccess(req, (await vault.proofs.job(id)).agentId);
      return vault.proofs.cancel(id, actorOf(p));
    },
  );
}
