/**
 * The node's engine thread (worker_threads): runs the heavy DKLs23 steps, key
 * generation rounds and presignature rounds, so that they never block the node's
 * event loop, where /healthz and the online signing step are answered. WASM objects
 * live here, by handle, and are freed on every path as in src/threshold/engine.ts.
 * The worker is part of the node process: shares and presignatures cross only the
 * thread boundary (structured clone), never the process boundary.
 */
import { parentPort } from "node:worker_threads";
import { KeygenParty, SignParty, type WireMessage } from "../threshold/engine.js";
import type { EngineReply, EngineRequest } from "./engine-host.js";

const keygens = new Map<number, KeygenParty>();
const signs = new Map<number, SignParty>();

function live<T>(map: Map<number, T>, handle: number): T {
  const party = map.get(handle);
  if (!party) throw new Error(`no engine party ${handle}`);
  return party;
}

/** Takes a party out of its map: the caller consumes or frees it. */
function take<T>(map: Map<number, T>, handle: number): T {
  const party = live(map, handle);
  map.delete(handle);
  return party;
}

const OPS: { [K in EngineRequest["op"]]: (req: Extract<EngineRequest, { op: K }>) => unknown } = {
  "keygen.start": ({ handle, n, t, index }) => {
    const party = new KeygenParty(n, t, index);
    keygens.set(handle, party);
    return party.firstMessage();
  },
  "keygen.round": ({ handle, messages, commitments, commit }) => {
    const party = live(keygens, handle);
    const out: { messages: WireMessage[]; commitment?: Uint8Array } = {
      messages: party.handle(messages, commitments),
    };
    if (commit) out.commitment = party.chainCodeCommitment();
    return out;
  },
  "keygen.finish": ({ handle, messages }) => {
    const party = take(keygens, handle);
    try {
      party.handle(messages);
      return party.finish();
    } finally {
      party.free();
    }
  },
  "presign.start": ({ handle, share }) => {
    const party = SignParty.fromShare(share);
    signs.set(handle, party);
    return party.firstMessage();
  },
  "presign.round": ({ handle, messages }) => live(signs, handle).handle(messages),
  "presign.finish": ({ handle, messages }) => {
    const party = take(signs, handle);
    try {
      party.handle(messages);
      return party.serialize();
    } finally {
      party.free();
    }
  },
  free: ({ handle }) => {
    keygens.get(handle)?.free();
    signs.get(handle)?.free();
    keygens.delete(handle);
    signs.delete(handle);
    return null;
  },
};

const port = parentPort;
if (!port) throw new Error("engine-worker.ts runs as a worker thread");
port.on("message", (req: EngineRequest) => {
  let reply: EngineReply;
  try {
    const run = OPS[req.op] as (r: EngineRequest) => unknown;
    reply = { id: req.id, ok: true, result: run(req) };
  } catch (err) {
    reply = { id: req.id, ok: false, message: (err as Error).message };
  }
  port.postMessage(reply);
});
