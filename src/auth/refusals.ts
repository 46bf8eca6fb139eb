/**
 * Refusals of unauthenticated callers, audited without letting them fill the disk.
 *
 * Every refused credential is an audit entry, and the audit log fails closed: a caller
 * that could append without limit could fill the disk and stop all signing. So each client
 * address has `perMinute` refusals written one by one per minute; beyond that they are
 * counted, and the count is written as one `auth.refusals_suppressed` entry (client, count,
 * window) when that client's minute ends — or on stop. Nothing goes unrecorded; a flood
 * costs one entry per client per minute. Successes are never held back.
 */
import type { AuditEntryInput, AuditLog } from "../audit/types.js";

export interface RefusalLog {
  /** Appends the refusal unless `client` is over its budget; true if it was written. */
  record(client: string, entry: AuditEntryInput): boolean;
  /** Writes the summaries of windows that ended (all windows with `all`); returns how many. */
  flush(all?: boolean): number;
  stop(): void;
}

interface Window {
  start: number;
  written: number;
  held: number;
  types: Set<string>;
}

const MINUTE_MS = 60_000;
/** Past this many distinct clients in one minute, new ones share one window. */
const MAX_CLIENTS = 10_000;

export function createRefusalLog(
  audit: AuditLog,
  opts: { perMinute: number; now?: () => number; flushEveryMs?: number },
): RefusalLog {
  const now = opts.now ?? Date.now;
  const windows = new Map<string, Window>();

  const summarise = (client: string, w: Window) => {
    if (w.held > 0) {
      audit.append({
        type: "auth.refusals_suppressed",
        actor: "system:refusals",
        data: {
          client,
          count: w.held,
          types: [...w.types].sort(),
          from: new Date(w.start).toISOString(),
          to: new Date(Math.min(now(), w.start + MINUTE_MS)).toISOString(),
        },
      });
    }
    windows.delete(client);
  };

  const flush = (all = false) => {
    let n = 0;
    for (const [client, w] of [...windows]) {
      if (!all && now() - w.start < MINUTE_MS) continue;
      if (w.held > 0) n++;
      summarise(client, w);
    }
    return n;
  };

  // A failing audit log (full disk) must not crash the process from a timer: the counts
  // stay in memory and are written on a later tick.
  const timer = setInterval(() => {
    try {
      flush();
    } catch {
      /* retried on the next tick */
    }
  }, opts.flushEveryMs ?? 10_000);
  timer.unref();

  return {
    record(client, entry) {
      let key = client;
      if (!windows.has(key) && windows.size >= MAX_CLIENTS) {
        flush();
        if (windows.size >= MAX_CLIENTS) key = "*";
      }
      let w = windows.get(key);
      if (w && now() - w.start >= MINUTE_MS) {
        summarise(key, w);
        w = undefined;
      }
      if (!w) {
        w = { start: now(), written: 0, held: 0, types: new Set() };
        windows.set(key, w);
      }
      if (w.written < opts.perMinute) {
        w.written++;
        audit.append({ ...entry, data: { ...entry.data, client } });
        return true;
      }
      w.held++;
      w.types.add(entry.type);
      return false;
    },
    flush,
    stop() {
      clearInterval(timer);
      flush(true);
    },
  };
}
