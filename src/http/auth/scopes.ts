/**
 * Authorization after authentication: which scopes a route needs, and whether an
 * agent-bound principal may act on the agent named in the path.
 */
import type { FastifyRequest } from "fastify";
import type { Principal, Scope } from "../../auth/apikey/index.js";
import { VaultError } from "../../errors/index.js";

export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new VaultError("UNAUTHENTICATED");
  return req.principal;
}

/** Passes when the principal holds ADMIN or any one of `scopes`. */
export function requireAny(...scopes: Scope[]) {
  return async (req: FastifyRequest) => {
    const p = principalOf(req);
    if (p.scopes.has("ADMIN") || scopes.some((s) => p.scopes.has(s))) return;
    throw new VaultError(
      "FORBIDDEN_SCOPE",
      `this route needs one of: ${["ADMIN", ...scopes].join(", ")}`,
    );
  };
}

export function requireAdmin() {
  return requireAny();
}

/** An agent-bound key acts only for its own agent; operator keys act for any. */
export function assertAgentAccess(req: FastifyRequest, agentId: string): Principal {
  const p = principalOf(req);
  if (p.kind === "agent" && p.agentId !== agentId) throw new VaultError("FORBIDDEN_AGENT");
  return p;
}

export function actorOf(p: Principal): string {
  // An x402 payer is known by its paying address (keyId "x402:0x…").
  if (p.via === "x402") return p.keyId;
  return p.kind === "operator" ? `operator:${p.keyId}` : `agent:${p.agentId}:${p.keyId}`;
}
