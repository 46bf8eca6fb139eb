/**
 * Front door: x402 payments (v2 headers PAYMENT-REQUIRED / PAYMENT-SIGNATURE /
 * PAYMENT-RESPONSE). A fastify plugin that decorates the instance with `x402`, an
 * authenticator routes compose with @fastify/auth next to the other doors; a route accepts it
 * by naming it in anyOf(app, [...]) (src/http/auth/doors.ts, which sets `config: { x402: true }`)
 * and is priced by VAULT_X402_PRICES.
 *
 *  - onRequest: a priced route called with neither a payment nor other credentials gets
 *    402 + PAYMENT-REQUIRED before its body is read or validated (what crawlers see); the
 *    automatic HEAD of a priced GET is priced as the GET;
 *  - the authenticator verifies the payment and takes it in the ledger (src/auth/x402);
 *  - onSend: the route succeeded → settle, add PAYMENT-RESPONSE; the route failed → the
 *    payment is released unused; settlement failed or unknown → the body is withheld.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import fp from "fastify-plugin";
import type { AuthorizedPayment, X402Gate } from "../../auth/x402/gate.js";
import {
  encodePaymentRequired,
  encodePaymentResponse,
  PAYMENT_REQUIRED,
  PAYMENT_RESPONSE,
  PAYMENT_SIGNATURE,
} from "../../auth/x402/headers.js";
import { paymentRequiredFor, type RouteOffer } from "../../auth/x402/offers.js";
import { VaultError } from "../../errors/index.js";
import { toVaultError } from "../errors.js";
import { notMine } from "./outcome.js";
import { PRESENTATION_HEADER } from "./vc.js";

declare module "fastify" {
  interface FastifyInstance {
    x402: (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  }
  interface FastifyRequest {
    payment?: AuthorizedPayment;
  }
  interface FastifyContextConfig {
    /** The route accepts x402 payments (it is paid when VAULT_X402_PRICES prices it). */
    x402?: boolean;
  }
}

/** A credential for another door (API key or token, or a presentation) was shown. */
const otherCredential = (req: FastifyRequest): boolean =>
  req.headers.authorization !== undefined || req.headers[PRESENTATION_HEADER] !== undefined;

export const x402Door = fp<{ gate: X402Gate; baseUrl: string }>(
  async (app, { gate, baseUrl }) => {
    const declared = new Set<string>();
    app.decorateRequest("payment", undefined);

    app.addHook("onRoute", (route) => {
      if (!route.config?.x402) return;
      for (const m of [route.method].flat()) declared.add(`${m} ${route.url}`);
    });
    app.addHook("onReady", async () => {
      for (const o of gate.offers()) {
        if (!declared.has(o.route))
          throw new Error(`VAULT_X402_PRICES prices "${o.route}", which does not accept x402`);
      }
    });

    const offerOf = (req: FastifyRequest): RouteOffer | undefined => {
      if (!req.routeOptions.config?.x402) return undefined;
      // HEAD is GET without content (RFC 9110 §9.3.2): fastify's automatic HEAD route of a
      // priced GET has the GET's price, so an unpaid HEAD is 402 like the GET, not 401.
      const method = req.method === "HEAD" ? "GET" : req.method;
      return gate.offer(`${method} ${req.routeOptions.url}`);
    };
    const demand = (req: FastifyRequest, reply: FastifyReply, offer: RouteOffer, error: string) => {
      const url = `${baseUrl}${req.url}`.slice(0, 2048);
      void reply.header(
        PAYMENT_REQUIRED,
        encodePaymentRequired(paymentRequiredFor(offer, url, error)),
      );
    };

    app.addHook("onRequest", async (req, reply) => {
      const offer = offerOf(req);
      if (!offer) return;
      if (req.headers[PAYMENT_SIGNATURE] !== undefined || otherCredential(req)) return;
      await gate.refused(
        offer.route,
        "X402_PAYMENT_REQUIRED",
        "no payment and no credentials",
        req.ip,
      );
      demand(req, reply, offer, "payment required");
      throw new VaultError("X402_PAYMENT_REQUIRED");
    });

    app.decorate("x402", async (req: FastifyRequest, reply: FastifyReply) => {
      const offer = offerOf(req);
      // Not a paid route: this door does not apply (defer to another door's refusal).
      if (!offer) notMine(req);
      const header = req.headers[PAYMENT_SIGNATURE];
      if (header === undefined && otherCredential(req)) {
        // Another credential was shown and refused: report that refusal, and the price.
        demand(req, reply, offer, "payment required");
        notMine(req);
      }
      try {
        if (header === undefined) {
          await gate.refused(offer.route, "X402_PAYMENT_REQUIRED", "no payment", req.ip);
          throw new VaultError("X402_PAYMENT_REQUIRED");
        }
        const payment = await gate.authorize(offer, header, req.ip);
        req.payment = payment;
        req.principal = {
          kind: "operator",
          keyId: `x402:${payment.payer.toLowerCase()}`,
          agentId: null,
          // Read-only, and only on the priced route the payment was for.
          scopes: new Set(["READ", "AUDIT"]),
          via: "x402",
        };
      } catch (err) {
        const ve = toVaultError(err);
        if (ve.status === 402) demand(req, reply, offer, ve.code);
        throw ve;
      }
    });

    app.addHook("onSend", async (req, reply, payload) => {
      const payment = req.payment;
      if (!payment) return payload;
      req.payment = undefined;
      if (reply.statusCode >= 400) {
        // A release that cannot be written leaves the payment "verified": the next start
        // marks it unknown (never reusable), and this answer still goes out.
        await gate
          .release(payment, `the route answered ${reply.statusCode}`)
          .catch((err: unknown) => req.log.error({ err }, "x402: release not recorded"));
        return payload;
      }
      try {
        const settled = await gate.settle(payment);
        void reply.header(PAYMENT_RESPONSE, encodePaymentResponse(settled));
        return payload;
      } catch (err) {
        const ve = toVaultError(err);
        void reply.code(ve.status).header("content-type", "application/json; charset=utf-8");
        if (ve.status === 402) demand(req, reply, payment.offer, ve.code);
        return JSON.stringify(ve.toJSON());
      }
    });
  },
  { name: "front-door-x402", dependencies: ["front-door-apikey"] },
);
