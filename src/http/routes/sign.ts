/**
 * Signing endpoints. The request body is turned into an intent; the signing service
 * decodes it (never trusting the client about amounts), applies the policy and asks
 * the cluster. Signing needs EXECUTE; anything that moves value also needs SPEND.
 */

import type { JsonSchemaToTsProvider } from "@fastify/type-provider-json-schema-to-ts";
import { hexlify, toUtf8Bytes } from "ethers";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { SignIntent } from "../../policy/types.js";
import type { SignOutcome } from "../../services/signing.js";
import type { Vault } from "../../services/vault.js";
import { anyOf, signingDoors } from "../auth/doors.js";
import { actorOf, assertAgentAccess, requireAny } from "../auth/scopes.js";
import {
  agentIdParams,
  messageBody,
  pendingResponse,
  txSchema,
  typedDataSchema,
} from "../schemas.js";

function send(reply: FastifyReply, outcome: SignOutcome) {
  if (outcome.status === "pending") {
    return reply
      .status(202)
      .send({ approvalId: outcome.approvalId, status: "pending", auditSeq: outcome.auditSeq });
  }
  const { result, auditSeq } = outcome;
  if (result.kind === "transaction") {
    return reply.send({
      signedTransaction: result.signedTransaction,
      hash: result.hash,
      address: result.address,
      auditSeq,
    });
  }
  return reply.send({ signature: result.signature, address: result.address, auditSeq });
}

export async function signRoutes(base: FastifyInstance, { vault }: { vault: Vault }) {
  // Request types come from the route schemas (json-schema-to-ts), not from casts.
  const app = base.withTypeProvider<JsonSchemaToTsProvider>();
  // An API key, an agent token or a presentation (or, when configured, a key or token AND a
  // presentation); a credential's limits narrow the policy.
  const doors = signingDoors(app, vault.config.auth.signRequiresPresentation);
  const preHandler = [doors.auth, requireAny("EXECUTE")];
  const security = doors.security;
  const run = (req: FastifyRequest, id: string, intent: SignIntent) => {
    const p = assertAgentAccess(req, id);
    return vault.signing.sign(id, intent, actorOf(p), {
      credential: p.keyId, // re-checked once the request is at the front of the agent's queue
      canSpend: p.scopes.has("SPEND") || p.scopes.has("ADMIN"),
      ...(p.spendLimits?.length ? { spendLimits: p.spendLimits } : {}),
      ...(p.delegation ? { delegation: p.delegation } : {}),
    });
  };

  app.post(
    "/v1/agents/:id/sign/message",
    {
      preHandler,
      schema: {
        tags: ["sign"],
        security,
        params: agentIdParams,
        body: messageBody,
        response: { 202: pendingResponse },
      },
    },
    async (req, reply) => {
      const body = req.body;
      // The body parser refused invalid UTF-8 and lone surrogates: this text is what was sent.
      const message = body.encoding === "hex" ? body.message : hexlify(toUtf8Bytes(body.message));
      return send(reply, await run(req, req.params.id, { kind: "message", message }));
    },
  );

  app.post(
    "/v1/agents/:id/sign/typed-data",
    {
      preHandler,
      schema: {
        tags: ["sign"],
        security,
        params: agentIdParams,
        body: typedDataSchema,
        response: { 202: pendingResponse },
      },
    },
    async (req, reply) => {
      return send(reply, await run(req, req.params.id, { kind: "typed-data", ...req.body }));
    },
  );

  app.post(
    "/v1/agents/:id/sign/transaction",
    {
      preHandler,
      schema: {
        tags: ["sign"],
        security,
        params: agentIdParams,
        body: {
          type: "object",
          properties: { tx: txSchema },
          required: ["tx"],
          additionalProperties: false,
        } as const,
        response: { 202: pendingResponse },
      },
    },
    async (req, reply) => {
      return send(reply, await run(req, req.params.id, { kind: "transaction", tx: req.body.tx }));
    },
  );

  const approvalParams = {
    type: "object",
    properties: { id: { type: "string", maxLength: 64 } },
    required: ["id"],
  } as const;
  const operator = anyOf(app, ["apiKey"]);
  const admin = [operator.auth, requireAny()];

  app.get(
    "/v1/approvals/:id",
    {
      preHandler: admin,
      schema: { tags: ["approvals"], security: operator.security, params: approvalParams },
    },
    async (req) => await vault.signing.approval(req.params.id),
  );
  app.post(
    "/v1/approvals/:id/approve",
    {
      preHandler: admin,
      schema: { tags: ["approvals"], security: operator.security, params: approvalParams },
    },
    async (req, reply) => {
      const p = req.principal;
      const outcome = await vault.signing.approve(req.params.id, p ? actorOf(p) : "operator");
      return send(reply, outcome);
    },
  );
  app.post(
    "/v1/approvals/:id/reject",
    {
      preHandler: admin,
      schema: { tags: ["approvals"], security: operator.security, params: approvalParams },
    },
    async (req) => {
      const p = req.principal;
      return await vault.signing.reject(req.params.id, p ? actorOf(p) : "operator");
    },
  );
}
