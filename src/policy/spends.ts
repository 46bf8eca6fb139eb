/**
 * The one JSON codec for a request's spends (amounts are bigint in memory, decimal strings
 * on disk and on the wire), used by the vault's signing records and by the nodes' own
 * spend records, so both sides read the same bytes the same way.
 */
import type { Spend } from "./types.js";

/** A spend as JSON carries it: the amount a decimal string. */
export type SpendJson = Omit<Spend, "amount"> & { amount: string };

/** The spends as JSON values (audit entries and API answers embed them). */
export function spendsAsJson(spends: Spend[]): SpendJson[] {
  return spends.map((s) => ({ ...s, amount: s.amount.toString() }));
}

export function spendsToJson(spends: Spend[]): string {
  return JSON.stringify(spendsAsJson(spends));
}

export function spendsFromJson(json: string): Spend[] {
  return (JSON.parse(json) as Array<Spend & { amount: string }>).map((s) => ({
    ...s,
    amount: BigInt(s.amount),
  }));
}
