// The framework adapters of the shared JS layer, as the WASM package ships
// them: `agentauthz-wasm/ai-sdk` and `agentauthz-wasm/openai-agents` (both
// builds), deciding with the WASM engine. `agentauthz-wasm/langchain` runs in a
// real agent in langgraph-approvals.test.mjs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const { Engine, RequestError } = require("../../pkg/node/node.js");
const { authorizeTools, ToolCallRefused } = require("../../pkg/node/ai-sdk.js");
const { authorizationGuardrail, guardAgentTools, pendingApprovals } = require("../../pkg/node/openai-agents.js");
const PKG = join(dirname(fileURLToPath(import.meta.url)), "../../pkg");

const engine = Engine.fromStrings({
  schema: `entity Order;
    action "billing:refund" appliesTo { principal: [Agent], resource: [Order], context: { input: { amount: decimal, currency: String } } };`,
  policies: {
    "refunds.cedar": `@id("refunds") permit (principal == Agent::"support-bot", action == Action::"billing:refund", resource);
      @id("refund-limit") forbid (principal, action == Action::"billing:refund", resource) when { context.input.amount.greaterThan(decimal("100.00")) };`,
  },
  inventory: "users: [{id: dana}]\nagents: [{id: support-bot, owner: dana}]\nresources: [{type: Order, id: o-1}]\n",
});

test("agentauthz/ai-sdk's wrapper decides with the WASM engine: allowed runs, refused never does", async () => {
  const ran = [];
  const decisions = [];
  const tools = authorizeTools(
    { refund: { description: "Refund", execute: async ({ amount }) => (ran.push(amount), `refunded ${amount}`) } },
    {
      engine,
      agent: "support-bot",
      action: { refund: "billing:refund" },
      resource: { type: "Order", id: "o-1" },
      onDecision: (d) => decisions.push(d),
    },
  );
  assert.equal(await tools.refund.execute({ amount: 25, currency: "EUR" }, { toolCallId: "a", messages: [] }), "refunded 25");
  const denied = await tools.refund.execute({ amount: 250, currency: "EUR" }, { toolCallId: "b", messages: [] }).catch((e) => e);
  assert.ok(denied instanceof ToolCallRefused);
  assert.match(denied.message, /^Tool call 'refund' was denied by authorization policy \(reasons: refund-limit; decision_id: \w{26}\)/);
  const malformed = await tools.refund.execute({ amount: 1.23456, currency: "EUR" }, { toolCallId: "c", messages: [] }).catch((e) => e);
  assert.ok(malformed instanceof ToolCallRefused);
  assert.ok(malformed.error instanceof RequestError);
  assert.match(malformed.message, /error: request_invalid: input\.amount/);
  assert.deepEqual(ran, [25]);
  assert.deepEqual(
    decisions.map((d) => d.decision),
    ["allow", "deny"],
  );
});

test("agentauthz-wasm/openai-agents's guardrail decides with the WASM engine", async () => {
  const guardrail = authorizationGuardrail({
    engine,
    agent: "support-bot",
    action: { refund: "billing:refund" },
    resource: { type: "Order", id: "o-1" },
  });
  const run = (name, args) => guardrail.run({ context: {}, agent: {}, toolCall: { name, callId: "c", arguments: args } });
  assert.deepEqual((await run("refund", '{"amount": 25, "currency": "EUR"}')).behavior, { type: "allow" });
  const denied = (await run("refund", '{"amount": 250, "currency": "EUR"}')).behavior;
  assert.equal(denied.type, "rejectContent");
  assert.match(denied.message, /reasons: refund-limit; decision_id: \w{26}/);
  const unmapped = (await run("wire_money", '{"amount": 1}')).behavior;
  assert.match(unmapped.message, /baseline\/unknown-action/);
  const garbage = (await run("refund", "{not json")).behavior;
  assert.match(garbage.message, /error: request_parse/);
});

test("agentauthz-wasm/openai-agents: approval \"interrupt\" asks the WASM engine; only its approval lets the call run, once", async () => {
  const approving = Engine.fromStrings({
    schema: `entity Order;
      action "billing:refund" appliesTo { principal: [Agent], resource: [Order], context: { input: { amount: decimal, currency: String } } };`,
    policies: `@id("refunds") permit (principal == Agent::"support-bot", action == Action::"billing:refund", resource);
      @id("refund-limit") @approval("owner") forbid (principal, action == Action::"billing:refund", resource) when { context.input.amount.greaterThan(decimal("100.00")) };`,
    inventory: "users: [{id: dana}, {id: sam}]\nagents: [{id: support-bot, owner: dana}]\nresources: [{type: Order, id: o-1}]\n",
  });
  const decisions = [];
  // The SDK's function tool and agent, as far as the adapter reads them.
  const agent = { tools: [{ type: "function", name: "refund", inputGuardrails: [], needsApproval: async () => false }] };
  guardAgentTools(agent, {
    engine: approving,
    agent: "support-bot",
    action: { refund: "billing:refund" },
    resource: { type: "Order", id: "o-1" },
    onDecision: (d) => decisions.push(d.decision),
    approval: "interrupt",
  });
  const [tool] = agent.tools;
  const context = {}; // the run context
  const big = { amount: 250, currency: "EUR" };
  const guard = (callId, args) =>
    tool.inputGuardrails[0].run({ context, agent, toolCall: { name: "refund", callId, arguments: JSON.stringify(args) } });
  assert.equal(await tool.needsApproval(context, big, "c1"), true);
  const interruption = { rawItem: { type: "function_call", name: "refund", callId: "c1", arguments: JSON.stringify(big) } };
  const [waiting] = pendingApprovals({ interruptions: [interruption], runContext: context });
  assert.equal(waiting.decision.decision, "needs_approval");
  assert.deepEqual(waiting.approvers, ["owner"]);
  // Approved in the SDK only: the guardrail refuses.
  const sdkOnly = (await guard("c1", big)).behavior;
  assert.equal(sdkOnly.type, "rejectContent");
  // Python's words (agentauthz.toolcall.refusal_text).
  assert.match(
    sdkOnly.message,
    /^Tool call 'refund' needs a human's approval \(approvers: owner; reasons: refund-limit; decision_id: \w{26}; request_digest: sha256:[0-9a-f]{64}\)\. The tool did not run\.$/,
  );
  assert.throws(() => approving.approve(waiting.decision, { by: "sam" }), (e) => e.code === "approval_refused");
  approving.approve(waiting.decision, { by: "dana" });
  assert.equal((await guard("c1", { amount: 251, currency: "EUR" })).behavior.type, "rejectContent");
  assert.deepEqual((await guard("c1", big)).behavior, { type: "allow" });
  assert.equal((await guard("c1", big)).behavior.type, "rejectContent");
  // An allowed call: decided once, in needsApproval; its guardrail uses that decision.
  decisions.length = 0;
  assert.equal(await tool.needsApproval(context, { amount: 25, currency: "EUR" }, "c2"), false);
  assert.deepEqual((await guard("c2", { currency: "EUR", amount: 25 })).behavior, { type: "allow" });
  assert.deepEqual(decisions, ["allow"]);
});

test("another engine object is refused when the adapter is built", () => {
  assert.throws(() => authorizeTools({}, { engine: {}, agent: "a", resource: { type: "Order", id: "o-1" } }), TypeError);
});

test("every subpath the package exports exists in both builds, with types", () => {
  const pkg = JSON.parse(readFileSync(join(PKG, "package.json"), "utf8"));
  for (const sub of ["./ai-sdk", "./openai-agents", "./langchain"]) {
    const entry = pkg.exports[sub];
    for (const build of [entry.node, entry.default]) {
      for (const file of [build.types, build.default]) assert.ok(existsSync(join(PKG, file)), `${sub}: ${file}`);
    }
  }
  // The web build's entries are ES modules importing the same api.js as web.js.
  assert.match(readFileSync(join(PKG, "web/ai-sdk.js"), "utf8"), /from "\.\/api\.js"/);
  assert.match(readFileSync(join(PKG, "web/langchain.js"), "utf8"), /from "\.\/api\.js"/);
  // The frameworks the LangChain.js entry imports are optional peers, as in the Node package.
  for (const peer of ["langchain", "@langchain/langgraph"]) {
    assert.equal(pkg.peerDependencies[peer], "^1.0.0");
    assert.equal(pkg.peerDependenciesMeta[peer].optional, true);
  }
});
