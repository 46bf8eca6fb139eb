/**
 * The CIDs (IPFS v0, ipfs-only-hash with default options, as Lit computes them) of the
 * committed policy Lit Action templates in ./templates/, written by
 * scripts/build-lit-action.mjs. test/signers/lit/action-pin.test.ts fails when the
 * source, the templates and these pins disagree. An operator's action has its own CID
 * (its authority key is substituted): see actionCid() in ./index.ts.
 */
export const TEMPLATE_CIDS = {
  "lit-v7": "QmPScCQteA19cfUZgryX2bSUgHwfAPq2CF8MwTVcS2t6k9",
  "lit-chipotle": "QmNUKCFccsqBmhEhCQuBRrkztsCbk2iYV2KhZjPMoqLxBz",
} as const;
