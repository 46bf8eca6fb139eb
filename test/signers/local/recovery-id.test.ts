/**
 * The vault releases a threshold signature only if it verifies under the agent's key, and
 * gives it the recovery id Ethereum needs. Checked against ethers' own signatures (both
 * recovery ids occur), then with each way a combiner could return something else.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { keccak256, recoverAddress, toBeHex, toUtf8Bytes, Wallet } from "ethers";
import { withRecoveryId } from "../../../src/signers/local/cluster/recovery-id.js";

const wallet = Wallet.createRandom();
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const hex32 = (v: bigint) => toBeHex(v, 32).slice(2);

function signed(i: number) {
  const digest = keccak256(toUtf8Bytes(`message ${i}`));
  const sig = wallet.signingKey.sign(digest);
  return { digest, sig, rs: { r: sig.r.slice(2), s: sig.s.slice(2) } };
}

test("the recovery id is the one that recovers the agent's address, for both parities", () => {
  const seen = new Set<number>();
  for (let i = 0; i < 16; i++) {
    const { digest, sig, rs } = signed(i);
    const out = withRecoveryId(rs, { digest, address: wallet.address }, [0, 1]);
    assert.equal(out.v, sig.v);
    assert.equal(out.signature, sig.serialized);
    assert.equal(recoverAddress(digest, out.signature), wallet.address);
    assert.deepEqual(out.signers, [0, 1]);
    seen.add(out.v);
  }
  assert.deepEqual([...seen].sort(), [27, 28], "both recovery ids were exercised");
});

test("a signature that does not verify under the agent's key is refused", () => {
  const { digest, rs } = signed(1);
  const other = Wallet.createRandom().address;
  const refuse = (r: string, s: string, d = digest, address = wallet.address) =>
    assert.throws(
      () => withRecoveryId({ r, s }, { digest: d, address }, [0, 1]),
      /does not verify/,
    );
  refuse(rs.r, rs.s, digest, other); // another agent's key
  refuse(rs.r, rs.s, keccak256(toUtf8Bytes("another message"))); // another digest
  refuse(rs.r, hex32((BigInt(`0x${rs.s}`) + 1n) % N)); // an edited s
  refuse(hex32(N), rs.s); // r out of range
  refuse("00".repeat(32), rs.s); // r = 0
  refuse(rs.r, "00".repeat(32)); // s = 0
  refuse(rs.r.slice(2), rs.s); // a short r
});
