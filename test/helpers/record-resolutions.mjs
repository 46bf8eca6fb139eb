/**
 * `node --import ./test/helpers/record-resolutions.mjs …`: records every module the process
 * resolves into the file named by AV_RESOLVE_LOG, one "pid url" per line: ES modules through
 * a module.register resolve hook (Node's customization hooks,
 * https://nodejs.org/api/module.html#customization-hooks), CommonJS through a wrapper of
 * Module._resolveFilename (require() does not reach the hooks on Node 20/22). Child
 * processes started with the same execArgv (the signer nodes) record too.
 * Used by test/signers/no-lit-at-start.test.ts.
 */
import { appendFileSync } from "node:fs";
import Module, { register } from "node:module";
import { pathToFileURL } from "node:url";

register("./record-resolutions-hooks.mjs", import.meta.url);

const file = process.env.AV_RESOLVE_LOG;
const original = Module._resolveFilename;
Module._resolveFilename = function recorded(...args) {
  const resolved = original.apply(this, args);
  if (file && typeof resolved === "string" && resolved.startsWith("/")) {
    appendFileSync(file, `${process.pid} ${pathToFileURL(resolved).href}\n`);
  }
  return resolved;
};
