/**
 * How a route declares its front doors. One call gives the @fastify/auth pre-handler, the
 * OpenAPI `security` that documents it and, when the x402 door is among them, the route
 * config that lets a price apply, so that the three cannot drift apart.
 */
import type { FastifyAuthFunction } from "@fastify/auth";
import type { FastifyInstance, preHandlerHookHandler } from "fastify";
import { toVaultError } from "../errors.js";

export type DoorName = "apiKey" | "jwt" | "vc" | "x402" | "delegation";

export interface Doors {
  auth: preHandlerHookHandler;
  security: Array<Record<string, string[]>>;
  config: { x402?: boolean };
}

/**
 * A door that failed on the server's side (the database unreachable, the audit log not
 * writable) leaves that failure as the answer: with any-of doors the last door's error is
 * reported, and a door that does not recognise the credential would turn a 503 into a 401.
 */
function serverFailureWins(door: FastifyAuthFunction): FastifyAuthFunction {
  return async function (this: FastifyInstance, req, reply) {
    try {
      // Every door here is an async function of (request, reply).
      await (door as (this: FastifyInstance, ...a: unknown[]) => Promise<void>).call(
        this,
        req,
        reply,
      );
    } catch (err) {
      const ve = toVaultError(err);
      if (ve.status >= 500) req.authRefusal = ve;
      throw err;
    }
  } as FastifyAuthFunction;
}

function declare(app: FastifyInstance, names: DoorName[], relation: "or" | "and"): Doors {
  const auth = app.auth(
    names.map((n) => serverFailureWins(app[n])),
    { relation },
  );
  const security =
    relation === "or"
      ? names.map((d) => ({ [d]: [] }))
      : [Object.fromEntries(names.map((d) => [d, []]))];
  return { auth, security, config: names.includes("x402") ? { x402: true } : {} };
}

/** The route accepts any one of `names`. */
export const anyOf = (app: FastifyInstance, names: DoorName[]) => declare(app, names, "or");

/** The route needs all of `names` at once (a later door narrows what an earlier admitted). */
export const allOf = (app: FastifyInstance, names: DoorName[]) => declare(app, names, "and");

/**
 * A bearer credential (API key or agent token) AND a presentation (all-of), as two OpenAPI
 * security requirements: { apiKey, vc } or { jwt, vc }.
 */
export function bearerAndPresentation(app: FastifyInstance): Doors {
  const bearer = app.auth([serverFailureWins(app.apiKey), serverFailureWins(app.jwt)], {
    relation: "or",
  });
  const auth = app.auth([bearer as unknown as FastifyAuthFunction, serverFailureWins(app.vc)], {
    relation: "and",
  });
  const security: Doors["security"] = [
    { apiKey: [], vc: [] },
    { jwt: [], vc: [] },
  ];
  return { auth, security, config: {} };
}

/** The doors of the routes that use an agent's key: any-of, or two factors when configured. */
export const signingDoors = (app: FastifyInstance, requirePresentation: boolean): Doors =>
  requirePresentation
    ? bearerAndPresentation(app)
    : anyOf(app, ["apiKey", "jwt", "vc", "delegation"]);
