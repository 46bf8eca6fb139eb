/**
 * The narrowing rule of delegation terms (src/auth/delegation/constraints.ts), from a table
 * and by property (fast-check): commands match whole path segments, decimal caps compare
 * exactly, and whatever narrowTerms accepts is never wider than its parent.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  commandCovers,
  compareDecimal,
  narrowTerms,
  parseTerms,
  TermsError,
  type VaultTerms,
} from "../../../src/auth/delegation/constraints.js";

const RUNS = Number(process.env.FC_RUNS ?? 300);

test("commands are matched by whole segments, never by string prefix", () => {
  const table: Array<[string, string, boolean]> = [
    ["/vault", "/vault/sign/message", true],
    ["/vault/sign", "/vault/sign", true],
    ["/vault", "/vaultx", false],
    ["/vault/sign/transaction", "/vault/sign/transactionx", false],
    ["/", "/vault/x402/pay", true],
    ["/vault/sign/message", "/vault/sign", false],
  ];
  for (const [outer, inner, want] of table)
    assert.equal(commandCovers(outer, inner), want, `${outer} ⊇ ${inner}`);
  const seg = fc.stringMatching(/^[a-z0-9-]{1,6}$/);
  fc.assert(
    fc.property(fc.array(seg, { minLength: 1, maxLength: 4 }), seg, (path, extra) => {
      const outer = `/${path.join("/")}`;
      assert.equal(commandCovers(outer, `${outer}/${extra}`), true);
      assert.equal(commandCovers(outer, `${outer}${extra}`), false);
    }),
    { numRuns: RUNS },
  );
});

test("decimal caps compare exactly, at any number of decimals", () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: 10n ** 30n }),
      fc.bigInt({ min: 0n, max: 10n ** 30n }),
      fc.integer({ min: 0, max: 18 }),
      (a, b, d) => {
        const text = (v: bigint) => {
          if (d === 0) return v.toString();
          const s = v.toString().padStart(d + 1, "0");
          const frac = s.slice(-d).replace(/0+$/, "");
          return frac ? `${s.slice(0, -d)}.${frac}` : s.slice(0, -d);
        };
        assert.equal(compareDecimal(text(a), text(b)), a < b ? -1 : a > b ? 1 : 0);
      },
    ),
    { numRuns: RUNS },
  );
});

const amount = fc.integer({ min: 0, max: 1000 }).map((n) => (n / 100).toString());
const assets = fc.constantFrom(
  "ETH",
  "0x036cbd53842c5426634e7929541ec2318f3dcf7e",
  "0x00000000000000000000000000000000000000aa",
);
const capsArb = fc.dictionary(assets, fc.record({ maxPerTx: amount, maxPer24h: amount }), {
  maxKeys: 3,
});
const cmds = fc.subarray(
  ["/vault/sign/message", "/vault/sign/transaction", "/vault/x402/pay", "/vault/sign"],
  { minLength: 1 },
);
const addrs = fc.subarray([
  "0x00000000000000000000000000000000000000aa",
  "0x00000000000000000000000000000000000000bb",
]);
const termsArb = fc.record(
  {
    agent: fc.constant("agt_p"),
    commands: cmds,
    caps: capsArb,
    recipients: addrs,
    chains: fc.subarray([1, 8453, 84532]),
  },
  { requiredKeys: ["agent", "commands"] },
);

test("what narrowTerms accepts is never wider than the parent, field by field", () => {
  fc.assert(
    fc.property(termsArb, termsArb, (p, c) => {
      const parent = parseTerms(p);
      let out: VaultTerms;
      try {
        out = narrowTerms(parent, parseTerms(c));
      } catch (err) {
        assert.ok(err instanceof TermsError && err.rule === "widens");
        return;
      }
      for (const cmd of out.commands)
        assert.ok(parent.commands.some((pc) => commandCovers(pc, cmd)));
      if (parent.caps) {
        assert.ok(out.caps, "capped parents keep their caps");
        for (const [asset, cap] of Object.entries(out.caps)) {
          const pc = parent.caps[asset];
          assert.ok(pc, `asset ${asset} was not in the parent`);
          assert.ok(compareDecimal(cap.maxPerTx, pc.maxPerTx) <= 0);
          assert.ok(compareDecimal(cap.maxPer24h, pc.maxPer24h) <= 0);
        }
      }
      if (parent.recipients)
        for (const r of out.recipients ?? ["none"]) assert.ok(parent.recipients.includes(r));
      if (parent.chains) for (const ch of out.chains ?? [-1]) assert.ok(parent.chains.includes(ch));
    }),
    { numRuns: RUNS },
  );
});

test("malformed terms are refused as malformed, not read loosely", () => {
  const bad: unknown[] = [
    undefined,
    { agent: "a" },
    { agent: "a", commands: [] },
    { agent: "a", commands: ["/Vault"] },
    { agent: "a", commands: ["/vault"], caps: { ETH: { maxPerTx: "1e3", maxPer24h: "1" } } },
    { agent: "a", commands: ["/vault"], caps: { ETH: { maxPerTx: "-1", maxPer24h: "1" } } },
    { agent: "a", commands: ["/vault"], caps: { notanasset: { maxPerTx: "1", maxPer24h: "1" } } },
    { agent: "a", commands: ["/vault"], recipients: ["0x12"] },
    { agent: "a", commands: ["/vault"], chains: [0] },
    { agent: "a", commands: ["/vault"], extra: true },
  ];
  for (const t of bad) {
    assert.throws(
      () => parseTerms(t),
      (e: unknown) => e instanceof TermsError && e.rule === "malformed",
      JSON.stringify(t),
    );
  }
});
