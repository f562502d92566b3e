// The framework adapters are pure TypeScript over the Engine (bindings-js):
// the WASM package does not ship them as subpaths (as with langchain and
// mcp), but its build carries the same shared layer. Here the AI SDK adapter
// runs over the WASM engine, calling the wrapped `execute` as the SDK does.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const { Engine, RequestError } = require("../../pkg/node/node.js");
const { buildAiSdk } = require("../../pkg/node/shared/index.js");

const { authorizeTools, ToolCallRefused } = buildAiSdk((engine) => engine instanceof Engine);

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
