/**
 * Runs a Chipotle Lit Action the way lit-api-server's runtime does (lit-actions/server/
 * runtime.rs: the code, then `const data = await main(params)`, the response being
 * `data`), with the globals a Chipotle action sees: `ethers` (5.7.2) and
 * `Lit.Actions.getPrivateKey({pkpId})`. node:vm is not a sandbox: tests only.
 */
import { createContext, runInContext } from "node:vm";
import * as ethers5 from "ethers5";

export interface ChipotleGlobals {
  getPrivateKey(args: { pkpId: string }): Promise<string>;
}

export async function runChipotleAction(
  code: string,
  params: unknown,
  globals: ChipotleGlobals,
): Promise<{ result: unknown; logs: string }> {
  const logs: string[] = [];
  const actions = { getPrivateKey: globals.getPrivateKey };
  const context = createContext({
    ethers: ethers5,
    Lit: { Actions: actions },
    LitActions: actions,
    console: { log: (...a: unknown[]) => logs.push(a.map(String).join(" ")) },
    TextEncoder,
    TextDecoder,
    Uint8Array,
  });
  runInContext(code, context, { filename: "chipotle-action.js" });
  const main = runInContext("typeof main === 'function' ? main : undefined", context) as
    | ((p: unknown) => Promise<unknown>)
    | undefined;
  if (main === undefined) throw new Error("the action defines no main");
  const result = await main(JSON.parse(JSON.stringify(params)));
  return { result, logs: logs.join("\n") };
}
