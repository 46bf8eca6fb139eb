/**
 * Two signer clusters as shards (VAULT_CLUSTERS=2: two 2-of-3 clusters, six node processes).
 * Each agent is placed on one cluster, its key exists on that cluster's nodes only, it signs
 * there, and a cluster without a quorum stops its own agents and no others; the placement
 * is recorded, so a restart keeps it.
 */
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { verifyMessage } from "ethers";
import { loadConfig } from "../../../src/config/index.js";
import { createVault } from "../../../src/services/vault.js";
import type { LocalCluster } from "../../../src/signers/local/cluster.js";
import { NodeRefused } from "../../../src/signers/local/node-client.js";
import { ADMIN_KEY, BASIC_POLICY, startTestVault, type TestVault } from "../../helpers/vault.js";

let tv: TestVault;
type Agent = { id: string; address: string; cluster: string };
let first: Agent;
let second: Agent;

const create = async (body: Record<string, unknown>) =>
  tv.app.inject({
    method: "POST",
    url: "/v1/agents",
    headers: tv.admin,
    payload: { name: "sharded", policy: BASIC_POLICY, ...body },
  });

const sign = (agent: Agent, message: string) =>
  tv.app.inject({
    method: "POST",
    url: `/v1/agents/${agent.id}/sign/message`,
    headers: tv.admin,
    payload: { message },
  });

const shard = (name: string) => {
  const s = tv.vault.clusters.get(name);
  if (!s?.supervisor) throw new Error(`cluster ${name} runs embedded nodes`);
  return { cluster: s.cluster, supervisor: s.supervisor };
};

/** Which of a cluster's nodes hold a key for the agent (node refusal UNKNOWN_AGENT: none). */
async function holders(cluster: LocalCluster, agentId: string): Promise<number[]> {
  const held = await Promise.all(
    cluster.nodes().map(async ({ index }) => {
      try {
        await cluster.client(index).call("agent.state", `held-${agentId}-${index}`, { agentId });
        return index;
      } catch (err) {
        if (err instanceof NodeRefused && err.code === "UNKNOWN_AGENT") return undefined;
        throw err;
      }
    }),
  );
  return held.filter((i) => i !== undefined);
}

before(async () => {
  tv = await startTestVault({ VAULT_CLUSTERS: "2" });
  const a = await create({});
  assert.equal(a.statusCode, 201, a.body);
  first = a.json();
  const b = await create({});
  assert.equal(b.statusCode, 201, b.body);
  second = b.json();
  await tv.vault.clusters.whenRefilled();
});
after(async () => tv?.stop());

test("new agents go to the least loaded cluster, and their view names it", async () => {
  assert.deepEqual([first.cluster, second.cluster], ["c0", "c1"]);
  const view = await tv.app.inject({ url: `/v1/agents/${second.id}`, headers: tv.admin });
  assert.equal(view.json().cluster, "c1");
  assert.deepEqual(view.json().threshold, { t: 2, n: 3 });
  const status = (await tv.app.inject({ url: "/v1/cluster", headers: tv.admin })).json();
  assert.deepEqual(
    status.clusters.map((c: { name: string; agents: number }) => [c.name, c.agents]),
    [
      ["c0", 1],
      ["c1", 1],
    ],
  );
});

test("an agent's key shares are on its own cluster's nodes and nowhere else", async () => {
  assert.deepEqual(await holders(shard("c0").cluster, first.id), [0, 1, 2]);
  assert.deepEqual(await holders(shard("c1").cluster, first.id), []);
  assert.deepEqual(await holders(shard("c1").cluster, second.id), [0, 1, 2]);
  assert.deepEqual(await holders(shard("c0").cluster, second.id), []);
});

test("a cluster can be named; a name not configured is refused before any key exists", async () => {
  const named = await create({ cluster: "c1" });
  assert.equal(named.statusCode, 201, named.body);
  assert.equal(named.json().cluster, "c1");
  const before = (await tv.vault.store.agents()).length;
  const unknown = await create({ cluster: "c9" });
  assert.equal(unknown.statusCode, 400);
  assert.equal(unknown.json().error.code, "UNKNOWN_CLUSTER");
  assert.equal((await tv.vault.store.agents()).length, before);
});

test("agents created at the same moment are spread, not all put on one cluster", async () => {
  const counts = async () => Object.fromEntries(await tv.vault.store.agentsPerCluster());
  assert.deepEqual(await counts(), { c0: 1, c1: 2 });
  const made = await Promise.all([create({}), create({}), create({})]);
  for (const res of made) assert.equal(res.statusCode, 201, res.body);
  assert.deepEqual(await counts(), { c0: 3, c1: 3 });
});

test("both clusters sign for their agents", async () => {
  for (const agent of [first, second]) {
    const res = await sign(agent, `hello from ${agent.cluster}`);
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(verifyMessage(`hello from ${agent.cluster}`, res.json().signature), agent.address);
  }
});

test("a cluster without a quorum stops its own agents only; readyz says which", async () => {
  const c1 = shard("c1");
  for (const i of [1, 2]) c1.supervisor.kill(i);
  try {
    for (;;) {
      await tv.vault.clusters.checkHealth();
      if (!c1.cluster.hasQuorum()) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const ready = await tv.app.inject({ url: "/readyz" });
    assert.equal(ready.statusCode, 200, "the home cluster still signs");
    assert.deepEqual(
      ready.json().clusters.map((c: { name: string; ready: boolean }) => [c.name, c.ready]),
      [
        ["c0", true],
        ["c1", false],
      ],
    );
    const home = await sign(first, "c1 is down");
    assert.equal(home.statusCode, 200, home.body);
    const stopped = await sign(second, "c1 is down");
    assert.equal(stopped.statusCode, 503, stopped.body);
    assert.equal(stopped.json().error.code, "QUORUM_UNAVAILABLE");
  } finally {
    await Promise.all([1, 2].map((i) => c1.supervisor.respawn(i)));
  }
  for (;;) {
    await tv.vault.clusters.checkHealth();
    if (c1.cluster.hasQuorum()) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const back = await sign(second, "c1 is back");
  assert.equal(back.statusCode, 200, back.body);
  assert.equal(verifyMessage("c1 is back", back.json().signature), second.address);
});

test("the placement is recorded: after a restart each agent signs on its own cluster", async () => {
  const dir = tv.dir;
  await tv.stop();
  tv = await startTestVault({ VAULT_CLUSTERS: "2", VAULT_DATA_DIR: dir });
  const view = await tv.app.inject({ url: `/v1/agents/${second.id}`, headers: tv.admin });
  assert.equal(view.json().cluster, "c1");
  const res = await sign(second, "after restart");
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(verifyMessage("after restart", res.json().signature), second.address);
  assert.equal((await tv.vault.audit.verify()).ok, true);
});

test("a start without a cluster that holds keys is refused before any node is spawned", async () => {
  const dir = tv.dir;
  await tv.stop();
  const config = loadConfig({ VAULT_DATA_DIR: dir, VAULT_ADMIN_KEY: ADMIN_KEY });
  const spawned: string[] = [];
  await assert.rejects(
    createVault(config, { timers: false, log: (l) => spawned.push(l) }),
    /not configured: c1 \(the keys of 3 agents\)/,
  );
  assert.equal(spawned.filter((l) => /starting \d signer nodes/.test(l)).length, 0);
  tv = await startTestVault({ VAULT_CLUSTERS: "2", VAULT_DATA_DIR: dir });
});
