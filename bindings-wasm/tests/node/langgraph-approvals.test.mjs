// Human approval in a LangChain.js agent run with `agentauthz-wasm/langchain`:
// the suite shared with the Node addon (tests/approvals/langgraph.mjs) over the
// nodejs build, with this package's pinned `langchain` and
// `@langchain/langgraph` (a scripted fake model; no network), and what only
// WASM has: the web build's entry (ES modules) and an instance reset while
// the graph waits.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { AIMessage, HumanMessage, ToolMessage, createAgent, tool } from "langchain";
import { Command, MemorySaver } from "@langchain/langgraph";
import { fakeModel } from "@langchain/core/testing";
import { INVENTORY, POLICIES, SCHEMA } from "../../../tests/approvals/suite.mjs";
import { langgraphSuite } from "../../../tests/approvals/langgraph.mjs";

const require = createRequire(import.meta.url);
const api = require("../../pkg/node/node.js");
const { Engine, LifecycleError, ManualClock } = api;
const { authorizationMiddleware } = require("../../pkg/node/langchain.js");

const { Run, makeEngine, options } = langgraphSuite({
  test,
  assert,
  Engine,
  LifecycleError,
  ManualClock,
  authorizationMiddleware,
  langchain: { AIMessage, HumanMessage, ToolMessage, createAgent, tool },
  langgraph: { Command, MemorySaver },
  fakeModel,
});

test("an approval survives an instance reset while the graph waits; the call runs once", async () => {
  const engine = makeEngine();
  const run = await new Run(engine, [500, 500]).start();
  engine.approve(run.pending.decision_id, { by: "alice" });
  assert.throws(() => api.__debugPanic("reset"), (e) => e.code === "internal");
  await run.resume("approved in the engine");
  assert.deepEqual(run.refunds, [500]);
  // The second call of 500 pauses again: the one use was consumed before the reset's restore.
  assert.ok(run.pending);
  assert.throws(() => api.__debugPanic("reset"), (e) => e.code === "internal");
  await run.resume({ approved: true });
  assert.deepEqual(run.refunds, [500]);
  assert.equal(run.toolMessage("c1").status, "error");
});

test("the web build's entry (ES modules, its own Engine) pauses and resumes the same way", async () => {
  const web = await import("../../pkg/web/web.js");
  web.initSync(readFileSync(new URL("../../pkg/web/agentauthz_wasm_bg.wasm", import.meta.url)));
  const { authorizationMiddleware: webMiddleware } = await import("../../pkg/web/langchain.js");
  const engine = web.Engine.fromStrings(
    { schema: SCHEMA, policies: POLICIES, inventory: INVENTORY },
    { clock: new web.ManualClock("2026-11-29T10:00:00Z") },
  );
  const run = await new Run(engine, [500, 501], { middleware: webMiddleware }).start();
  assert.deepEqual(run.pending.args, { amount: 500 });
  assert.throws(() => engine.approve(run.pending.decision_id, { by: "mallory" }), (e) => e.code === "approval_refused");
  engine.approve(run.pending.decision_id, { by: "alice" });
  await run.resume("approved in the engine");
  assert.deepEqual(run.refunds, [500]);
  assert.deepEqual(run.pending.args, { amount: 501 });
  await run.resume({ approved: true, decision_id: run.pending.decision_id });
  assert.deepEqual(run.refunds, [500]);
  assert.equal(run.toolMessage("c1").status, "error");
  // Each entry takes only its own build's Engine.
  assert.throws(() => webMiddleware(options(makeEngine())), TypeError);
  assert.throws(() => authorizationMiddleware(options(engine)), TypeError);
});
