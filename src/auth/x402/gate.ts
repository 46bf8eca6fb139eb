/**
 * The vault as a paid service (x402 v2, "exact" scheme, EIP-3009). Transport-agnostic:
 * the fastify front door (src/http/auth/x402.ts) calls
 *   authorize(offer, header) → checks the payment locally (shape, requirements, network,
 *     time window, EIP-712 signature), asks the facilitator to /verify it, then takes the
 *     payment's row in the ledger (insert-or-fail: replays and parallel reuse stop here);
 *   settle(p) → /settle after the route succeeded; a timeout or lost answer is recorded as
 *     "unknown" (never reusable), not as failed;
 *   release(p) → the route failed before settlement, the authorization was not used.
 * Every outcome is audited (x402.paid, x402.refused, x402.settle_failed, x402.settle_unknown,
 * x402.released) with the payer's address as the actor; signatures are never logged.
 */
import { randomBytes } from "node:crypto";
import type { FacilitatorClient } from "@x402/core/server";
import {
  FacilitatorTimeoutError,
  type PaymentPayload,
  type PaymentRequirements,
  SettleError,
  type SettleResponse,
  VerifyError,
} from "@x402/core/types";
import { getAddress, isAddress, verifyTypedData } from "ethers";
import type { AuditLog } from "../../audit/types.js";
import type { X402Config } from "../../config/x402.js";
import { type ErrorCode, VaultError } from "../../errors/index.js";
import { isObj, type Obj } from "../../util/json.js";
import type { RefusalLog } from "../refusals.js";
import { decodePaymentSignature, type Eip3009Payload } from "./headers.js";
import { buildOffer, type RouteOffer, type X402Evm } from "./offers.js";
import { type PaymentRow, type PaymentStatus, type PaymentStore, paymentId } from "./store.js";

export interface AuthorizedPayment {
  id: string;
  payer: string;
  offer: RouteOffer;
  payload: PaymentPayload;
  requirements: PaymentRequirements;
}

export interface PaymentStatusView {
  id: string;
  status: PaymentRow["status"];
  payer: string;
  network: string;
  asset: string;
  amount: string;
  payTo: string;
  route: string;
  transaction?: string;
  reason?: string;
  updatedAt: string;
}

export interface X402Gate {
  offers(): RouteOffer[];
  offer(route: string): RouteOffer | undefined;
  /** `client`: the caller's address, which bounds how fast its refusals are audited. */
  authorize(offer: RouteOffer, header: unknown, client?: string): Promise<AuthorizedPayment>;
  settle(p: AuthorizedPayment): Promise<SettleResponse>;
  release(p: AuthorizedPayment, reason: string): Promise<void>;
  status(id: string): Promise<PaymentStatusView>;
  /** Audits a refusal that happened before authorize (no payment header at all). */
  refused(route: string, code: ErrorCode, reason: string, client: string): Promise<void>;
  /**
   * Payments left "verified" by a process that stopped between taking them and settling
   * them become "unknown" (a settle may have been under way, so they are never reusable;
   * the payer pays again with a fresh authorization). `all`: every one (one process, at its
   * start: whatever is verified was left by its own stop). Otherwise (replicas) only those
   * whose holder's lease lapsed: a payment a live replica is still serving is left to it.
   */
  recoverStranded(opts?: { all?: boolean }): Promise<number>;
}

const HEX32 = /^0x[0-9a-fA-F]{64}$/;
const UINT = /^\d{1,78}$/;

function eip3009(payload: Obj): Eip3009Payload {
  const a = payload.authorization;
  const bad = (what: string) =>
    new VaultError("X402_MALFORMED", `payload.${what} is malformed`, { reason: what });
  if (typeof payload.signature !== "string" || !/^0x[0-9a-fA-F]{130}$/.test(payload.signature))
    throw bad("signature");
  if (!isObj(a)) throw bad("authorization");
  for (const f of ["from", "to"]) {
    const v = a[f];
    if (typeof v !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(v)) throw bad(`authorization.${f}`);
    // Mixed case must be a valid EIP-55 checksum (getAddress would throw on it later).
    if (!isAddress(v)) throw bad(`authorization.${f}`);
  }
  for (const f of ["value", "validAfter", "validBefore"]) {
    const v = a[f];
    if (typeof v !== "string" || !UINT.test(v)) throw bad(`authorization.${f}`);
  }
  if (typeof a.nonce !== "string" || !HEX32.test(a.nonce)) throw bad("authorization.nonce");
  return payload as unknown as Eip3009Payload;
}

function sameAddress(a: unknown, b: unknown): boolean {
  return typeof a === "string" && typeof b === "string" && a.toLowerCase() === b.toLowerCase();
}

/** Maps a facilitator's invalidReason / errorReason onto the stable codes. */
export function codeForReason(reason: string | undefined): ErrorCode {
  const r = (reason ?? "").toLowerCase();
  if (r.includes("signature")) return "X402_INVALID_SIGNATURE";
  if (r.includes("expired") || r.includes("valid_before") || r.includes("valid_after"))
    return "X402_EXPIRED";
  if (r.includes("nonce") || r.includes("used")) return "X402_REPLAYED";
  if (r.includes("network")) return "X402_WRONG_NETWORK";
  if (r.includes("insufficient") || r.includes("balance")) return "X402_INSUFFICIENT_FUNDS";
  return "X402_INVALID_PAYMENT";
}

export function createX402Gate(deps: {
  config: X402Config;
  facilitator: FacilitatorClient;
  store: PaymentStore;
  audit: AuditLog;
  /** Refusals go through the per-client budget (src/auth/refusals.ts). */
  refusals: RefusalLog;
  /** @x402/evm, loaded by createX402 when a route is priced (see offers.ts). */
  evm?: X402Evm;
  now?: () => number;
  /** Where a ledger write that failed after settlement is reported. */
  log?: (line: string) => void;
  /** How long a payment in flight is held without renewal (renewed every third); 30 s. */
  leaseMs?: number;
}): X402Gate {
  const { facilitator, store, audit } = deps;
  const leases = paymentLeases(store, deps.leaseMs ?? 30_000, deps.now ?? Date.now, deps.log);
  /**
   * Once the facilitator has answered, the money has moved (or may have): the audit entry is
   * written first and the ledger's status after, best effort. A ledger that cannot be written
   * leaves the payment "verified", which is never reusable, and the next start marks it
   * unknown; the client still gets the settlement's own answer, never a 503 to retry.
   */
  const record = (
    id: string,
    status: Exclude<PaymentStatus, "verified">,
    tx?: string,
    why?: string,
  ) =>
    store
      .finish(id, status, tx, why)
      .catch((err: unknown) =>
        deps.log?.(
          `x402: payment ${id} is ${status} but the ledger was not updated: ${(err as Error).message}`,
        ),
      );
  const evm = () => {
    if (!deps.evm) throw new Error("x402: @x402/evm is not loaded (no priced route)");
    return deps.evm;
  };
  const now = deps.now ?? Date.now;
  const offers = new Map(
    Object.entries(deps.config.prices).map(([route, price]) => [
      route,
      buildOffer(route, price, deps.evm),
    ]),
  );

  const refuse = (
    { route, client }: { route: string; client: string },
    code: ErrorCode,
    reason: string,
    extra: { payer?: string; paymentId?: string } = {},
  ): VaultError => {
    const recording = deps.refusals.record(client, {
      type: "x402.refused",
      actor: extra.payer ? `x402:${extra.payer.toLowerCase()}` : "x402:anonymous",
      data: { route, code, reason: reason.slice(0, 200), ...extra },
    });
    const error = new VaultError(code, undefined, { reason: reason.slice(0, 200), ...extra });
    recorded.set(error, recording);
    return error;
  };
  // A refusal is audited before it is answered: authorize waits for the record of the
  // refusal it throws (and a log that cannot be written answers AUDIT_UNAVAILABLE instead).
  const recorded = new WeakMap<VaultError, Promise<unknown>>();
  const afterRecord = async (err: unknown): Promise<never> => {
    const recording = err instanceof VaultError ? recorded.get(err) : undefined;
    if (recording) await recording;
    throw err;
  };

  /** Local checks: cheap, and they keep garbage away from the facilitator. */
  const check = (
    at: { route: string; client: string },
    offer: RouteOffer,
    payload: PaymentPayload,
  ) => {
    const req = offer.requirements;
    const acc = payload.accepted as unknown as Obj;
    if (acc.network !== req.network)
      throw refuse(at, "X402_WRONG_NETWORK", `network ${String(acc.network).slice(0, 40)}`);
    for (const f of ["scheme", "amount"] as const) {
      if (acc[f] !== req[f]) throw refuse(at, "X402_REQUIREMENTS_MISMATCH", `accepted.${f}`);
    }
    for (const f of ["asset", "payTo"] as const) {
      if (!sameAddress(acc[f], req[f]))
        throw refuse(at, "X402_REQUIREMENTS_MISMATCH", `accepted.${f}`);
    }
    let p: Eip3009Payload;
    try {
      p = eip3009(payload.payload);
    } catch (err) {
      const reason = (err as VaultError).details?.reason;
      throw refuse(at, "X402_MALFORMED", `payload ${String(reason)}`);
    }
    const a = p.authorization;
    const payer = getAddress(a.from);
    if (!sameAddress(a.to, req.payTo) || a.value !== req.amount)
      throw refuse(at, "X402_REQUIREMENTS_MISMATCH", "authorization to/value", { payer });
    const t = Math.floor(now() / 1000);
    if (BigInt(a.validBefore) < BigInt(t + 6) || BigInt(a.validAfter) > BigInt(t))
      throw refuse(at, "X402_EXPIRED", "outside validAfter..validBefore", { payer });
    let signer: string;
    try {
      signer = verifyTypedData(
        {
          name: req.extra.name as string,
          version: req.extra.version as string,
          chainId: Number(req.network.split(":")[1]),
          verifyingContract: req.asset,
        },
        { TransferWithAuthorization: [...evm().authorizationTypes.TransferWithAuthorization] },
        a,
        p.signature,
      );
    } catch {
      signer = "";
    }
    if (!sameAddress(signer, payer))
      throw refuse(at, "X402_INVALID_SIGNATURE", "signer is not authorization.from", {
        payer,
      });
    return { payer, nonce: a.nonce };
  };

  const authorizeNow = async (
    offer: RouteOffer,
    header: unknown,
    client: string,
  ): Promise<AuthorizedPayment> => {
    const at = { route: offer.route, client };
    let payload: PaymentPayload;
    try {
      payload = decodePaymentSignature(header);
    } catch (err) {
      throw refuse(at, "X402_MALFORMED", String((err as VaultError).details?.reason));
    }
    const { payer, nonce } = check(at, offer, payload);
    const req = offer.requirements;
    const id = paymentId(req.network, req.asset, payer, nonce);
    const known = await store.get(id);
    if (known)
      throw refuse(at, "X402_REPLAYED", `payment is ${known.status}`, {
        payer,
        paymentId: id,
      });
    let verdict: Awaited<ReturnType<FacilitatorClient["verify"]>>;
    try {
      verdict = await facilitator.verify(payload, req);
    } catch (err) {
      if (err instanceof VerifyError) {
        throw refuse(at, codeForReason(err.invalidReason), err.invalidReason ?? "invalid", {
          payer,
        });
      }
      throw refuse(at, "X402_FACILITATOR_UNAVAILABLE", "verify did not answer", {
        payer,
      });
    }
    if (!verdict.isValid) {
      const reason = verdict.invalidReason ?? "invalid";
      throw refuse(at, codeForReason(reason), reason, { payer });
    }
    const taken = await leases.take({
      id,
      network: req.network,
      asset: req.asset.toLowerCase(),
      payer: payer.toLowerCase(),
      nonce: nonce.toLowerCase(),
      route: offer.route,
      amount: req.amount,
      pay_to: req.payTo.toLowerCase(),
    });
    if (!taken)
      throw refuse(at, "X402_REPLAYED", "payment is already in use", {
        payer,
        paymentId: id,
      });
    return { id, payer, offer, payload, requirements: req };
  };

  /** Asks the facilitator to settle; records and audits the outcome. */
  const settleNow = async (p: AuthorizedPayment): Promise<SettleResponse> => {
    const actor = `x402:${p.payer.toLowerCase()}`;
    const base = { route: p.offer.route, paymentId: p.id, payer: p.payer };
    let result: SettleResponse;
    try {
      result = await facilitator.settle(p.payload, p.requirements);
    } catch (err) {
      if (err instanceof SettleError) {
        result = {
          success: false,
          errorReason: err.errorReason,
          transaction: err.transaction,
          network: err.network,
        };
      } else {
        // Timed out or the answer was lost: the transfer may have happened.
        const reason =
          err instanceof FacilitatorTimeoutError ? "settle timed out" : "settle answer lost";
        await audit.append({ type: "x402.settle_unknown", actor, data: { ...base, reason } });
        await record(p.id, "unknown", undefined, reason);
        throw new VaultError("X402_SETTLEMENT_UNKNOWN", undefined, {
          paymentId: p.id,
          statusUrl: `/v1/x402/payments/${p.id}`,
        });
      }
    }
    if (!result.success) {
      const reason = (result.errorReason ?? "settle failed").slice(0, 200);
      await audit.append({ type: "x402.settle_failed", actor, data: { ...base, reason } });
      await record(p.id, "failed", result.transaction || undefined, reason);
      throw new VaultError("X402_SETTLEMENT_FAILED", undefined, { reason, paymentId: p.id });
    }
    await audit.append({
      type: "x402.paid",
      actor,
      data: {
        ...base,
        network: p.requirements.network,
        asset: p.requirements.asset,
        amount: p.requirements.amount,
        payTo: p.requirements.payTo,
        transaction: result.transaction,
      },
    });
    await record(p.id, "settled", result.transaction);
    return result;
  };

  return {
    offers: () => [...offers.values()],
    offer: (route) => offers.get(route),
    async refused(route, code, reason, client) {
      await recorded.get(refuse({ route, client }, code, reason));
    },

    authorize(offer, header, client = "unknown") {
      return authorizeNow(offer, header, client).catch(afterRecord);
    },

    async settle(p) {
      // Not renewed any more, however settling ended: a payment left "verified" (a write that
      // failed) is recovered once its lease lapses.
      try {
        return await settleNow(p);
      } finally {
        leases.done(p.id);
      }
    },

    async recoverStranded(opts = {}) {
      const nowMs = now();
      // Taken by an earlier build (no lease): only once older than any paid request lasts.
      const lapsed = { nowMs, legacyBeforeMs: nowMs - 2 * deps.config.timeoutMs - 60_000 };
      const rows = opts.all
        ? await store.verified()
        : await store.lapsed(nowMs, lapsed.legacyBeforeMs);
      const reason = "the vault stopped before settlement finished";
      let marked = 0;
      for (const r of rows) {
        // Conditional: another replica recovering too, or the holder renewing meanwhile, wins.
        if (!(await store.strand(r.id, reason, opts.all ? undefined : lapsed))) continue;
        marked += 1;
        await audit.append({
          type: "x402.settle_unknown",
          actor: "system:recovery",
          data: { route: r.route, paymentId: r.id, payer: r.payer, reason },
        });
      }
      return marked;
    },

    async release(p, reason) {
      let released: boolean;
      try {
        released = await store.release(p.id);
      } finally {
        leases.done(p.id);
      }
      if (released) {
        await audit.append({
          type: "x402.released",
          actor: `x402:${p.payer.toLowerCase()}`,
          data: { route: p.offer.route, paymentId: p.id, reason: reason.slice(0, 200) },
        });
      }
    },

    async status(id) {
      const row = await store.get(id);
      if (!row) throw new VaultError("X402_PAYMENT_NOT_FOUND");
      return {
        id: row.id,
        status: row.status,
        payer: row.payer,
        network: row.network,
        asset: row.asset,
        amount: row.amount,
        payTo: row.pay_to,
        route: row.route,
        ...(row.transaction ? { transaction: row.transaction } : {}),
        ...(row.reason ? { reason: row.reason } : {}),
        updatedAt: new Date(row.updated_ms).toISOString(),
      };
    },
  };
}

/**
 * The leases of the payments this process holds in flight (src/auth/x402/store.ts): taken
 * with the payment, renewed together every third of their length while any is in flight
 * (no timer runs when none is), dropped once the payment is finished or released.
 */
function paymentLeases(
  store: PaymentStore,
  leaseMs: number,
  now: () => number,
  log?: (line: string) => void,
) {
  const owner = randomBytes(8).toString("hex");
  const inFlight = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  const renew = () =>
    store
      .renew({ owner, untilMs: now() + leaseMs }, [...inFlight])
      .catch((err: unknown) => log?.(`x402: leases not renewed: ${(err as Error).message}`));
  return {
    async take(row: Parameters<PaymentStore["lock"]>[0]): Promise<boolean> {
      const taken = await store.lock(row, { owner, untilMs: now() + leaseMs });
      if (!taken) return false;
      inFlight.add(row.id);
      if (!timer) {
        timer = setInterval(renew, Math.max(1, Math.floor(leaseMs / 3)));
        timer.unref();
      }
      return true;
    },
    done(id: string): void {
      inFlight.delete(id);
      if (inFlight.size === 0 && timer) {
        clearInterval(timer);
        timer = undefined;
      }
    },
  };
}
