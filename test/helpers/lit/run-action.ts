/**
 * Runs a built Lit Action (src/signers/lit/action/templates, via actionCode) in node:vm
 * with the globals Lit's runtimes give it, for the test fakes of Lit v7 and Chipotle
 * (issue 10). node:vm is NOT a security sandbox: this runs trusted, committed code in
 * tests only, never anything the vault itself relies on.
 *
 * What each runtime provides, as the fakes must honour it:
 * - Lit v7 (Datil, Lit JS SDK v7 executeJs): the action is a script; every jsParam is
 *   a global; `LitActions` (also `Lit.Actions`) has `signEcdsa({toSign, publicKey,
 *   sigName})` and `setResponse({response})`; the result is the response string.
 * - Chipotle (POST /core/v1/lit_action): the script defines `async function main(params)`
 *   which is called with js_params and whose return value is the response;
 *   `Lit.Actions.getPrivateKey({pkpId})` returns the PKP's private key (hex) inside the
 *   TEE, and `ethers` is ethers 5.7.2 (here: the `ethers5` dev dependency).
 * Both are Deno-based; the context gets only what the action may use of that: console,
 * atob/btoa, TextEncoder/TextDecoder, crypto, URL and timers (no self/window: the build
 * needs none). Node's Buffer, process, global and require do not exist there.
 *
 * jsParams cross into the action's realm as JSON (as they do over the wire), so the
 * action sees plain objects of its own realm. Host callbacks receive plain host values:
 * `toSign` arrives as a fresh host Uint8Array.
 *
 * API:
 *   runV7Action(code, { jsParams, signEcdsa, timeoutMs? })
 *     → { response?: string, logs, error?, signCalls }
 *   runChipotleAction(code, { jsParams, getPrivateKey, timeoutMs? })
 *     → { response?: unknown (JSON round-tripped), logs, error?, keyCalls }
 * `error` is the message of whatever the action threw (Lit reports it as a failure);
 * signCalls / keyCalls count the calls of signEcdsa / getPrivateKey, so a test can show
 * a refused request never reached them.
 */
import vm from "node:vm";

export interface SignEcdsaParams {
  toSign: Uint8Array;
  publicKey: string;
  sigName: string;
}

export interface V7Run {
  /** What the action passed to LitActions.setResponse (the last call), if anything. */
  response?: string;
  logs: string;
  error?: string;
  signCalls: number;
}

export interface ChipotleRun {
  /** main's return value, JSON round-tripped (as Chipotle returns it), if it returned. */
  response?: unknown;
  logs: string;
  error?: string;
  keyCalls: number;
}

const DEFAULT_TIMEOUT_MS = 30_000;

function newContext(logs: string[], extra: Record<string, unknown>): vm.Context {
  const log = (...args: unknown[]) => {
    logs.push(args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
  };
  const context = vm.createContext({
    console: { log, info: log, warn: log, error: log, debug: log },
    atob,
    btoa,
    TextEncoder,
    TextDecoder,
    crypto: globalThis.crypto,
    URL,
    setTimeout,
    clearTimeout,
    ...extra,
  });
  return context;
}

/** A value of the host, rebuilt inside the context's realm from its JSON. */
function intoRealm(context: vm.Context, value: unknown): unknown {
  if (value === undefined) return undefined; // JSON has no undefined: the param is absent
  const parse = vm.runInContext("(text) => JSON.parse(text)", context) as (t: string) => unknown;
  return parse(JSON.stringify(value));
}

/** An error's message, from either realm (the action's Errors are not host Errors). */
function message(err: unknown): string {
  const m = typeof err === "object" && err !== null ? (err as { message?: unknown }).message : err;
  return typeof m === "string" ? m : String(err);
}

async function settle<T>(work: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the action ran over ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function runV7Action(
  code: string,
  opts: {
    jsParams: Record<string, unknown>;
    signEcdsa: (params: SignEcdsaParams) => unknown;
    timeoutMs?: number;
  },
): Promise<V7Run> {
  const logs: string[] = [];
  const run: V7Run = { logs: "", signCalls: 0 };
  const actions = {
    signEcdsa: async (p: { toSign?: unknown; publicKey?: unknown; sigName?: unknown }) => {
      run.signCalls++;
      const toSign = p?.toSign;
      if (!(ArrayBuffer.isView(toSign) || Array.isArray(toSign))) {
        throw new Error("signEcdsa: toSign must be an array of bytes");
      }
      return opts.signEcdsa({
        toSign: Uint8Array.from(toSign as ArrayLike<number>),
        publicKey: String(p.publicKey),
        sigName: String(p.sigName),
      });
    },
    setResponse: (p: { response?: unknown }) => {
      run.response = String(p?.response);
    },
  };
  const context = newContext(logs, { LitActions: actions, Lit: { Actions: actions } });
  for (const [key, value] of Object.entries(opts.jsParams)) {
    if (value !== undefined) context[key] = intoRealm(context, value);
  }
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    const completion: unknown = vm.runInContext(code, context, { timeout: timeoutMs });
    await settle(Promise.resolve(completion), timeoutMs);
  } catch (err) {
    run.error = message(err);
  }
  run.logs = logs.join("\n");
  return run;
}

export async function runChipotleAction(
  code: string,
  opts: {
    jsParams: Record<string, unknown>;
    getPrivateKey: (params: { pkpId: string }) => string | Promise<string>;
    timeoutMs?: number;
  },
): Promise<ChipotleRun> {
  const logs: string[] = [];
  const run: ChipotleRun = { logs: "", keyCalls: 0 };
  const { ethers } = await import("ethers5");
  const actions = {
    getPrivateKey: async (p: { pkpId?: unknown }) => {
      run.keyCalls++;
      return opts.getPrivateKey({ pkpId: String(p?.pkpId) });
    },
  };
  const context = newContext(logs, { Lit: { Actions: actions }, ethers });
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  try {
    vm.runInContext(code, context, { timeout: timeoutMs });
    const main: unknown = context.main;
    if (typeof main !== "function") throw new Error("the action defines no main function");
    const params = intoRealm(context, opts.jsParams);
    const value: unknown = await settle(Promise.resolve(main(params)), timeoutMs);
    if (value !== undefined) run.response = JSON.parse(JSON.stringify(value));
  } catch (err) {
    run.error = message(err);
  }
  run.logs = logs.join("\n");
  return run;
}
