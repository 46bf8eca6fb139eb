/**
 * Cross-operator trust (README "Cross-operator trust"): the operator's did:web document,
 * its stream of delegation revocations for other operators (subscribed by operator
 * identity), and the anchor's and member's operator links (src/services/federation.ts).
 * The document and the list of members are public: keys and signed links, nothing secret.
 */
import type { JsonSchemaToTsProvider } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyInstance } from "fastify";
import { operatorDocument } from "../../auth/federation/operator.js";
import { VaultError } from "../../errors/index.js";
import { didWebOf } from "../../services/federation.js";
import type { Vault } from "../../services/vault.js";
import { anyOf } from "../auth/doors.js";
import { actorOf, principalOf, requireAdmin } from "../auth/scopes.js";
import { queryIntegers } from "../schemas.js";
import { issueBody } from "./delegations.js";
import { serveStream } from "./event-stream.js";
import { afterQuery, cursorOf } from "./events.js";

const { agentId: _agent, audience: _aud, task: _task, ...termFields } = issueBody.properties;

const memberBody = {
  type: "object",
  properties: {
    member: { type: "string", maxLength: 256, description: "the member operator's did:web" },
    ...termFields,
  },
  required: ["member", "commands", "caps", "expiresAt"],
  additionalProperties: false,
} as const;

const grantBody = {
  type: "object",
  properties: {
    audience: issueBody.properties.audience,
    task: issueBody.properties.task,
    ...termFields,
  },
  required: ["audience", "commands", "caps", "expiresAt"],
  additionalProperties: false,
} as const;

const MAX_PUBLIC_STREAMS = 256;

const memberParams = {
  type: "object",
  properties: { did: { type: "string", maxLength: 256 } },
  required: ["did"],
} as const;

export async function federationRoutes(base: FastifyInstance, { vault }: { vault: Vault }) {
  const app = base.withTypeProvider<JsonSchemaToTsProvider>();
  const doors = anyOf(app, ["apiKey"]);
  const admin = { preHandler: [doors.auth, requireAdmin()] };
  const tags = ["federation"];
  const open = new Set<{ end(): void }>();
  app.addHook("preClose", async () => {
    for (const res of open) res.end();
  });

  app.get("/.well-known/did.json", { schema: { tags, security: [] } }, async (_req, reply) => {
    const id = await vault.federation.identity();
    if (!id) throw new VaultError("NOT_FOUND", "this vault has no https URL, so no did:web");
    return reply.type("application/did+json").send(operatorDocument(id));
  });

  app.get(
    "/v1/federation/events",
    {
      preValidation: queryIntegers("after", "limit"),
      schema: { tags, security: [{ operator: [] }], querystring: afterQuery },
    },
    async (req, reply) => {
      // Subscriptions are by the receiver's operator identity, audited: no API key, no
      // pairwise agreement, only a JWT its did:web document's key verifies.
      const operator = await vault.federation.subscriber(req.headers.authorization);
      // Only an operator (an https vault with a did:web) publishes to other operators.
      if (!(await vault.federation.identity()))
        throw new VaultError("NOT_FOUND", "this vault has no https URL, so no did:web");
      // Open to any operator, so bounded: each stream holds a socket and a heartbeat timer.
      if (open.size >= MAX_PUBLIC_STREAMS) throw new VaultError("STREAMS_EXHAUSTED");
      const cursor = cursorOf(req.headers["last-event-id"], req.query.after);
      await vault.audit.append({
        type: "events.subscribed",
        actor: `operator:${operator}`,
        data: { operator, after: cursor, stream: "federation" },
      });
      serveStream(reply, vault.federationEvents, cursor, vault.config.eventsHeartbeatMs, open);
    },
  );

  app.get("/v1/federation/members", { schema: { tags, security: [] } }, async () => {
    const id = await vault.federation.identity();
    return {
      anchor: id?.did ?? null,
      key: id?.keyDid ?? null,
      members: await vault.federation.members(),
    };
  });

  app.post(
    "/v1/federation/members",
    { ...admin, schema: { tags, security: doors.security, body: memberBody } },
    async (req, reply) => {
      const out = await vault.federation.admit(req.body, actorOf(principalOf(req)));
      return reply.status(201).send(out);
    },
  );

  app.delete(
    "/v1/federation/members/:did",
    { ...admin, schema: { tags, security: doors.security, params: memberParams } },
    async (req) => ({
      member: didWebOf(req.params.did),
      revoked: await vault.federation.remove(req.params.did, actorOf(principalOf(req))),
    }),
  );

  app.post(
    "/v1/federation/grants",
    { ...admin, schema: { tags, security: doors.security, body: grantBody } },
    async (req, reply) => {
      const out = await vault.federation.grant(req.body, actorOf(principalOf(req)));
      return reply.status(201).send(out);
    },
  );
}
