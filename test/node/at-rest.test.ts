/**
 * A node's key shares and presignatures are encrypted at rest (AES-256-GCM under
 * its own storage key, bound to the row they belong to), and its private files are
 * readable by its owner only. Reads a real node's SQLite file after a real DKG.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Database from "better-sqlite3";
import { getBytes } from "ethers";
import { type AtRestCipher, createAtRestCipher } from "../../src/node/at-rest.js";
import { sharePublicKey } from "../../src/threshold/engine.js";
import { startTestCluster, type TestCluster } from "../helpers/cluster.js";
import { CHAIN_ID, createAgent, presign } from "../signers/local/by-hand.js";

const agentId = "at-rest";

let tc: TestCluster;
let presigId = "";
before(async () => {
  tc = await startTestCluster(2, 3);
  await createAgent(tc, agentId, {
    chains: [CHAIN_ID],
    assets: { ETH: { maxPerTx: "0.01", maxPer24h: "1" } },
  });
  presigId = await presign(tc, agentId, [0, 1]);
});
after(async () => tc?.stop());

const nodeDir = (i: number) => join(tc.dir, `node-${i}`);

function storageCipher(i: number): AtRestCipher {
  const hex = readFileSync(join(nodeDir(i), "storage.key"), "utf8").trim();
  return createAtRestCipher(Buffer.from(hex, "hex"));
}

function readRow<T>(sql: string, ...params: unknown[]): T {
  const db = new Database(join(nodeDir(0), "node.sqlite"), { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare(sql).get(...params) as T | undefined;
    assert.ok(row, `no row for ${sql}`);
    return row;
  } finally {
    db.close();
  }
}

/** The engine's share encodes byte strings as CBOR arrays of uint8: 0x98 len, then each byte. */
function cborByteArray(bytes: Uint8Array): Buffer {
  const items = [...bytes].flatMap((b) => (b < 24 ? [b] : [0x18, b]));
  return Buffer.from([0x98, bytes.length, ...items]);
}

/** Everything SQLite has on disk for node 0: the database file and its WAL. */
function rawDatabaseBytes(): Buffer {
  const file = join(nodeDir(0), "node.sqlite");
  return Buffer.concat(
    [file, `${file}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)),
  );
}

test("a stored key share opens only with its node's storage key and under its own row", () => {
  const row = readRow<{ share: Buffer; public_key: string }>(
    "SELECT share, public_key FROM agents WHERE agent_id = ?",
    agentId,
  );
  // Control: the node's own key and row id open it, and it is this agent's share.
  const plain = storageCipher(0).open(row.share, `share:${agentId}`);
  const publicKey = getBytes(row.public_key);
  assert.deepEqual(Buffer.from(sharePublicKey(plain)), Buffer.from(publicKey));

  assert.throws(() => storageCipher(1).open(row.share, `share:${agentId}`), "node 1's key");
  assert.throws(
    () => createAtRestCipher(randomBytes(32)).open(row.share, `share:${agentId}`),
    "a random key",
  );
  assert.throws(() => storageCipher(0).open(row.share, "share:another-agent"), "another row id");
  assert.throws(() => storageCipher(0).open(row.share, `presig:${agentId}`), "another table");
});

test("neither the share's public key nor any plaintext appears in the stored blob or the database file", () => {
  const row = readRow<{ share: Buffer; public_key: string }>(
    "SELECT share, public_key FROM agents WHERE agent_id = ?",
    agentId,
  );
  const plain = storageCipher(0).open(row.share, `share:${agentId}`);
  const encodedKey = cborByteArray(getBytes(row.public_key));
  assert.ok(plain.includes(encodedKey), "control: the plaintext share carries the public key so");
  const fieldNames = ["total_parties", "root_chain_code", "seed_ot_receivers"].map((f) =>
    Buffer.from(f),
  );
  for (const f of fieldNames) assert.ok(plain.includes(f), `control: the share names ${f}`);

  const disk = rawDatabaseBytes();
  for (const haystack of [row.share, disk]) {
    assert.ok(!haystack.includes(encodedKey), "the public key bytes are not on disk");
    for (const f of fieldNames) assert.ok(!haystack.includes(f), `the share's field ${f}`);
    for (const at of [0, 1024, Math.floor(plain.length / 2), plain.length - 64]) {
      assert.ok(!haystack.includes(plain.subarray(at, at + 32)), `no 32 plaintext bytes at ${at}`);
    }
  }
});

test("a stored presignature is encrypted and bound to its id", () => {
  const row = readRow<{ state: Buffer }>("SELECT state FROM presigs WHERE id = ?", presigId);
  const plain = storageCipher(0).open(row.state, `presig:${presigId}`);
  assert.ok(plain.length > 64);
  assert.throws(() => storageCipher(1).open(row.state, `presig:${presigId}`), "node 1's key");
  assert.throws(() => storageCipher(0).open(row.state, "presig:ps-another"), "another id");
  assert.throws(() => storageCipher(0).open(row.state, `share:${agentId}`), "another table");
  const disk = rawDatabaseBytes();
  for (const at of [0, Math.floor(plain.length / 2), plain.length - 32]) {
    assert.ok(!disk.includes(plain.subarray(at, at + 32)), `no 32 plaintext bytes at ${at}`);
  }
});

test("identity.json and storage.key are readable by their owner only (0600)", () => {
  for (const i of [0, 1, 2]) {
    for (const file of ["identity.json", "storage.key"]) {
      const mode = statSync(join(nodeDir(i), file)).mode & 0o777;
      assert.equal(mode.toString(8), "600", `node-${i}/${file}`);
    }
  }
});
