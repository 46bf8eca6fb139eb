/**
 * `npm run bench -- revocation`: revoke-to-refusal across two vault processes on loopback
 * (README "Revocation push"). Vault X issues agent tokens; vault Y trusts X's tokens and
 * follows X's revocation stream. Each trial keeps one token in flight at Y at 50 requests a
 * second, revokes it at X, and probes Y with it back to back until Y refuses it; the figure
 * is the time from sending the revocation to X until Y's first refusal, probing every 5 ms.
 * Two stages are reported beside it: X's answer to the revocation, and the moment Y
 * recorded the pushed event (its audit entry), after which every request is refused.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { ADMIN, log, POLICY } from "./harness.js";
import { median, percentile, round } from "./stats.js";

const TRIALS = 100;
const LOAD_PER_SECOND = 50;
const PROBE_MS = 5;
const CLI = join(import.meta.dirname, "..", "src", "cli", "main.js");

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.once("error", reject);
  });
}

async function startVault(env: Record<string, string>): Promise<ChildProcess> {
  const child = spawn(process.execPath, [CLI, "start"], {
    env: {
      ...process.env,
      VAULT_ADMIN_KEY: ADMIN,
      VAULT_LOG_LEVEL: "silent",
      VAULT_ZK_SETUP: "off",
      ...env,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on("line", (line) => {
      if (line.includes("listening on")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`vault exited during start (${code})`)));
  });
  return child;
}

const admin = { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" };

async function post(url: string, body: unknown) {
  const res = await fetch(url, { method: "POST", headers: admin, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json() as Promise<Record<string, unknown>>;
}

/** When Y recorded each revocation (its audit entry's time), from Y's audit log. */
async function receivedAt(y: string, subjects: Set<string>): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  type Page = { entries: Array<{ type: string; ts: string; data: { subject?: string } }> };
  for (let from = 1; ; from += 1000) {
    const res = await fetch(`${y}/v1/audit?fromSeq=${from}&limit=1000`, { headers: admin });
    const page = (await res.json()) as Page;
    for (const e of page.entries) {
      const s = e.data.subject;
      if (e.type === "revocation.received" && s && subjects.has(s)) out.set(s, Date.parse(e.ts));
    }
    if (page.entries.length < 1000) return out;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runRevocationBench() {
  const [px, py] = [await freePort(), await freePort()];
  const x = `http://127.0.0.1:${px}`;
  const y = `http://127.0.0.1:${py}`;
  const dirX = mkdtempSync(join(tmpdir(), "av-bench-x-"));
  log("revocation: starting vault X");
  const procs: ChildProcess[] = [];
  try {
    procs.push(
      await startVault({ VAULT_DATA_DIR: dirX, VAULT_PORT: String(px), VAULT_OPERATOR_ID: "opx" }),
    );
    const agent = await post(`${x}/v1/agents`, { name: "bench", policy: POLICY });
    // Measure in the steady state of this scenario (nothing here signs): once the new
    // agent's presignature pool is full, its nodes stop working in the background.
    while (
      /^agent_vault_presig_refill_running 1$/m.test(await (await fetch(`${x}/metrics`)).text())
    )
      await sleep(200);
    const feedKey = await post(`${x}/v1/keys`, { scopes: ["AUDIT"] });
    const keyFile = join(dirX, "feed-key");
    writeFileSync(keyFile, String(feedKey.key), { mode: 0o600 });
    log("revocation: starting vault Y, which follows X's stream");
    procs.push(
      await startVault({
        VAULT_DATA_DIR: mkdtempSync(join(tmpdir(), "av-bench-y-")),
        VAULT_PORT: String(py),
        VAULT_OPERATOR_ID: "opy",
        VAULT_TRUSTED_ISSUERS: JSON.stringify([
          {
            issuer: "urn:agent-vault:opx",
            operatorId: "opx",
            jwksUrl: `${x}/.well-known/jwks.json`,
            revocationFeed: { url: `${x}/v1/events/stream`, apiKeyFile: keyFile },
          },
        ]),
      }),
    );
    const tokens: Array<{ token: string; jti: string }> = [];
    for (let i = 0; i < TRIALS; i++) {
      const t = await post(`${x}/v1/tokens`, {
        agentId: agent.id,
        capabilities: ["read"],
        audience: "urn:agent-vault:opy",
      });
      tokens.push({ token: String(t.token), jti: String(t.jti) });
    }
    const atY = async (token: string) =>
      (await fetch(`${y}/v1/cluster`, { headers: { authorization: `Bearer ${token}` } })).status;
    while ((await atY((tokens[0] as { token: string }).token)) !== 200) await sleep(50);
    const latencies: number[] = [];
    const trials: Array<{ jti: string; w0: number; xDone: number; total: number }> = [];
    const loadStatus = { accepted: 0, refused: 0 };
    for (const t of tokens) {
      // The credential in flight: 50 requests a second at Y with this token.
      let inFlight = true;
      const load = (async () => {
        while (inFlight) {
          const s = await atY(t.token);
          loadStatus[s === 200 ? "accepted" : "refused"]++;
          await sleep(1000 / LOAD_PER_SECOND);
        }
      })();
      await sleep(60);
      const t0 = performance.now();
      const w0 = Date.now();
      const revoked = fetch(`${x}/v1/tokens/${t.jti}/revoke`, {
        method: "POST",
        headers: { authorization: admin.authorization },
      }).then(() => performance.now() - t0);
      // Probes every PROBE_MS: each accepted request is an audit entry at Y, and a tighter
      // loop would measure the probe's own load rather than the push.
      while ((await atY(t.token)) === 200) await sleep(PROBE_MS);
      latencies.push(performance.now() - t0);
      const xDone = await revoked;
      trials.push({ jti: t.jti, w0, xDone, total: latencies[latencies.length - 1] as number });
      inFlight = false;
      await load;
    }
    const recordedAtY = await receivedAt(y, new Set(trials.map((d) => `jwt:${d.jti}`)));
    const stage = (f: (d: (typeof trials)[number]) => number) => {
      const v = trials.map(f).filter((n) => n >= 0);
      return { p50Ms: round(median(v)), p99Ms: round(percentile(v, 99)) };
    };
    const sorted = [...latencies].sort((a, b) => a - b);
    const buckets = [1, 2, 5, 10, 20, 50, 100, Number.POSITIVE_INFINITY];
    const histogram = Object.fromEntries(
      buckets.map((b, i) => [
        b === Number.POSITIVE_INFINITY ? `>${buckets[i - 1]}ms` : `<=${b}ms`,
        sorted.filter((v) => v <= b && (i === 0 || v > (buckets[i - 1] as number))).length,
      ]),
    );
    return {
      what: "revoke at X (POST /v1/tokens/:jti/revoke sent) → first refusal at Y (TOKEN_REVOKED), two vault processes on loopback, the token in flight at 50 req/s",
      trials: TRIALS,
      p50Ms: round(median(latencies)),
      p90Ms: round(percentile(latencies, 90)),
      p99Ms: round(percentile(latencies, 99)),
      maxMs: round(sorted[sorted.length - 1] ?? 0),
      minMs: round(sorted[0] ?? 0),
      histogram,
      load: loadStatus,
      stages: {
        answeredByX: stage((d) => d.xDone),
        recordedAtY: stage((d) => (recordedAtY.get(`jwt:${d.jti}`) ?? d.w0 - 1) - d.w0),
      },
    };
  } finally {
    for (const p of procs) p.kill("SIGTERM");
  }
}
