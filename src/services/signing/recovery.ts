/**
 * Crash recovery of in-flight sign requests. A request left `reserved` never reached the
 * cluster (no sequence number was given out): its budget is released (failed, audited as
 * "sign.abandoned"). A request left `incomplete` may be recorded at its sequence number on
 * some nodes, so it is finished, with the same seq and intent, before the agent's next
 * request: nodes accept the same record once, and a seq cannot be reused for other bytes.
 */
import { type ExecuteDeps, execute } from "./execute.js";
import { inAgentLock, moveSign } from "./transitions.js";

export const RECOVERY_ACTOR = "system:recovery";

/** Runs `fn` as the agent's only signing work, in this process and across processes (index.ts). */
export type AgentExclusive = <T>(agentId: string, fn: () => Promise<T>) => Promise<T>;

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

/**
 * At start: releases stranded reservations, then finishes every agent's incomplete rows.
 * Each under the agent's exclusive signing lock: a reservation is only ever left reserved
 * inside a request holding it, so one seen while holding it has no live process behind it
 * (another replica's request in flight is waited for, and its row has moved on by then).
 */
export async function recoverAll(deps: ExecuteDeps, exclusive: AgentExclusive): Promise<void> {
  await releaseStranded(deps, exclusive);
  await eachOf(await deps.store.agentsWithIncomplete(), (agentId) =>
    exclusive(agentId, () => finishIncomplete(deps, agentId)),
  );
}

/**
 * Releases reservations no live request holds (what a replica killed mid-request left):
 * replicas run it every few seconds. It never asks a cluster anything, so a cluster that is
 * down costs nothing here; incomplete requests are finished by the agent's next request.
 */
export async function releaseStranded(deps: ExecuteDeps, exclusive: AgentExclusive) {
  const { store, audit } = deps;
  await eachOf(await store.stranded(), (row) =>
    // Only if still reserved once the locks are held: the list was read before them.
    exclusive(row.agentId, () =>
      inAgentLock(store, row.agentId, async () => {
        if ((await store.sign(row.id))?.status !== "reserved") return;
        await moveSign(store, row.id, { status: "failed" });
        await audit.append({
          type: "sign.abandoned",
          agentId: row.agentId,
          actor: RECOVERY_ACTOR,
          data: { requestId: row.id },
        });
      }),
    ),
  );
}

/** Runs `fn` for every item; one that fails does not stop the others (the first error is thrown). */
async function eachOf<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let first: unknown;
  for (const item of items) {
    try {
      await fn(item);
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}
