/**
 * Cost of each front door per request: GET /v1/agents/:id through app.inject with an API
 * key, a vault JWT and a did:key presentation, against the same inject path without any
 * authentication (GET /healthz) measured in the same run. Each sample includes the door's
 * audit append; a presentation also fetches its challenge beforehand (not timed).
 */
import type { FastifyInstance } from "fastify";
import {
  createDidKey,
  type DidSigner,
  didKeySigner,
  issueAgentAuthorization,
  presentCredentials,
} from "../src/auth/vc/toolkit.js";
import type { Vault } from "../src/services/vault.js";
import { median, percentile, round, timed } from "./stats.js";

async function sample(n: number, request: () => Promise<() => Promise<{ statusCode: number }>>) {
  const ms: number[] = [];
  for (let i = 0; i < n; i++) {
    const call = await request();
    const t = await timed(call);
    if (t.value.statusCode !== 200) throw new Error(`door bench: status ${t.value.statusCode}`);
    ms.push(t.ms);
  }
  return { p50: round(median(ms), 3), p99: round(percentile(ms, 99), 3), samples: n };
}

export async function runDoorsBench(
  app: FastifyInstance,
  vault: Vault,
  agentId: string,
  issuer: DidSigner,
) {
  const url = `/v1/agents/${agentId}`;
  const get = (headers: Record<string, string>) => () =>
    app.inject({ method: "GET", url, headers });
  const { key } = await vault.keys.issue(agentId, ["READ"], "bench");
  const admin = {
    kind: "operator" as const,
    keyId: "admin",
    agentId: null,
    scopes: new Set(["ADMIN" as const]),
  };
  const { token } = await vault.tokens.issue(
    { agentId, capabilities: ["read"], ttlSeconds: 3600 },
    admin,
    "bench",
  );
  const holder = didKeySigner(createDidKey());
  const vc = await issueAgentAuthorization(issuer, holder.did, {
    agentId,
    operator: vault.config.auth.operatorId,
    capabilities: ["read"],
  });
  const presented = async () => {
    const { challenge, audience } = await vault.credentials.challenge();
    return get({
      "x-agent-presentation": await presentCredentials(holder, [vc], challenge, audience),
    });
  };
  await sample(20, presented); // warm the resolvers and JITs
  return {
    baselineNoAuthMs: await sample(
      300,
      async () => () => app.inject({ method: "GET", url: "/healthz" }),
    ),
    apiKeyMs: await sample(300, async () => get({ authorization: `Bearer ${key}` })),
    jwtMs: await sample(300, async () => get({ authorization: `Bearer ${token}` })),
    presentationMs: await sample(60, presented),
  };
}
