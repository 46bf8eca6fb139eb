/**
 * Crash recovery of in-flight sign requests. A request left `reserved` never reached the
 * cluster (no sequence number was given out): its budget is released (failed, audited as
 * "sign.abandoned"). A request left `incomplete` may be recorded at its sequence number on
 * some nodes, so it is finished, with the same seq and intent, before the agent's next
 * request: nodes accept the same record once, and a seq cannot be reused for other bytes.
 */
import type { KeyedMutex } from "../mutex.js";
import { type ExecuteDeps, execute } from "./execute.js";
import { inAgentLock, moveSign } from "./transitions.js";

export const RECOVERY_ACTOR = "system:recovery";

/**
 * Finishes the agent's incomplete requests in seq order. Call under the agent's lock. A row
 * the nodes refused and released (its failure is audited as "sign.failed") no longer holds
 * the agent; one that is still incomplete (no quorum) does, and its error is thrown.
 */
export async function finishIncomplete(deps: ExecuteDeps, agentId: string): Promise<void> {
  for (const row of await deps.store.incomplete(agentId)) {
    try {
      await execute(deps, row, row.seq as number, RECOVERY_ACTOR);
    } catch (err) {
      if ((await deps.store.sign(row.id))?.status === "incomplete") throw err;
    }
  }
}

/** At start: releases stranded reservations, then finishes every agent's incomplete rows. */
export async function recoverAll(deps: ExecuteDeps, locks: KeyedMutex): Promise<void> {
  const { store, audit } = deps;
  for (const row of await store.stranded()) {
    // Released under the agent's lock, and only if still reserved when it is held: the
    // list was read before, and a reservation that moved on meanwhile is not stranded.
    await inAgentLock(store, row.agent_id, async () => {
      if ((await store.sign(row.id))?.status !== "reserved") return;
      await moveSign(store, row.id, { status: "failed" });
      await audit.append({
        type: "sign.abandoned",
        agentId: row.agent_id,
        actor: RECOVERY_ACTOR,
        data: { requestId: row.id },
      });
    });
  }
  for (const agentId of await store.agentsWithIncomplete()) {
    await locks.run(agentId, () => finishIncomplete(deps, agentId));
  }
}
