/**
 * Front door: scoped API keys, `Authorization: Bearer <key>`. A fastify plugin that
 * decorates the instance with `apiKey`, an authenticator that routes compose with
 * @fastify/auth (any-of / all-of) next to the other front doors. Every outcome is audited.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { ApiKeyService, Principal } from "../../auth/apikey/index.js";
import { VaultError } from "../../errors/index.js";
import { admit, type DoorAudit, notMine, refuse } from "./outcome.js";

declare module "fastify" {
  interface FastifyInstance {
    apiKey: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
  interface FastifyRequest {
    principal?: Principal;
  }
}

const UNREADABLE = "the Authorization header must be Bearer <API key or token>";

export function bearer(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (typeof header !== "string") return undefined;
  const m = /^Bearer\s+(\S+)$/i.exec(header);
  return m?.[1];
}

export const apiKeyDoor = fp<{ keys: ApiKeyService } & DoorAudit>(
  async (app, { keys, ...out }) => {
    app.decorateRequest("principal", undefined);
    app.decorateRequest("authRefusal", undefined);
    app.decorate("apiKey", async (req: FastifyRequest) => {
      const secret = bearer(req);
      // A delegation chain is the delegation door's (src/http/auth/delegation.ts).
      if (/^Delegation\s/i.test(req.headers.authorization ?? "")) notMine(req);
      // An Authorization header no door can read (Basic, a bare word): refused, audited.
      if (!secret && req.headers.authorization !== undefined)
        return refuse(out, req, "apiKey", new VaultError("UNAUTHENTICATED", UNREADABLE));
      // No bearer, or a JWT (API keys never contain a dot): another door's credential.
      if (!secret || secret.includes(".")) notMine(req);
      const principal = await keys.authenticate(secret);
      if (!principal) return refuse(out, req, "apiKey", new VaultError("INVALID_CREDENTIALS"));
      await admit(out, req, "apiKey", principal);
    });
  },
  { name: "front-door-apikey" },
);
