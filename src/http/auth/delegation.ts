/**
 * Front door: delegation chains (README "Delegation chains"). `Authorization: Delegation
 * <link>,<link>,…` (base64 UCAN 1.0 delegations, root first) plus `UCAN-Invocation:
 * <base64 invocation>` signed by the chain's final holder over this request. The principal
 * acts for the root agent, within the intersection of every link's terms; the signing
 * service counts each spend against every link's budget.
 */
import { createHash } from "node:crypto";
import type { FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import { commandOfRoute } from "../../auth/delegation/constraints.js";
import type { DelegationService } from "../../auth/delegation/index.js";
import { MANDATE_HEADER } from "../../auth/delegation/mandate.js";
import { VaultError } from "../../errors/index.js";
import { admit, type DoorAudit, notMine, refuse } from "./outcome.js";

declare module "fastify" {
  interface FastifyInstance {
    delegation: (req: FastifyRequest) => Promise<void>;
  }
}

export const INVOCATION_HEADER = "ucan-invocation";
const EMPTY_SHA256 = createHash("sha256").digest("hex");

function chainOf(req: FastifyRequest): string | undefined {
  const m = /^Delegation\s+(\S+)$/i.exec(req.headers.authorization ?? "");
  return m?.[1];
}

export const delegationDoor = fp<{ delegations: DelegationService } & DoorAudit>(
  async (app, { delegations, ...out }) => {
    app.decorate("delegation", async (req: FastifyRequest) => {
      const chain = chainOf(req);
      if (!chain) notMine(req);
      const invocation = req.headers[INVOCATION_HEADER];
      const mandate = req.headers[MANDATE_HEADER];
      const command = commandOfRoute(req.routeOptions?.url ?? "");
      const agentId = (req.params as { id?: string } | undefined)?.id;
      let grant: Awaited<ReturnType<DelegationService["verify"]>>;
      try {
        if (!command || !agentId) throw new VaultError("DELEGATION_COMMAND_NOT_ALLOWED");
        if (typeof invocation !== "string") throw new VaultError("INVOCATION_MISSING");
        if (Array.isArray(mandate)) throw new VaultError("MANDATE_MALFORMED", "one mandate only");
        grant = await delegations.verify(chain, invocation, {
          agentId,
          command,
          method: req.method,
          path: req.url,
          bodySha256: req.bodySha256 ?? EMPTY_SHA256,
          ...(typeof mandate === "string" ? { mandate: mandate.trim() } : {}),
        });
      } catch (err) {
        return refuse(out, req, "delegation", err);
      }
      const { terms, links } = grant;
      const caps = terms.caps ?? {};
      await admit(
        out,
        req,
        "delegation",
        {
          kind: "agent",
          // The whole chain: the signing service re-checks every link right before it signs.
          keyId: `ucan:${links.map((l) => l.cid).join(".")}`,
          agentId: grant.agentId,
          scopes: new Set(["EXECUTE", "SPEND"]),
          via: "delegation",
          spendLimits: terms.caps
            ? [Object.fromEntries(Object.entries(caps).map(([a, c]) => [a, c.maxPerTx]))]
            : [],
          delegation: {
            links,
            ...(terms.recipients ? { recipients: terms.recipients } : {}),
            ...(terms.chains ? { chains: terms.chains } : {}),
          },
        },
        { holder: grant.holder, chain: links.map((l) => l.cid), invocation: grant.invocation },
      );
    });
  },
  { name: "front-door-delegation", dependencies: ["front-door-apikey"] },
);
