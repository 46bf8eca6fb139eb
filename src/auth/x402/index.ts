/** x402: the vault as a paid service (gate) and the agent as payer (payFor). */
import { HTTPFacilitatorClient } from "@x402/core/server";
import type { AuditLog } from "../../audit/types.js";
import type { X402Config } from "../../config/x402.js";
import type { Sql } from "../../store/sql/types.js";
import type { RefusalLog } from "../refusals.js";
import { createX402Gate, type X402Gate } from "./gate.js";
import { loadX402Evm } from "./offers.js";
import { openPaymentStore } from "./store.js";

export type { AuthorizedPayment, X402Gate } from "./gate.js";
export { payFor } from "./payer.js";

export async function createX402(
  config: X402Config,
  sql: Sql,
  audit: AuditLog,
  refusals: RefusalLog,
  log?: (line: string) => void,
): Promise<X402Gate> {
  const facilitator = new HTTPFacilitatorClient({
    url: config.facilitatorUrl ?? "http://127.0.0.1:9/unconfigured",
    timeoutMs: config.timeoutMs,
  });
  const priced = Object.keys(config.prices).length > 0;
  const evm = priced ? await loadX402Evm() : undefined;
  const store = await openPaymentStore(sql);
  return createX402Gate({
    config,
    facilitator,
    store,
    audit,
    refusals,
    ...(evm ? { evm } : {}),
    ...(log ? { log } : {}),
  });
}
