// Human approval in a LangChain.js agent run with `agentauthz-wasm/langchain`:
// the suite shared with the Node addon (tests/approvals/langgraph.mjs) over the
// nodejs build, with this package's pinned `langchain` and
// `@langchain/langgraph` (a scripted fake model; no network), and what only
// WASM has: the web build's entry (ES modules), an instance reset while the
// graph waits, and the docs page's WASM snippet.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
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

// docs/frameworks/langchain-js.md's WASM snippet, as written (the package's
// names pointed at pkg/web), after a prelude giving it what the page's example
// gives (bundle texts, tool, resource, a scripted model) and a fetch that
// serves pkg/ as a web server would; then the approval flow runs through it.
test("the langchain-js page's WASM snippet runs: the refund pauses, the owner approves, it runs once", { timeout: 120_000 }, () => {
  const page = readFileSync(new URL("../../../docs/frameworks/langchain-js.md", import.meta.url), "utf8");
  const section = page.slice(page.indexOf("## WASM (`agentauthz-wasm/langchain`)"));
  const snippet = /```js\n([\s\S]*?)```/.exec(section)[1];
  const web = (file) => JSON.stringify(new URL(`../../pkg/web/${file}`, import.meta.url).href);
  const code = snippet
    .replace("from 'agentauthz-wasm/langchain'", `from ${web("langchain.js")}`)
    .replace("from 'agentauthz-wasm'", `from ${web("web.js")}`);
  assert.notEqual(code, snippet);
  const prelude = `
import { readFileSync as __read } from 'node:fs'
import { AIMessage as __AIMessage, tool as __tool } from 'langchain'
import { Command as __Command } from '@langchain/langgraph'
import { fakeModel as __fake } from '@langchain/core/testing'
globalThis.fetch = async (url) => new Response(__read(new URL(url)), { headers: { 'content-type': 'application/wasm' } })
const schema = ${JSON.stringify(SCHEMA)}
const policies = ${JSON.stringify(POLICIES)}
const inventory = ${JSON.stringify(INVENTORY.replace("agents:\n", "agents:\n  - {id: support-bot, owner: alice, groups: [payers]}\n"))}
const resource = { type: 'Order', id: 'o1' }
const refunded = []
const refund = __tool(async ({ amount }) => (refunded.push(amount), 'refunded'), {
  name: 'refund', description: 'Refund', schema: { type: 'object', properties: { amount: { type: 'number' } }, required: ['amount'] },
})
const model = __fake().respondWithTools([{ name: 'refund', args: { amount: 250 }, id: 'c1' }]).respond(new __AIMessage('done'))
`;
  const postlude = `
const __config = { configurable: { thread_id: 't1' } }
let __result = await agent.invoke({ messages: [{ role: 'user', content: 'refund' }] }, __config)
const [__pending] = __result.__interrupt__
console.log(__pending.value.args.amount, __pending.value.approvers.join(' '), refunded.length)
engine.approve(__pending.value.decision_id, { by: 'alice' })
__result = await agent.invoke(new __Command({ resume: 'approved' }), __config)
console.log(refunded.join(' '), __result.messages.at(-1).content)
`;
  const dir = new URL("../../.snippets/", import.meta.url);
  mkdirSync(dir, { recursive: true });
  const file = new URL("langchain-wasm.mjs", dir);
  writeFileSync(file, `${prelude}\n${code}\n${postlude}`);
  try {
    const env = { ...process.env };
    delete env.LANGSMITH_TRACING;
    delete env.LANGCHAIN_TRACING_V2;
    const r = spawnSync(process.execPath, [fileURLToPath(file)], { encoding: "utf8", env, timeout: 110_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "250 owner team:finance 0\n250 done\n");
  } finally {
    rmSync(file, { force: true });
  }
});
