/** Lit's v7 (Datil) networks, as `LIT_NETWORK` names them in @lit-protocol/constants 7.4.0. */
export const LIT_V7_NETWORKS = ["datil-dev", "datil-test", "datil"] as const;
export type LitV7Network = (typeof LIT_V7_NETWORKS)[number];

export function isLitV7Network(value: unknown): value is LitV7Network {
  return typeof value === "string" && (LIT_V7_NETWORKS as readonly string[]).includes(value);
}
