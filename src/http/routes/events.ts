/**
 * Revocation push (README "Revocation push"): `GET /v1/events/stream` is Server-Sent
 * Events (WHATWG HTML §9.2) carrying this vault's revocations as signed SETs (RFC 8417),
 * `id:` = the event's seq, replayed from `Last-Event-ID` or `?after=`, then live, with a
 * heartbeat event every VAULT_EVENTS_HEARTBEAT_MS so a receiver can tell a quiet stream
 * from a dead one. `GET /v1/events?after=` serves the same events for polling. Subscribers
 * are operators: an operator API key with AUDIT, whose id names the subscription.
 */
import type { JsonSchemaToTsProvider } from "@fastify/type-provider-json-schema-to-ts";
import type { FastifyInstance } from "fastify";
import { VaultError } from "../../errors/index.js";
import type { Vault } from "../../services/vault.js";
import { anyOf } from "../auth/doors.js";
import { principalOf, requireAny } from "../auth/scopes.js";
import { queryIntegers } from "../schemas.js";
import { serveStream } from "./event-stream.js";

const BATCH = 500;
export const afterQuery = {
  type: "object",
  properties: {
    after: { type: "integer", minimum: 0 },
    limit: { type: "integer", minimum: 1, maximum: BATCH },
  },
} as const;

export function cursorOf(lastEventId: unknown, after: number | undefined): number {
  if (typeof lastEventId === "string" && /^\d{1,15}$/.test(lastEventId)) return Number(lastEventId);
  return after ?? 0;
}

export async function eventRoutes(base: FastifyInstance, { vault }: { vault: Vault }) {
  const app = base.withTypeProvider<JsonSchemaToTsProvider>();
  const doors = anyOf(app, ["apiKey"]);
  const operatorOnly = async (req: Parameters<typeof principalOf>[0]) => {
    if (principalOf(req).kind !== "operator")
      throw new VaultError("FORBIDDEN_AGENT", "revocation feeds are for operators");
  };
  const preHandler = [doors.auth, requireAny("AUDIT"), operatorOnly];
  const publisher = vault.revocations;
  // Streams never end on their own: closing the server ends them, or close() would wait.
  const open = new Set<{ end(): void }>();
  app.addHook("preClose", async () => {
    for (const res of open) res.end();
  });

  app.get(
    "/v1/events",
    {
      preValidation: queryIntegers("after", "limit"),
      preHandler,
      schema: { tags: ["events"], security: doors.security, querystring: afterQuery },
    },
    async (req) => ({
      events: await publisher.after(req.query.after ?? 0, req.query.limit ?? BATCH),
      head: await publisher.head(),
      issuer: publisher.issuer,
    }),
  );

  app.get(
    "/v1/events/stream",
    {
      preValidation: queryIntegers("after", "limit"),
      preHandler,
      schema: { tags: ["events"], security: doors.security, querystring: afterQuery },
    },
    async (req, reply) => {
      const cursor = cursorOf(req.headers["last-event-id"], req.query.after);
      const p = principalOf(req);
      await vault.audit.append({
        type: "events.subscribed",
        actor: `operator:${p.keyId}`,
        data: { keyId: p.keyId, after: cursor },
      });
      serveStream(reply, publisher, cursor, vault.config.eventsHeartbeatMs, open);
    },
  );
}
