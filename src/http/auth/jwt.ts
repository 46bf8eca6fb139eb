/**
 * Front door: agent JWTs, `Authorization: Bearer <JWT>` (three dot-separated parts),
 * from this vault or a trusted issuer. Decorates the instance with `jwt`; a task-bound
 * token needs `X-Task-Id` naming its task. Every outcome is audited.
 */
import type { FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { TokenService } from "../../auth/jwt/index.js";
import { bearer } from "./apikey.js";
import { admit, type DoorAudit, notMine, refuse } from "./outcome.js";

declare module "fastify" {
  interface FastifyInstance {
    jwt: (req: FastifyRequest) => Promise<void>;
  }
}

export const TASK_HEADER = "x-task-id";

/** A bearer credential with a dot is a JWT (well formed or not); API keys never have one. */
export function bearerJwt(req: FastifyRequest): string | undefined {
  const b = bearer(req);
  return b?.includes(".") ? b : undefined;
}

export const jwtDoor = fp<{ tokens: TokenService } & DoorAudit>(
  async (app, { tokens, ...out }) => {
    app.decorate("jwt", async (req: FastifyRequest) => {
      const jwt = bearerJwt(req);
      if (!jwt) notMine(req);
      // A header that cannot name a task is ignored: only a task-bound token needs one, and
      // it then fails with TASK_MISMATCH as if none were sent.
      const raw = req.headers[TASK_HEADER];
      const task = typeof raw === "string" && raw.length <= 128 ? raw : undefined;
      let p: Awaited<ReturnType<TokenService["verify"]>>;
      try {
        p = await tokens.verify(jwt, { ...(task ? { taskId: task } : {}) });
      } catch (err) {
        return refuse(out, req, "jwt", err);
      }
      const { jti, issuer, ...principal } = p;
      await admit(out, req, "jwt", principal, { jti, issuer });
    });
  },
  { name: "front-door-jwt", dependencies: ["front-door-apikey"] },
);
