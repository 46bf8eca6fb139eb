/**
 * The CIDs (IPFS v0, ipfs-only-hash with default options, as Lit computes them) of the
 * committed policy Lit Action templates in ./templates/, written by
 * scripts/build-lit-action.mjs. test/signers/lit/action-pin.test.ts fails when the
 * source, the templates and these pins disagree. An operator's action has its own CID
 * (its authority key is substituted): see actionCid() in ./index.ts.
 */
export const TEMPLATE_CIDS = {
  "lit-v7": "QmavY7dWXkgFPsgdBzbZe9ZFyuRR1NjdCMmeeXKebJ1f2C",
  "lit-chipotle": "QmZjXQqdJ8nqe2wcutzJFuUX9Uf3aTHi3qvcVzTjTU12Q6",
} as const;
