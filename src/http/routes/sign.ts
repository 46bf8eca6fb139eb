/**
 * Signing endpoints. The request body is turned into an intent; the signing service
 * decodes it (never trusting the client about amounts), applies the policy and asks
 * the cluster. Signing needs EXECUTE; anything that moves value also needs SPEND.
 */

import { hexlify, toUtf8Bytes } from "ethers";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { SignIntent, TxRequest } from "../../policy/types.js";
import type { SignOutcome } from "../../services/signing.js";
import type { Vault } from "../../services/vault.js";
import { anyOf, signingDoors } from "../auth/doors.js";
import { actorOf, assertAgentAccess, requireAny } from "../auth/scopes.js";
import { agentIdParams, hexBytes, pendingResponse, txSchema, typedDataSchema } from "../schemas.js";

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

export async function signRoutes(app: FastifyInstance, { vault }: { vault: Vault }) {
  // An API key, an agent token or a presentation (or, when configured, a key or token AND a
  // presentation); a credential's limits narrow the policy.
  const doors = signingDoors(app, vault.config.auth.signRequiresPresentation);
  const preHandler = [doors.auth, requireAny("EXECUTE")];
  const security = doors.security;
  const run = (req: FastifyRequest, intent: SignIntent) => {
    const { id } = req.params as { id: string };
    const p = assertAgentAccess(req, id);
    return vault.signing.sign(id, intent, actorOf(p), {
      credential: p.keyId, // re-checked once the request is at the front of the agent's queue
      canSpend: p.scopes.has("SPEND") || p.scopes.has("ADMIN"),
      ...(p.spendLimits?.length ? { spendLimits: p.spendLimits } : {}),
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
        body: {
          type: "object",
          properties: {
            message: { type: "string", maxLength: 65536 },
            encoding: { type: "string", enum: ["utf8", "hex"], default: "utf8" },
          },
          required: ["message"],
          additionalProperties: false,
          // Text is signed as its UTF-8 bytes; other bytes are sent as hex, and must be bytes.
          if: { properties: { encoding: { const: "hex" } }, required: ["encoding"] },
          // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, never awaited.
          then: { properties: { message: hexBytes } },
        },
        response: { 202: pendingResponse },
      },
    },
    async (req, reply) => {
      const body = req.body as { message: string; encoding: "utf8" | "hex" };
      // The body parser refused invalid UTF-8 and lone surrogates: this text is what was sent.
      const message = body.encoding === "hex" ? body.message : hexlify(toUtf8Bytes(body.message));
      return send(reply, await run(req, { kind: "message", message }));
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
      const body = req.body as Omit<Extract<SignIntent, { kind: "typed-data" }>, "kind">;
      return send(reply, await run(req, { kind: "typed-data", ...body }));
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
        },
        response: { 202: pendingResponse },
      },
    },
    async (req, reply) => {
      const { tx } = req.body as { tx: TxRequest };
      return send(reply, await run(req, { kind: "transaction", tx }));
    },
  );

  const approvalParams = { type: "object", properties: { id: { type: "string", maxLength: 64 } } };
  const operator = anyOf(app, ["apiKey"]);
  const admin = [operator.auth, requireAny()];

  app.get(
    "/v1/approvals/:id",
    {
      preHandler: admin,
      schema: { tags: ["approvals"], security: operator.security, params: approvalParams },
    },
    async (req) => vault.signing.approval((req.params as { id: string }).id),
  );
  app.post(
    "/v1/approvals/:id/approve",
    {
      preHandler: admin,
      schema: { tags: ["approvals"], security: operator.security, params: approvalParams },
    },
    async (req, reply) => {
      const p = req.principal;
      const outcome = await vault.signing.approve(
        (req.params as { id: string }).id,
        p ? actorOf(p) : "operator",
      );
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
      return vault.signing.reject((req.params as { id: string }).id, p ? actorOf(p) : "operator");
    },
  );
}
