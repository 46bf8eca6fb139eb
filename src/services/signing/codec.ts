/** Spends as stored in sign_requests.spends and audit entries: amounts as decimal strings. */
import type { Spend } from "../../policy/types.js";

export function spendsToJson(spends: Spend[]): string {
  return JSON.stringify(spends.map((s) => ({ ...s, amount: s.amount.toString() })));
}

export function spendsFromJson(json: string): Spend[] {
  return (JSON.parse(json) as Array<Spend & { amount: string }>).map((s) => ({
    ...s,
    amount: BigInt(s.amount),
  }));
}
