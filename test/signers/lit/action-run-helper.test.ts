// The node:vm runner the Lit fakes share (test/helpers/lit/run-action.ts) honours the
// runtimes' contracts the fakes rely on: v7 jsParams are globals of the action's own realm,
// setResponse is the result, a thrown error or a hang is reported (Chipotle: 500, "action
// threw"), and main's value comes back as JSON.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runChipotleAction, runV7Action } from "../../helpers/lit/run-action.js";

const noSign = () => {
  throw new Error("not expected");
};

test("v7: jsParams are plain globals of the action's realm; setResponse is the response", async () => {
  const code = `(async () => {
    const plain = Object.getPrototypeOf(request) === Object.prototype;
    console.log("hello", 1);
    const signed = await LitActions.signEcdsa({ toSign: new Uint8Array([1, 2]), publicKey, sigName });
    Lit.Actions.setResponse({ response: JSON.stringify({ plain, n: request.n, signed }) });
  })();`;
  const seen: unknown[] = [];
  const run = await runV7Action(code, {
    jsParams: { request: { n: 7 }, publicKey: "0x04ab", sigName: "sig" },
    signEcdsa: (p) => {
      seen.push(p);
      return "success";
    },
  });
  assert.equal(run.error, undefined);
  assert.deepEqual(JSON.parse(run.response ?? ""), { plain: true, n: 7, signed: "success" });
  assert.equal(run.signCalls, 1);
  assert.deepEqual(seen, [{ toSign: new Uint8Array([1, 2]), publicKey: "0x04ab", sigName: "sig" }]);
  assert.equal(run.logs, "hello 1");
});

test("v7: a throw, a rejected promise and a hang are reported as errors", async () => {
  const thrown = await runV7Action("throw new Error('boom')", { jsParams: {}, signEcdsa: noSign });
  assert.equal(thrown.error, "boom");
  const rejected = await runV7Action("(async () => { throw new Error('later'); })()", {
    jsParams: {},
    signEcdsa: noSign,
  });
  assert.equal(rejected.error, "later");
  assert.equal(rejected.response, undefined);
  const hang = await runV7Action("for (;;) {}", {
    jsParams: {},
    signEcdsa: noSign,
    timeoutMs: 200,
  });
  assert.match(String(hang.error), /timed out|200 ms/);
  const pending = await runV7Action("new Promise(() => {})", {
    jsParams: {},
    signEcdsa: noSign,
    timeoutMs: 200,
  });
  assert.match(String(pending.error), /200 ms/);
});

test("Chipotle: main(params) is called, its value returned as JSON; no Node globals", async () => {
  const code = `async function main(params) {
    const key = await Lit.Actions.getPrivateKey({ pkpId: params.pkpId });
    return { key, v5: ethers.utils.isHexString("0x00"), node: typeof process + typeof Buffer + typeof require };
  }`;
  const run = await runChipotleAction(code, {
    jsParams: { pkpId: "0xabc" },
    getPrivateKey: ({ pkpId }) => `key-of-${pkpId}`,
  });
  assert.equal(run.error, undefined);
  assert.deepEqual(run.response, {
    key: "key-of-0xabc",
    v5: true,
    node: "undefinedundefinedundefined",
  });
  assert.equal(run.keyCalls, 1);
});

test("Chipotle: no main, or main throwing, is an error with no response", async () => {
  const none = await runChipotleAction("const x = 1;", { jsParams: {}, getPrivateKey: () => "" });
  assert.match(String(none.error), /no main/);
  const threw = await runChipotleAction("async function main() { throw new Error('bad') }", {
    jsParams: {},
    getPrivateKey: () => "",
  });
  assert.equal(threw.error, "bad");
  assert.equal(threw.response, undefined);
});
