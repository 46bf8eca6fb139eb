/**
 * What the front doors share: how a door admits a principal, refuses a credential it
 * recognises, or steps aside for one it does not, and the audit of every outcome.
 *
 * @fastify/auth reports the last door's error when every door of an any-of list fails.
 * A door that does not recognise the credential therefore re-throws the refusal an
 * earlier door recorded (req.authRefusal), so the client sees the specific reason
 * (TOKEN_EXPIRED, CHALLENGE_REPLAYED, …) rather than a generic UNAUTHENTICATED.
 * In an all-of list a second door narrows what the first admitted (same agent, scopes
 * intersected, every spend limit kept).
 *
 * `refuse` and `admit` wait for their audit entry (the log is asynchronous): a door returns
 * them, `return refuse(…)`, so that nothing after a refusal runs.
 */
import type { FastifyRequest } from "fastify";
import type { AuditLog } from "../../audit/types.js";
import type { Principal } from "../../auth/apikey/index.js";
import type { RefusalLog } from "../../auth/refusals.js";
import { VaultError } from "../../errors/index.js";
import { toVaultError } from "../errors.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The specific refusal of a door that recognised the credential it was shown. */
    authRefusal?: VaultError;
  }
}

/** The credential is not this door's: defer to a refusal already recorded, if any. */
export function notMine(req: FastifyRequest): never {
  throw req.authRefusal ?? new VaultError("UNAUTHENTICATED");
}

function where(req: FastifyRequest) {
  return { method: req.method, route: req.routeOptions?.url ?? req.url.split("?")[0] };
}

/** Where a door writes its outcomes: successes to the log, refusals through the limiter. */
export interface DoorAudit {
  audit: AuditLog;
  refusals: RefusalLog;
}

export async function refuse(
  out: DoorAudit,
  req: FastifyRequest,
  door: string,
  err: unknown,
  facts: Record<string, unknown> = {},
): Promise<never> {
  // Domain code throws catalogue errors; anything else (a library bug, storage) maps as usual.
  const ve = toVaultError(err);
  req.authRefusal = ve;
  await out.refusals.record(req.ip, {
    type: "auth.refused",
    actor: `door:${door}`,
    data: { door, code: ve.code, reason: ve.message, ...where(req), ...facts },
  });
  throw ve;
}

export async function admit(
  out: DoorAudit,
  req: FastifyRequest,
  door: string,
  p: Principal,
  facts: Record<string, unknown> = {},
): Promise<void> {
  const before = req.principal;
  let next = p;
  if (before) {
    if (before.agentId && p.agentId && before.agentId !== p.agentId)
      return refuse(out, req, door, new VaultError("FORBIDDEN_AGENT"), facts);
    next = {
      ...before,
      agentId: before.agentId ?? p.agentId,
      kind: before.agentId || p.agentId ? "agent" : before.kind,
      scopes: new Set([...before.scopes].filter((s) => p.scopes.has(s))),
      spendLimits: [...(before.spendLimits ?? []), ...(p.spendLimits ?? [])],
      ...(p.taskId ? { taskId: p.taskId } : {}),
      ...(p.humanPrincipal ? { humanPrincipal: p.humanPrincipal } : {}),
    };
  }
  req.principal = next;
  await out.audit.append({
    type: "auth.succeeded",
    agentId: p.agentId,
    actor: `door:${door}`,
    data: {
      door,
      keyId: p.keyId,
      scopes: [...next.scopes].sort(),
      ...(p.taskId ? { task: p.taskId } : {}),
      ...(p.humanPrincipal ? { humanPrincipal: p.humanPrincipal } : {}),
      ...where(req),
      ...facts,
    },
  });
}
