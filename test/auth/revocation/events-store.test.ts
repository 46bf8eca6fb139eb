/**
 * The revocation events and feed cursors (src/store/revocation-events.ts) and the audit log
 * that records an event beside each revocation (src/auth/revocation/events.ts), on both
 * storage engines: events are numbered without holes even when a revocation rolls back or
 * replicas revoke at once; every replica is told of each event once it commits; a feed's
 * cursor never moves backwards and a revocation taken by another replica is recorded once.
 */
import assert from "node:assert/strict";
import { openAuditLog } from "../../../src/audit/log.js";
import { createRevocationEvents } from "../../../src/auth/revocation/events.js";
import { openRevocationEventStore } from "../../../src/store/revocation-events.js";
import { onBothEngines } from "../../helpers/engines.js";

const until = async (cond: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
};

onBothEngines({
  "events are numbered 1, 2, … with no hole for a revocation that rolled back": async (f) => {
    const sql = f.open();
    const store = await openRevocationEventStore(sql);
    assert.equal(await store.head(), 0);
    assert.equal(await store.append("jwt", "a", 1_000), 1);
    await assert.rejects(
      sql.transaction(async () => {
        await store.append("jwt", "rolled-back", 2_000);
        throw new Error("the revocation failed");
      }),
      /the revocation failed/,
    );
    assert.equal(await store.append("apikey", "b", 3_000), 2);
    assert.equal(await store.head(), 2);
    assert.deepEqual(await store.after(0, 10), [
      { seq: 1, kind: "jwt", subject: "a", at_ms: 1_000 },
      { seq: 2, kind: "apikey", subject: "b", at_ms: 3_000 },
    ]);
    assert.deepEqual(
      (await store.after(1, 10)).map((e) => e.seq),
      [2],
    );
    assert.deepEqual(
      (await store.after(0, 1)).map((e) => e.seq),
      [1],
    );
  },

  "replicas revoking at once share one sequence, with no hole and no repeat": async (f) => {
    const a = await openRevocationEventStore(f.open());
    const b = await openRevocationEventStore(f.open());
    const seqs = await Promise.all(
      Array.from({ length: 30 }, (_, i) => (i % 2 ? a : b).append("jwt", `t${i}`, i)),
    );
    assert.deepEqual(
      [...seqs].sort((x, y) => x - y),
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    assert.equal(await b.head(), 30);
    // Events copied in from another database (agent-vault db copy) keep their numbers.
    await f
      .open()
      .run(
        "INSERT INTO revocation_events (seq, kind, subject, at_ms) VALUES (40, 'jwt', 'copied', 1)",
      );
    assert.equal(await a.append("jwt", "after-copy", 2), 41);
  },

  "every replica hears of an event once it commits, and never of a rolled-back one": async (f) => {
    const [sa, sb] = [f.open(), f.open()];
    const a = await openRevocationEventStore(sa);
    const b = await openRevocationEventStore(sb);
    const heard = { a: 0, b: 0 };
    const listeners = [await a.watch(() => void heard.a++), await b.watch(() => void heard.b++)];
    try {
      await assert.rejects(
        sa.transaction(async () => {
          await a.append("jwt", "never", 1);
          throw new Error("rolled back");
        }),
      );
      await a.append("jwt", "kept", 2);
      await until(() => heard.a >= 1 && heard.b >= 1);
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(heard, { a: 1, b: 1 });
    } finally {
      for (const l of listeners) await l.close();
    }
  },

  "the wrapped audit log records an event with each revocation, in the same transaction": async (
    f,
  ) => {
    const sql = f.open();
    const store = await openRevocationEventStore(sql);
    const events = createRevocationEvents(store);
    const audit = events.wrap(await openAuditLog(sql));
    let told = 0;
    const stop = events.onEvent(() => void told++);
    try {
      await audit.append({ type: "agent.created", actor: "admin", data: { id: "agt_a" } });
      assert.equal(await events.head(), 0);
      const entry = await audit.append({
        type: "token.revoked",
        actor: "admin",
        data: { jti: "j1" },
      });
      assert.equal(entry.type, "token.revoked");
      assert.deepEqual(
        (await events.after(0, 10)).map((e) => [e.seq, e.kind, e.subject]),
        [[1, "jwt", "j1"]],
      );
      await until(() => told >= 1);
      // A caller's transaction that fails takes the entry and its event with it.
      const before = (await audit.head()).seq;
      await assert.rejects(
        sql.transaction(async () => {
          await audit.append({ type: "delegation.revoked", actor: "admin", data: { cid: "c" } });
          throw new Error("the revocation failed");
        }),
      );
      assert.equal((await audit.head()).seq, before);
      assert.equal(await events.head(), 1);
      const toldBefore = told;
      await audit.append({ type: "delegation.revoked", actor: "admin", data: { cid: "c" } });
      assert.deepEqual(
        (await events.after(1, 10)).map((e) => [e.seq, e.kind, e.subject]),
        [[2, "delegation", "c"]],
      );
      await until(() => told > toldBefore);
    } finally {
      stop();
    }
  },

  "a feed's cursor never moves back; a revocation another replica took is recorded once": async (
    f,
  ) => {
    const a = await openRevocationEventStore(f.open());
    const b = await openRevocationEventStore(f.open());
    const issuer = "did:web:issuer.example";
    assert.equal(await a.cursor(issuer), 0);
    assert.equal(await a.putRemote(issuer, "jwt:x", 1, 10), true);
    assert.equal(await b.putRemote(issuer, "jwt:x", 1, 10), false);
    assert.equal(await b.cursor(issuer), 1);
    await b.advance(issuer, 3);
    await a.advance(issuer, 2);
    assert.equal(await a.cursor(issuer), 3);
    assert.equal(await a.putRemote(issuer, "delegation:y", 3, 20), false);
    assert.equal(await a.isRemotelyRevoked(issuer, "delegation:y"), false);
    assert.equal(await a.putRemote(issuer, "delegation:y", 4, 20), true);
    assert.equal(await b.isRemotelyRevoked(issuer, "delegation:y"), true);
    assert.equal(await b.isRemotelyRevoked("did:web:other.example", "delegation:y"), false);
    assert.equal(await b.isRevokedByAnyFeed("delegation:y"), true);
    assert.equal(await b.isRevokedByAnyFeed("jwt:unknown"), false);
    // Replicas taking the same event at once: one records it.
    const took = await Promise.all([
      a.putRemote(issuer, "jwt:z", 5, 30),
      b.putRemote(issuer, "jwt:z", 5, 30),
    ]);
    assert.deepEqual(took.sort(), [false, true]);
    assert.equal(await a.cursor(issuer), 5);
  },
});
