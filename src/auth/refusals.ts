/**
 * Refusals of unauthenticated callers, audited without letting them fill the disk.
 *
 * Every refused credential is an audit entry, and the audit log fails closed: a caller that
 * could append without limit could fill the disk and stop all signing. So refusals are
 * written one by one only within two budgets per minute: `perMinute` for each client (IPv6
 * clients grouped by /64, since one host holds a whole /64) and `globalPerMinute` for all
 * clients together. Beyond them refusals are counted, per client and per code, and each
 * client's count is written as one `auth.refusals_suppressed` entry when its minute ends (at
 * most `maxSummaries` per flush; the rest are merged into one entry for client "*"). Nothing
 * goes unrecorded, and a flood from any number of addresses costs a bounded number of rows a
 * minute. Successes are never held back.
 *
 * The audit log is asynchronous (src/store/sql): a flush takes turns with other flushes, and
 * a refusal waits for a flush under way before it touches the windows, so no window is
 * counted into while its summary is being written, and none is summarised twice.
 */
import { isIPv6 } from "node:net";
import type { AuditEntryInput, AuditLog } from "../audit/types.js";

export interface RefusalLog {
  /**
   * Appends the refusal unless a budget is spent; true if it was written. Rejects when the
   * audit log does (the refusal is then not counted).
   */
  record(client: string, entry: AuditEntryInput): Promise<boolean>;
  /** Writes the summaries of windows that ended (all windows with `all`); returns how many. */
  flush(all?: boolean): Promise<number>;
  /** Stops the timer and writes every summary still held. */
  stop(): Promise<void>;
}

interface Window {
  start: number;
  written: number;
  held: number;
  /** Held refusals by type and code, e.g. "auth.refused:TOKEN_REVOKED" → 12. */
  codes: Map<string, number>;
}

const MINUTE_MS = 60_000;
/** Past this many distinct clients in one minute, new ones share one window. */
const MAX_CLIENTS = 10_000;

/** The budget key of an address: IPv4 as is (also when IPv4-mapped), IPv6 by its /64. */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped !== undefined) return mapped;
  if (!isIPv6(address)) return address;
  const [head = "", tail = ""] = address.toLowerCase().split("::");
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const full = [...left, ...Array(8 - left.length - right.length).fill("0"), ...right];
  return `${full
    .slice(0, 4)
    .map((h) => h.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

export function createRefusalLog(
  audit: AuditLog,
  opts: {
    perMinute: number;
    globalPerMinute?: number;
    maxSummaries?: number;
    now?: () => number;
    flushEveryMs?: number;
  },
): RefusalLog {
  const now = opts.now ?? Date.now;
  const globalCap = opts.globalPerMinute ?? opts.perMinute * 10;
  const maxSummaries = opts.maxSummaries ?? 100;
  // Insertion order is start order: a window is deleted when it ends, and re-created last.
  const windows = new Map<string, Window>();
  let global = { start: now(), written: 0 };

  const window = () => ({ start: now(), written: 0, held: 0, codes: new Map<string, number>() });
  const ended = (w: Window) => now() - w.start >= MINUTE_MS;

  const summary = async (client: string, ws: Window[], clients = 1) => {
    const codes = new Map<string, number>();
    for (const w of ws) for (const [c, n] of w.codes) codes.set(c, (codes.get(c) ?? 0) + n);
    await audit.append({
      type: "auth.refusals_suppressed",
      actor: "system:refusals",
      data: {
        client,
        ...(clients > 1 ? { clients } : {}),
        count: ws.reduce((n, w) => n + w.held, 0),
        codes: Object.fromEntries([...codes].sort()),
        from: new Date(Math.min(...ws.map((w) => w.start))).toISOString(),
        to: new Date(now()).toISOString(),
      },
    });
  };

  const flushNow = async (all: boolean) => {
    const due: Array<[string, Window]> = [];
    for (const [client, w] of windows) {
      if (!all && !ended(w)) break; // the rest started later
      due.push([client, w]);
    }
    const held = due.filter(([, w]) => w.held > 0);
    const alone = held.slice(0, maxSummaries);
    const merged = held.slice(maxSummaries);
    // Written before the windows are dropped: if the log cannot take them, they stay.
    for (const [client, w] of alone) await summary(client, [w]);
    if (merged.length > 0)
      await summary(
        "*",
        merged.map(([, w]) => w),
        merged.length,
      );
    for (const [client, w] of due) if (windows.get(client) === w) windows.delete(client);
    return alone.length + (merged.length > 0 ? 1 : 0);
  };

  // Flushes take turns; `flushing` counts those queued or running.
  let flushing = 0;
  let flushed: Promise<unknown> = Promise.resolve();
  const flush = (all = false): Promise<number> => {
    flushing++;
    const run = flushed.then(() => flushNow(all));
    flushed = run
      .catch(() => undefined)
      .finally(() => {
        flushing--;
      });
    return run;
  };

  // A failing audit log (full disk) must not crash the process from a timer: the counts
  // stay in memory and are written on a later tick.
  const timer = setInterval(() => {
    flush().catch(() => {
      /* retried on the next tick */
    });
  }, opts.flushEveryMs ?? 10_000);
  timer.unref();

  const record = async (address: string, entry: AuditEntryInput): Promise<boolean> => {
    const client = clientKey(address);
    let flushedForRoom = false;
    for (;;) {
      // A summary being written: its windows are not to be counted into meanwhile.
      if (flushing > 0) {
        await flushed;
        continue;
      }
      let key = client;
      if (!windows.has(key) && windows.size >= MAX_CLIENTS) {
        if (!flushedForRoom) {
          flushedForRoom = true;
          await flush();
          continue;
        }
        key = "*";
      }
      let w = windows.get(key);
      if (w && ended(w)) {
        await flush(); // this window and every older one
        continue;
      }
      // From here to the append nothing waits: the budgets are taken before any other
      // refusal can look at them.
      if (!w) {
        w = window();
        windows.set(key, w);
      }
      if (now() - global.start >= MINUTE_MS) global = { start: now(), written: 0 };
      if (w.written < opts.perMinute && global.written < globalCap) {
        const g = global;
        w.written++;
        g.written++;
        try {
          await audit.append({ ...entry, data: { ...entry.data, client: key } });
        } catch (err) {
          w.written--;
          g.written--;
          throw err;
        }
        return true;
      }
      w.held++;
      const code = `${entry.type}:${String(entry.data?.code ?? "")}`;
      w.codes.set(code, (w.codes.get(code) ?? 0) + 1);
      return false;
    }
  };

  return {
    record(address, entry) {
      const written = record(address, entry);
      // A caller that does not wait for it (the request is refused either way) must not
      // bring the process down when the log cannot take the entry; one that waits still
      // sees the rejection.
      written.catch(() => undefined);
      return written;
    },
    flush,
    async stop() {
      clearInterval(timer);
      await flush(true);
    },
  };
}
