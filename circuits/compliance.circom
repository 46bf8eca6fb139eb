pragma circom 2.0.0;

// Compliance of one batch of N consecutive audit-log entries with one agent's
// spending policy for one asset. See src/zk/fields.ts for how every input is
// mapped to a field element, and README.md ("Compliance proofs") for the statement.

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/switcher.circom";

// Root of a binary Poseidon Merkle tree of depth D from a leaf and its path.
template MerkleRoot(D) {
    signal input leaf;
    signal input pathElements[D];
    signal input pathIndices[D];
    signal output root;

    component sw[D];
    component h[D];
    signal level[D + 1];
    level[0] <== leaf;
    for (var d = 0; d < D; d++) {
        // Guarantees: each direction bit is 0 or 1 (Switcher assumes it).
        pathIndices[d] * (pathIndices[d] - 1) === 0;
        // Guarantees: level d+1 = Poseidon(left, right) with the current node on the side
        // the direction bit names, so the root commits to the leaf at exactly one position.
        sw[d] = Switcher();
        sw[d].sel <== pathIndices[d];
        sw[d].L <== level[d];
        sw[d].R <== pathElements[d];
        h[d] = Poseidon(2);
        h[d].inputs[0] <== sw[d].outL;
        h[d].inputs[1] <== sw[d].outR;
        level[d + 1] <== h[d].out;
    }
    root <== level[D];
}

template Compliance(N, D) {
    // ---- public signals ----
    signal input startHead;      // zkHead before the first entry of the batch
    signal input endHead;        // zkHead after the last active entry
    signal input agentHash;      // field element of the agent id
    signal input assetHash;      // field element of the asset key ("ETH" or token address)
    signal input policyHash;     // field element of the policy's SHA-256
    signal input cap;            // per-transaction cap, base units
    signal input bound;          // bound on the running total, base units
    signal input allowRoot;      // Merkle root of the recipient allowlist
    signal input allowAny;       // 1 when the policy lists no recipients (any is allowed)
    signal input sumInCommit;    // Poseidon(total before this batch, salt)
    signal input sumOutCommit;   // Poseidon(total after this batch, salt)
    signal input spendCount;     // spends of this agent and asset in the batch

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
    signal input pathElements[N][D];
    signal input pathIndices[N][D];
    signal input sumIn;
    signal input sumInSalt;
    signal input sumOutSalt;

    // Guarantees: the flags are bits and cap, bound, the carried total fit 128 bits,
    // so the 128/136-bit comparisons below cannot wrap around the field.
    allowAny * (allowAny - 1) === 0;
    component capBits = Num2Bits(128);
    capBits.in <== cap;
    component boundBits = Num2Bits(128);
    boundBits.in <== bound;
    component sumInBits = Num2Bits(128);
    sumInBits.in <== sumIn;

    // Guarantees: the total carried in is the one the previous batch committed to
    // (the first batch of a bundle must show Poseidon(0, 0), checked by the verifier).
    component inCommit = Poseidon(2);
    inCommit.inputs[0] <== sumIn;
    inCommit.inputs[1] <== sumInSalt;
    inCommit.out === sumInCommit;

    component leaf[N];
    component link[N];
    component amountBits[N];
    component underCap[N];
    component isOne[N];
    component isTwo[N];
    component mineAgent[N];
    component mineAsset[N];
    component merkle[N];
    component listed[N];
    signal head[N + 1];
    signal acc[N + 1];
    signal cnt[N + 1];
    signal mine[N];
    signal mineAA[N];
    signal spend[N];
    signal stepHead[N];
    signal needList[N];
    signal kindSq[N];
    head[0] <== startHead;
    acc[0] <== sumIn;
    cnt[0] <== 0;

    for (var i = 0; i < N; i++) {
        // Guarantees: active is a bit and kind is 0, 1 or 2.
        active[i] * (active[i] - 1) === 0;
        kindSq[i] <== kind[i] * (kind[i] - 1);
        kindSq[i] * (kind[i] - 2) === 0;

        // Guarantees: commitment_i = Poseidon(kind, agent, asset, amount, recipient, time,
        // policyVersion, policy, salt) - exactly what the vault and every node computed.
        leaf[i] = Poseidon(9);
        leaf[i].inputs[0] <== kind[i];
        leaf[i].inputs[1] <== agent[i];
        leaf[i].inputs[2] <== asset[i];
        leaf[i].inputs[3] <== amount[i];
        leaf[i].inputs[4] <== recipient[i];
        leaf[i].inputs[5] <== time[i];
        leaf[i].inputs[6] <== policyVersion[i];
        leaf[i].inputs[7] <== policy[i];
        leaf[i].inputs[8] <== salt[i];

        // Guarantees: an active entry advances the chain, zkHead_i = Poseidon(zkHead_{i-1},
        // commitment_i); padding leaves it unchanged. Every active entry is chained, spends
        // or not, so none can be skipped without missing endHead.
        link[i] = Poseidon(2);
        link[i].inputs[0] <== head[i];
        link[i].inputs[1] <== leaf[i].out;
        stepHead[i] <== active[i] * (link[i].out - head[i]);
        head[i + 1] <== head[i] + stepHead[i];

        // mine = active entry of this agent; spend = a single spend of this agent in this asset.
        mineAgent[i] = IsEqual();
        mineAgent[i].in[0] <== agent[i];
        mineAgent[i].in[1] <== agentHash;
        mineAsset[i] = IsEqual();
        mineAsset[i].in[0] <== asset[i];
        mineAsset[i].in[1] <== assetHash;
        isOne[i] = IsEqual();
        isOne[i].in[0] <== kind[i];
        isOne[i].in[1] <== 1;
        isTwo[i] = IsEqual();
        isTwo[i].in[0] <== kind[i];
        isTwo[i].in[1] <== 2;
        mine[i] <== active[i] * mineAgent[i].out;
        mineAA[i] <== mine[i] * mineAsset[i].out;
        spend[i] <== mineAA[i] * isOne[i].out;

        // Guarantees: no entry of this agent holds several spends at once (those are
        // outside what one proof slot can state, so they make the log unprovable).
        mine[i] * isTwo[i].out === 0;

        // Guarantees: every spend was signed under the policy named in the public signals.
        spend[i] * (policy[i] - policyHash) === 0;

        // Guarantees: every amount fits 128 bits and every spend is <= cap.
        amountBits[i] = Num2Bits(128);
        amountBits[i].in <== amount[i];
        underCap[i] = LessEqThan(128);
        underCap[i].in[0] <== amount[i];
        underCap[i].in[1] <== cap;
        spend[i] * (1 - underCap[i].out) === 0;

        // Guarantees: every spend pays a recipient that is a leaf of the allowlist tree,
        // unless the policy allows any recipient.
        merkle[i] = MerkleRoot(D);
        merkle[i].leaf <== recipient[i];
        for (var d = 0; d < D; d++) {
            merkle[i].pathElements[d] <== pathElements[i][d];
            merkle[i].pathIndices[d] <== pathIndices[i][d];
        }
        listed[i] = IsEqual();
        listed[i].in[0] <== merkle[i].root;
        listed[i].in[1] <== allowRoot;
        needList[i] <== spend[i] * (1 - allowAny);
        needList[i] * (1 - listed[i].out) === 0;

        // Running total and count of this agent's spends in this asset.
        acc[i + 1] <== acc[i] + spend[i] * amount[i];
        cnt[i + 1] <== cnt[i] + spend[i];
    }

    // Guarantees: the entries chain from startHead to endHead.
    head[N] === endHead;
    // Guarantees: the number of spends is the public one.
    cnt[N] === spendCount;

    // Guarantees: the running total (all earlier batches + this one) is <= bound.
    // acc < 2^128 + N * 2^128 < 2^136 for N < 256, so a 136-bit comparison is exact.
    component underBound = LessEqThan(136);
    underBound.in[0] <== acc[N];
    underBound.in[1] <== bound;
    underBound.out === 1;

    // Guarantees: the total carried out is committed for the next batch to pick up.
    component outCommit = Poseidon(2);
    outCommit.inputs[0] <== acc[N];
    outCommit.inputs[1] <== sumOutSalt;
    outCommit.out === sumOutCommit;
}
