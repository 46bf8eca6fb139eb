/**
 * federation_links (src/store/federation.ts) on both storage engines: the operators upstream
 * of a link round-trip, a link admitted again names its latest upstream, every replica reads
 * what another wrote, and expired links are pruned as puts go by.
 */
import assert from "node:assert/strict";
import { openFederationStore } from "../../../src/store/federation.js";
import { onBothEngines } from "../../helpers/engines.js";

onBothEngines({
  "upstream operators round-trip across replicas; expired links are pruned": async (f) => {
    const sql = f.open();
    const a = await openFederationStore(sql);
    const b = await openFederationStore(f.open());
    assert.equal(await a.upstream("c1"), undefined);
    await a.put("c1", ["did:web:anchor.example"], 1_000, 0);
    assert.deepEqual(await b.upstream("c1"), ["did:web:anchor.example"]);
    await b.put("c1", ["did:web:anchor.example", "did:web:member.example"], 1_000, 0);
    assert.deepEqual(await a.upstream("c1"), ["did:web:anchor.example", "did:web:member.example"]);
    // A link without an expiry is kept as long as it can be.
    await a.put("forever", ["did:web:anchor.example"], Number.MAX_SAFE_INTEGER, 0);
    // Every 256th put of a store prunes the links expired by then.
    for (let i = 0; i < 253; i++) await a.put(`x${i}`, [], 5_000, 2_000);
    assert.deepEqual(await a.upstream("c1"), ["did:web:anchor.example", "did:web:member.example"]);
    await a.put("last", [], 5_000, 2_000);
    assert.equal(await a.upstream("c1"), undefined);
    assert.deepEqual(await a.upstream("forever"), ["did:web:anchor.example"]);
    assert.deepEqual(await a.upstream("x0"), []);
    const n = await sql.get<{ n: number }>("SELECT count(*) AS n FROM federation_links");
    assert.equal(Number(n?.n), 255);
  },
});
