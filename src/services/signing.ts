/**
 * Policy-gated signing: the service lives in ./signing/ (one module per job); this file
 * keeps the import path the HTTP routes, the bench and the tests use.
 */
export * from "./signing/index.js";
