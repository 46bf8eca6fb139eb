/**
 * How a route declares its front doors. One call gives the @fastify/auth pre-handler, the
 * OpenAPI `security` that documents it and, when the x402 door is among them, the route
 * config that lets a price apply, so that the three cannot drift apart.
 */
import type { FastifyAuthFunction } from "@fastify/auth";
import type { FastifyInstance, preHandlerHookHandler } from "fastify";

export type DoorName = "apiKey" | "jwt" | "vc" | "x402" | "delegation";

export interface Doors {
  auth: preHandlerHookHandler;
  security: Array<Record<string, string[]>>;
  config: { x402?: boolean };
}

function declare(app: FastifyInstance, names: DoorName[], relation: "or" | "and"): Doors {
  const auth = app.auth(
    names.map((n) => app[n]),
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
  const bearer = app.auth([app.apiKey, app.jwt], { relation: "or" });
  const auth = app.auth([bearer as unknown as FastifyAuthFunction, app.vc], { relation: "and" });
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
