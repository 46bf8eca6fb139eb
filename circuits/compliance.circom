pragma circom 2.0.0;

// Compliance of one batch of N consecutive audit-log entries with one agent's
// spending policy for one asset. Only entries chained by the v2 rule (seq >= the log's zk
// v2 start, src/audit/commitment.ts) can be proved: the prover refuses earlier ones. See src/audit/commitment.ts for how every entry is
// mapped to field elements, src/zk/statement.ts for the public values (allowlist slots
// and hash, amount width), and README.md ("Compliance proofs") for the statement.

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/bitify.circom";

// Width of a spend's amount and of the cap in the circuit (ZK_AMOUNT_BITS in
// src/zk/statement.ts). 2^96 - 1 base units is 7.9e10 whole units of an 18-decimal
// token (79 billion ETH: more than exist), 7.9e22 USDC (6 decimals). The public cap is
// min(policy cap, 2^96 - 1); a spend above it has no proof and the prover names it.
function AMOUNT_BITS() { return 96; }

// The value that fills the allowlist slots after the real recipients (ALLOW_PAD in
// src/zk/statement.ts): p - 1. A recipient's field element is keccak256(address) >> 3 <
// 2^253 < p - 1, so no real recipient has it; the circuit also refuses it outright.
function ALLOW_PAD() { return -1; }

// Hash of the L = 2^D allowlist slots: Poseidon(slots) for L <= 16, else Poseidon over
// the Poseidon(16) hashes of its 16-slot chunks (L <= 256). statement.ts listHash()
// computes the same.
template ListHash(L) {
    signal input in[L];
    signal output out;
    assert(L >= 2 && L <= 256);
    if (L <= 16) {
        component h = Poseidon(L);
        for (var j = 0; j < L; j++) h.inputs[j] <== in[j];
        out <== h.out;
    } else {
        var C = L \ 16;
        component chunk[C];
        component top = Poseidon(C);
        for (var c = 0; c < C; c++) {
            chunk[c] = Poseidon(16);
            for (var j = 0; j < 16; j++) chunk[c].inputs[j] <== in[16 * c + j];
            top.inputs[c] <== chunk[c].out;
        }
        out <== top.out;
    }
}

template Compliance(N, D) {
    // Allowlist capacity L = 2^D slots; the per-entry membership check costs L constraints.
    assert(D >= 1 && D <= 8);
    assert(N >= 1 && N <= 255);
    var L = 1 << D;
    var K = AMOUNT_BITS();
    var PAD = ALLOW_PAD();
    assert(K <= 120); // keeps the running total below 2^129 (see underBound)

    // ---- public signals ----
    signal input startHead;      // zkHead before the first entry of the batch (v2 entries only)
    signal input endHead;        // zkHead after the last active entry
    signal input agentHash;      // field element of the agent id
    signal input assetHash;      // field element of the asset key ("ETH" or token address)
    signal input policyHash;     // field element of the policy's SHA-256
    signal input cap;            // min(per-transaction cap, 2^K - 1), base units
    signal input bound;          // bound on the running total, base units
    signal input allowHash;      // ListHash of the allowlist's L slots
    signal input allowAny;       // 1 when the policy lists no recipients (any is allowed)
    signal input sumInCommit;    // Poseidon(total before this batch, salt)
    signal input sumOutCommit;   // Poseidon(total after this batch, salt)
    signal input spendCount;     // spends of this agent and asset in the batch

    // ---- private: the allowlist, once per batch ----
    signal input allowList[L];   // the recipients' field elements, sorted, then PAD

    // ---- private: the entries (as committed in the log) ----
    signal input active[N];      // 1 for a real entry, 0 for padding after the last one
    signal input kind[N];        // 0 not a spend, 1 one spend, 2 several spends in one entry
    signal input agent[N];
    signal input asset[N];
    signal input amount[N];
    signal input recipient[N];
    signal input time[N];
    signal input policyVersion[N];
    signal input policy[N];
    signal input salt[N];        // the entry's SHA-256 hash as a field element (binds + hides)
    signal input sumIn;
    signal input sumInSalt;
    signal input sumOutSalt;

    // Guarantees: allowAny is a bit; cap < 2^K; bound and the carried total < 2^128, so
    // the comparisons below cannot wrap around the field.
    allowAny * (allowAny - 1) === 0;
    component capBits = Num2Bits(K);
    capBits.in <== cap;
    component boundBits = Num2Bits(128);
    boundBits.in <== bound;
    component sumInBits = Num2Bits(128);
    sumInBits.in <== sumIn;

    // Guarantees: the private slots are exactly the list the public allowHash commits to
    // (Poseidon is collision resistant), and the verifier recomputes allowHash from the
    // policy in the bundle: the slots are the policy's recipients, then PAD.
    component listHash = ListHash(L);
    for (var j = 0; j < L; j++) listHash.in[j] <== allowList[j];
    listHash.out === allowHash;

    // Guarantees: the total carried in is the one the previous batch committed to
    // (the first batch of a bundle must show Poseidon(0, 0), checked by the verifier).
    component inCommit = Poseidon(2);
    inCommit.inputs[0] <== sumIn;
    inCommit.inputs[1] <== sumInSalt;
    inCommit.out === sumInCommit;

    component step[N];
    component mineAgent[N];
    component mineAsset[N];
    component underCap[N];
    signal head[N + 1];
    signal acc[N + 1];
    signal cnt[N + 1];
    signal kindSq[N];
    signal mine[N];
    signal mineAA[N];
    signal spend[N];
    signal stepHead[N];
    signal spent[N];
    signal needList[N];
    signal miss[N][L];
    signal padInv[N];
    signal padProd[N];
    head[0] <== startHead;
    acc[0] <== sumIn;
    cnt[0] <== 0;

    for (var i = 0; i < N; i++) {
        // Guarantees: active is a bit and kind is 0, 1 or 2. Then kindSq = kind(kind-1) is
        // 0, 0, 2, so isOne = kind - kindSq and isTwo = kindSq / 2 are the kind's flags.
        active[i] * (active[i] - 1) === 0;
        kindSq[i] <== kind[i] * (kind[i] - 1);
        kindSq[i] * (kind[i] - 2) === 0;

        // Guarantees: an active entry advances the chain by the v2 rule of
        // src/audit/commitment.ts, zkHead_i = Poseidon(kind, agent, asset, amount,
        // recipient, time, policyVersion, policy, salt, zkHead_{i-1}) - exactly what the
        // vault and every node computed for entries from the log's zk v2 start on - so the
        // private fields are the ones the entry committed; padding leaves it unchanged.
        // Every active entry is chained, spends or not, so none can be skipped without
        // missing endHead.
        step[i] = Poseidon(10);
        step[i].inputs[0] <== kind[i];
        step[i].inputs[1] <== agent[i];
        step[i].inputs[2] <== asset[i];
        step[i].inputs[3] <== amount[i];
        step[i].inputs[4] <== recipient[i];
        step[i].inputs[5] <== time[i];
        step[i].inputs[6] <== policyVersion[i];
        step[i].inputs[7] <== policy[i];
        step[i].inputs[8] <== salt[i];
        step[i].inputs[9] <== head[i];
        stepHead[i] <== active[i] * (step[i].out - head[i]);
        head[i + 1] <== head[i] + stepHead[i];

        // mine = active entry of this agent; spend = a single spend of this agent in this asset.
        mineAgent[i] = IsEqual();
        mineAgent[i].in[0] <== agent[i];
        mineAgent[i].in[1] <== agentHash;
        mineAsset[i] = IsEqual();
        mineAsset[i].in[0] <== asset[i];
        mineAsset[i].in[1] <== assetHash;
        mine[i] <== active[i] * mineAgent[i].out;
        mineAA[i] <== mine[i] * mineAsset[i].out;
        spend[i] <== mineAA[i] * (kind[i] - kindSq[i]);

        // Guarantees: no entry of this agent holds several spends at once (those are
        // outside what one proof slot can state, so they make the log unprovable).
        mine[i] * kindSq[i] === 0;

        // Guarantees: every spend was signed under the policy named in the public signals.
        spend[i] * (policy[i] - policyHash) === 0;

        // Guarantees: spent <= cap as integers, where spent = amount for a spend and 0
        // otherwise. A spend's amount is an integer below 2^128 (src/audit/commitment.ts
        // commits kind 1 only then, and the chain binds it), and cap < 2^K with
        // K + 1 < 128 < 253: a spent above cap makes cap - spent a field element
        // >= p - 2^128, which does not fit K bits. So no range check of the amount itself.
        // Only spends are checked: other entries' amounts never enter the total.
        spent[i] <== spend[i] * amount[i];
        underCap[i] = Num2Bits(K);
        underCap[i].in <== cap - spent[i];

        // Guarantees: every spend pays a recipient equal to one of the L slots - the
        // product of (recipient - slot) is zero only then (a field has no zero divisors) -
        // and the recipient is not PAD (padInv is its inverse against PAD, which exists only
        // when recipient != PAD), so a padding slot never admits a spend. Waived when the
        // policy allows any recipient.
        needList[i] <== spend[i] * (1 - allowAny);
        miss[i][0] <== recipient[i] - allowList[0];
        for (var j = 1; j < L; j++) {
            miss[i][j] <== miss[i][j - 1] * (recipient[i] - allowList[j]);
        }
        needList[i] * miss[i][L - 1] === 0;
        padInv[i] <-- recipient[i] != PAD ? 1 / (recipient[i] - PAD) : 0;
        padProd[i] <== (recipient[i] - PAD) * padInv[i];
        needList[i] * (padProd[i] - 1) === 0;

        // Running total and count of this agent's spends in this asset.
        acc[i + 1] <== acc[i] + spent[i];
        cnt[i + 1] <== cnt[i] + spend[i];
    }

    // Guarantees: the entries chain from startHead to endHead.
    head[N] === endHead;
    // Guarantees: the number of spends is the public one.
    cnt[N] === spendCount;

    // Guarantees: the running total (all earlier batches + this one) is <= bound.
    // acc < 2^128 + N * 2^K < 2^129 (N <= 255, K = 96), so a 129-bit comparison is exact.
    component underBound = LessEqThan(129);
    underBound.in[0] <== acc[N];
    underBound.in[1] <== bound;
    underBound.out === 1;

    // Guarantees: the total carried out is committed for the next batch to pick up.
    component outCommit = Poseidon(2);
    outCommit.inputs[0] <== acc[N];
    outCommit.inputs[1] <== sumOutSalt;
    outCommit.out === sumOutCommit;
}
