// The pinned policy Lit Action (issue 10): rebuilding it from src/ (src/policy and
// src/signers/lit/action) must reproduce the committed templates byte for byte, and the
// CIDs pinned in src/signers/lit/action/pins.ts must be the templates' own CIDs. Either
// failing means the source, the committed action and its pinned CID disagree: run
// `npm run build:lit-action` and commit all three.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { adminPublicKey } from "../../../src/auth/admin-authority.js";
import { ERROR_CATALOGUE } from "../../../src/errors/index.js";
import {
  AUTHORITY_KEY_PLACEHOLDER,
  actionCid,
  actionCode,
  actionTemplate,
  TEMPLATE_CIDS,
} from "../../../src/signers/lit/action/index.js";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

test("rebuilding the action from source reproduces the committed templates and pins", async () => {
  const run = promisify(execFile);
  // --check exits 1, naming the file, when a rebuild differs from what is committed.
  await run(process.execPath, ["scripts/build-lit-action.mjs", "--check"], { cwd: ROOT });
});

test("the pinned CIDs are the committed templates' CIDs", async () => {
  for (const runtime of ["lit-v7", "lit-chipotle"] as const) {
    const template = actionTemplate(runtime);
    assert.equal(
      template.split(AUTHORITY_KEY_PLACEHOLDER).length,
      2,
      `${runtime}: one placeholder`,
    );
    assert.equal(await actionCid(template), TEMPLATE_CIDS[runtime], `${runtime} CID`);
  }
});

test("ipfs-only-hash gives the IPFS v0 CID Lit computes (known vector)", async () => {
  // `ipfs add --only-hash` of the 12 bytes "hello world\n" (a published IPFS example).
  assert.equal(await actionCid("hello world\n"), "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o");
});

test("npm run lit:action prints the CID an operator's PKPs are bound to", async () => {
  const key = adminPublicKey("an-operator-admin-key");
  const run = promisify(execFile);
  const args = ["--import", "tsx", "scripts/lit-action-code.ts", "--runtime=lit-v7"];
  const { stdout } = await run(process.execPath, [...args, `--authority-key=${key}`], {
    cwd: ROOT,
  });
  assert.equal(stdout.trim(), await actionCid(actionCode("lit-v7", key)));
  await assert.rejects(run(process.execPath, [...args, "--authority-key=AAAA"], { cwd: ROOT }));
});

test("the action does not carry the vault's error catalogue (a new error code keeps its CID)", () => {
  for (const runtime of ["lit-v7", "lit-chipotle"] as const) {
    const template = actionTemplate(runtime);
    for (const [code, { message }] of Object.entries(ERROR_CATALOGUE)) {
      assert.ok(!template.includes(message), `${runtime} holds the catalogue's ${code}`);
    }
  }
});
