/** The hooks thread of record-resolutions.mjs: records each resolved URL, changes nothing. */
import { appendFileSync } from "node:fs";

const file = process.env.AV_RESOLVE_LOG;

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  if (file) appendFileSync(file, `${process.pid} ${result.url}\n`);
  return result;
}
