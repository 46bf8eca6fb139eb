/**
 * Delegation chains (README "Delegation chains"): the root delegation of an agent's
 * authority, narrowed, to another DID, signed with the agent's delegation key; and
 * revocation of any link, effective on the next request through it.
 */
import type { JsonSchemaToTsProvider } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyInstance } from "fastify";
import { DELEGATION_COMMANDS } from "../../auth/delegation/constraints.js";
import { VaultError } from "../../errors/index.js";
import type { Vault } from "../../services/vault.js";
import { anyOf } from "../auth/doors.js";
import { actorOf, assertAgentAccess, principalOf, requireAny } from "../auth/scopes.js";

export const amount = {
  type: "string",
  pattern: "^(0|[1-9][0-9]{0,59})(\\.[0-9]{1,36})?$",
} as const;

export const issueBody = {
  type: "object",
  properties: {
    agentId: { type: "string", maxLength: 64 },
    audience: { type: "string", maxLength: 256, description: "the delegate's did:key or did:pkh" },
    commands: {
      type: "array",
      minItems: 1,
      maxItems: DELEGATION_COMMANDS.length,
      items: { type: "string", enum: [...DELEGATION_COMMANDS] },
    },
    caps: {
      type: "object",
      description:
        'asset ("ETH" or token address) → per-tx and rolling 24 h caps; {} moves no value',
      maxProperties: 32,
      additionalProperties: {
        type: "object",
        properties: { maxPerTx: amount, maxPer24h: amount },
        required: ["maxPerTx", "maxPer24h"],
        additionalProperties: false,
      },
    },
    recipients: { type: "array", maxItems: 256, items: { type: "string", maxLength: 42 } },
    chains: { type: "array", maxItems: 64, items: { type: "integer", minimum: 1 } },
    task: { type: "string", minLength: 1, maxLength: 128 },
    mandateIssuer: {
      type: "string",
      minLength: 1,
      maxLength: 256,
      description: "payments through the chain must carry an AP2 mandate from this issuer",
    },
    expiresAt: { type: "string", maxLength: 40 },
    notBefore: { type: "string", maxLength: 40 },
  },
  required: ["agentId", "audience", "commands", "caps", "expiresAt"],
  additionalProperties: false,
} as const;

const cidParams = {
  type: "object",
  properties: { cid: { type: "string", maxLength: 128 } },
  required: ["cid"],
} as const;

export async function delegationRoutes(base: FastifyInstance, { vault }: { vault: Vault }) {
  const app = base.withTypeProvider<JsonSchemaToTsProvider>();
  const doors = anyOf(app, ["apiKey"]);

  app.post(
    "/v1/delegations",
    {
      preHandler: [doors.auth, requireAny("EXECUTE")],
      schema: { tags: ["delegations"], security: doors.security, body: issueBody },
    },
    async (req, reply) => {
      const p = assertAgentAccess(req, req.body.agentId);
      const movesValue = Object.keys(req.body.caps).length > 0;
      if (movesValue && !p.scopes.has("SPEND") && !p.scopes.has("ADMIN"))
        throw new VaultError("FORBIDDEN_SCOPE", "delegating spending needs the SPEND scope");
      const out = await vault.delegations.issue(req.body, actorOf(p));
      const issuer = await vault.delegations.didOf(req.body.agentId);
      return reply.status(201).send({ ...out, issuer });
    },
  );

  // W3C Bitstring Status List of the roots issued here, for verifiers that poll.
  app.get(
    "/v1/status/revocation",
    { schema: { tags: ["delegations"], security: [] } },
    async (_req, reply) =>
      reply
        .header("content-type", "application/vc+jwt")
        .header("cache-control", "no-store")
        .send(await vault.delegations.statusList()),
  );

  app.delete(
    "/v1/delegations/:cid",
    {
      preHandler: [doors.auth, requireAny("EXECUTE")],
      schema: { tags: ["delegations"], security: doors.security, params: cidParams },
    },
    async (req) => {
      const p = principalOf(req);
      const owner = await vault.delegations.ownerOf(req.params.cid);
      // An agent's key revokes its own root delegations; any other link needs the operator.
      if (!p.scopes.has("ADMIN") && (owner === undefined || p.agentId !== owner))
        throw new VaultError("FORBIDDEN_SCOPE", "revoking this delegation needs ADMIN");
      return {
        cid: req.params.cid,
        ...(await vault.delegations.revoke(req.params.cid, actorOf(p))),
      };
    },
  );

  // A holder revokes what it delegated with a signed UCAN (ucan-wg/revocation): no API key,
  // the signature and its place in the path are the authority.
  app.post(
    "/v1/revocations",
    {
      schema: {
        tags: ["delegations"],
        security: [],
        body: {
          type: "object",
          properties: {
            revocation: { type: "string", maxLength: 16384 },
            path: {
              type: "array",
              minItems: 1,
              maxItems: 64,
              items: { type: "string", maxLength: 16384 },
            },
          },
          required: ["revocation", "path"],
          additionalProperties: false,
        } as const,
      },
    },
    async (req) => vault.delegations.revokeByUcan(req.body),
  );
}
