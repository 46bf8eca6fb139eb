/**
 * Front door: verifiable presentations, `X-Agent-Presentation: <JWT VP>` over a challenge
 * from GET /v1/auth/challenge. Decorates the instance with `vc`; every outcome is audited.
 * A separate header (not Authorization) so that a route can require an API key or token
 * AND a presentation (all-of).
 */
import type { FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { CredentialService } from "../../auth/vc/index.js";
import { admit, type DoorAudit, notMine, refuse } from "./outcome.js";

declare module "fastify" {
  interface FastifyInstance {
    vc: (req: FastifyRequest) => Promise<void>;
  }
}

export const PRESENTATION_HEADER = "x-agent-presentation";

export const vcDoor = fp<{ credentials: CredentialService } & DoorAudit>(
  async (app, { credentials, ...out }) => {
    app.decorate("vc", async (req: FastifyRequest) => {
      const vp = req.headers[PRESENTATION_HEADER];
      if (typeof vp !== "string" || vp.length === 0) notMine(req);
      let p: Awaited<ReturnType<CredentialService["authenticate"]>>;
      try {
        p = await credentials.authenticate(vp.trim());
      } catch (err) {
        return refuse(out, req, "vc", err);
      }
      const { did, credentialIssuer, ...principal } = p;
      await admit(out, req, "vc", principal, { did, credentialIssuer });
    });
  },
  { name: "front-door-vc", dependencies: ["front-door-apikey"] },
);
