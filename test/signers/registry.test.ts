/**
 * The backend registry (src/signers/registry.ts): local is always there, a Lit backend
 * only when configured, loaded once on first use (a failed load is retried), closed with
 * the vault; and the default loaders exist only for the backends the config turns on.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { VaultError } from "../../src/errors/index.js";
import { createBackendRegistry, litLoaders } from "../../src/signers/registry.js";
import { TestBackend } from "../helpers/test-backend.js";

test("local always; an unconfigured Lit backend is BACKEND_NOT_CONFIGURED", async () => {
  const local = new TestBackend("local");
  const reg = createBackendRegistry({ local, defaultBackend: "local", loaders: {} });
  assert.equal(await reg.get("local"), local);
  assert.equal(reg.configured("local"), true);
  assert.equal(reg.configured("lit-v7"), false);
  await assert.rejects(reg.get("lit-v7"), (err: unknown) => {
    assert.ok(err instanceof VaultError);
    assert.equal(err.code, "BACKEND_NOT_CONFIGURED");
    assert.equal(err.status, 400);
    assert.equal(err.details.backend, "lit-v7");
    return true;
  });
});

test("a Lit backend is loaded once, on first use, and closed with the registry", async () => {
  const lit = new TestBackend("lit-chipotle");
  let loads = 0;
  const reg = createBackendRegistry({
    local: new TestBackend("local"),
    defaultBackend: "lit-chipotle",
    loaders: {
      "lit-chipotle": async () => {
        loads++;
        return lit;
      },
    },
  });
  assert.equal(loads, 0, "nothing is loaded when the registry is made");
  const [a, b] = await Promise.all([reg.get("lit-chipotle"), reg.get("lit-chipotle")]);
  assert.equal(a, lit);
  assert.equal(b, lit);
  assert.equal(loads, 1);
  await reg.close();
  assert.equal(lit.closed, true);
});

test("a failed load is tried again by the next request", async () => {
  let attempt = 0;
  const lit = new TestBackend("lit-v7");
  const reg = createBackendRegistry({
    local: new TestBackend("local"),
    defaultBackend: "local",
    loaders: {
      "lit-v7": async () => {
        attempt++;
        if (attempt === 1) throw new Error("SDK failed to load");
        return lit;
      },
    },
  });
  await assert.rejects(reg.get("lit-v7"), /SDK failed to load/);
  assert.equal(await reg.get("lit-v7"), lit);
});

test("the default backend must be configured", () => {
  assert.throws(
    () =>
      createBackendRegistry({
        local: new TestBackend("local"),
        defaultBackend: "lit-v7",
        loaders: {},
      }),
    /default backend lit-v7 is not configured/,
  );
});

test("default loaders exist only for the configured Lit backends", () => {
  const deps = () => ({ authorityPublicKey: "AAAA" });
  assert.deepEqual(Object.keys(litLoaders({}, deps)), []);
  const both = litLoaders(
    {
      litV7: { network: "datil-dev", operatorKey: `0x${"11".repeat(32)}` },
      chipotle: { url: "https://api.dev.litprotocol.com", apiKey: "k" },
    },
    deps,
  );
  assert.deepEqual(Object.keys(both).sort(), ["lit-chipotle", "lit-v7"]);
});
