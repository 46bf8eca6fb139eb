/**
 * One process per data directory. Two vaults (or two nodes) on the same SQLite files
 * fight over them ("database is locked") and, worse, over the same node shares and
 * presignatures; so each long-running process holds an exclusive lock file in its
 * data directory for as long as it runs.
 *
 * The lock is a file created with O_CREAT|O_EXCL (open(2) "wx": creation fails if it
 * exists, atomically, also between processes) that holds the holder's pid. A lock
 * left by a process that died (kill -9, power loss) is taken over only when that pid
 * is no longer alive (`kill(pid, 0)`, POSIX kill(2) with signal 0: existence check).
 * Takeovers are serialised by a second O_EXCL file, so a live lock is never removed
 * by two processes that both saw the same stale one.
 * A lock naming this very process that this process does not hold is stale too: after
 * kill -9 a restarted container often runs the vault under the same pid (1, say), and
 * `kill(pid, 0)` would call the dead predecessor alive forever.
 * Limit: a stale pid reused by an unrelated process reads as alive; the error names
 * the pid and the file, so an operator can remove it.
 */
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join, resolve } from "node:path";

export const LOCK_FILE = "agent-vault.lock";

/** Lock files this process holds (resolved paths): its own pid in any other one is stale. */
const heldHere = new Set<string>();

/** Another live process holds the data directory. `code` is stable for scripts. */
export class DataDirLocked extends Error {
  readonly code = "DATA_DIR_LOCKED";
  constructor(
    readonly dir: string,
    readonly holderPid: number,
  ) {
    super(
      `DATA_DIR_LOCKED: the data directory ${dir} is in use by process ${holderPid} ` +
        `(lock file ${join(dir, LOCK_FILE)}); stop that process first`,
    );
  }
}

export interface DataDirLock {
  readonly file: string;
  /** Removes the lock file if it is still ours. Idempotent. */
  release(): void;
}

export interface LockOptions {
  /** Keep trying this long while a live process holds the lock (a predecessor exiting). */
  waitMs?: number;
  /** The pid written into the lock (tests); defaults to this process. */
  pid?: number;
}

export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else, so it is alive.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function readPid(file: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(file, "utf8").trim(), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function createExclusive(file: string, content: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, "wx", 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw err;
  }
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  return true;
}

function ageMs(file: string): number {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function unlinkIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

/** The pid in `file` is gone: not alive, or this process, which does not hold `file`. */
function deadHolder(file: string, pid: number): boolean {
  return pid === process.pid ? !heldHere.has(resolve(file)) : !isAlive(pid);
}

/**
 * Removes `file` if it still names the dead `stalePid`, under a takeover mutex. A mutex
 * left behind by a process that died mid-takeover (held for microseconds) expires after 10 s.
 */
function takeOverStale(file: string, stalePid: number | undefined): boolean {
  const mutex = `${file}.takeover`;
  if (!createExclusive(mutex, String(process.pid))) {
    if (ageMs(mutex) > 10_000) unlinkIfPresent(mutex);
    return false;
  }
  try {
    const now = readPid(file);
    if (now === stalePid && (now === undefined || deadHolder(file, now))) unlinkIfPresent(file);
    return true;
  } finally {
    unlinkIfPresent(mutex);
  }
}

/** Takes the data directory's lock, or throws DataDirLocked naming the live holder. */
export async function lockDataDir(dir: string, opts: LockOptions = {}): Promise<DataDirLock> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  const pid = opts.pid ?? process.pid;
  const deadline = Date.now() + (opts.waitMs ?? 0);
  for (;;) {
    if (createExclusive(file, `${pid}\n`)) return held(file, pid);
    const holder = readPid(file);
    // An empty lock younger than 2 s: its creator is alive and about to write its pid.
    const stale = holder === undefined ? ageMs(file) >= 2000 : deadHolder(file, holder);
    if (stale && takeOverStale(file, holder)) continue;
    if (!stale && holder !== undefined && Date.now() >= deadline) {
      throw new DataDirLocked(dir, holder);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

function held(file: string, pid: number): DataDirLock {
  let released = false;
  const release = () => {
    if (released) return;
    released = true;
    heldHere.delete(resolve(file));
    process.removeListener("exit", release);
    if (readPid(file) === pid) unlinkIfPresent(file);
  };
  heldHere.add(resolve(file));
  // Any normal exit (process.exit included) releases it; kill -9 leaves a stale lock.
  process.on("exit", release);
  return { file, release };
}
