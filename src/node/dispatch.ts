/**
 * The node's side of the protocol table (src/protocol/node/ops.ts): one handler per
 * op, typed from NodeOps, and the dispatch that checks every body against its op's
 * schema before any handler runs. A body that does not match is refused with
 * NODE_BAD_REQUEST and the first bad field; no handler ever sees it.
 */
import {
  isNodeOp,
  NODE_BAD_REQUEST,
  type NodeOp,
  type NodeOps,
  type NodeReply,
  parseParams,
  WireError,
} from "../protocol/node/ops.js";
import { agentState, enroll, setPolicy, signedHeads } from "./protocol/admin.js";
import { type NodeContext, NodeRefusal } from "./protocol/context.js";
import { dkgFinish, dkgRound, dkgStart } from "./protocol/dkg.js";
import { presignFinish, presignRound, presignStart } from "./protocol/presign.js";
import { combine, contribute, release } from "./protocol/sign.js";

export interface HandlerContext {
  node: NodeContext;
  sessionId: string;
}

export type NodeHandlers = {
  [K in NodeOp]: (
    params: NodeOps[K]["params"],
    ctx: HandlerContext,
  ) => Promise<NodeOps[K]["result"]>;
};

const HANDLERS: NodeHandlers = {
  "cluster.enroll": async (p, c) => enroll(c.node, p),
  "dkg.start": (p, c) => dkgStart(c.node, c.sessionId, p),
  "dkg.round": (p, c) => dkgRound(c.node, c.sessionId, p),
  "dkg.finish": (p, c) => dkgFinish(c.node, c.sessionId, p),
  "presign.start": (p, c) => presignStart(c.node, c.sessionId, p),
  "presign.round": (p, c) => presignRound(c.node, c.sessionId, p),
  "presign.finish": (p, c) => presignFinish(c.node, c.sessionId, p),
  "sign.contribute": async (p, c) => contribute(c.node, c.sessionId, p),
  "sign.combine": async (p, c) => combine(c.node, c.sessionId, p),
  "sign.release": async (_p, c) => release(c.node, c.sessionId),
  "policy.set": async (p, c) => setPolicy(c.node, p),
  "agent.state": async (p, c) => agentState(c.node, p),
  "checkpoint.heads": async (_p, c) => signedHeads(c.node),
};

async function run<K extends NodeOp>(op: K, body: unknown, ctx: HandlerContext): Promise<unknown> {
  let params: NodeOps[K]["params"];
  try {
    params = parseParams(op, body);
  } catch (err) {
    if (!(err instanceof WireError)) throw err;
    throw new NodeRefusal(NODE_BAD_REQUEST, `${op}: ${err.message}`, { field: err.path });
  }
  return (HANDLERS[op] as NodeHandlers[K])(params, ctx);
}

export async function dispatch(
  node: NodeContext,
  env: { op: string; sessionId: string; body: unknown },
): Promise<NodeReply> {
  if (!isNodeOp(env.op)) {
    return { ok: false, error: { code: "UNKNOWN_OP", message: `unknown op ${env.op}` } };
  }
  try {
    return { ok: true, result: await run(env.op, env.body, { node, sessionId: env.sessionId }) };
  } catch (err) {
    if (err instanceof NodeRefusal) {
      return { ok: false, error: { code: err.code, message: err.message, ...err.details } };
    }
    // Internals stay in the node's own log; the vault gets a stable code.
    console.error(`[${node.name}] ${env.op} failed:`, (err as Error).message);
    return {
      ok: false,
      error: { code: "NODE_ERROR", message: `${env.op} failed on ${node.name}` },
    };
  }
}
