// Typed usage of `agentauthz-wasm/langchain` (both builds) with LangChain.js's
// own types, checked with `tsc --noEmit`: the middleware goes where
// `createAgent` takes middleware. Lines marked @ts-expect-error must fail to type-check.
import { createAgent } from "langchain";
import * as node from "../../pkg/node/node.js";
import { type ApprovalRequest, authorizationMiddleware } from "../../pkg/node/langchain.js";
import * as web from "../../pkg/web/web.js";
import { authorizationMiddleware as webMiddleware } from "../../pkg/web/langchain.js";

const engine = node.Engine.fromStrings({ schema: "", policies: "" });
const middleware = authorizationMiddleware({
  engine,
  agent: "support-bot",
  action: { refund: "billing:refund" },
  // The tool call as the shared layer sees it (`args: unknown`), and LangChain's request.
  resource: (call, request) => ({ type: "Order", id: `${call.name}:${request.toolCall.args.order}` }),
  approval: "interrupt",
});
export const agent = createAgent({ model: "openai:gpt-5", tools: [], middleware: [middleware] });
export const webAgent = createAgent({
  model: "openai:gpt-5",
  tools: [],
  middleware: [webMiddleware({ engine: web.Engine.fromStrings({ schema: "", policies: "" }), agent: "a", resource: { type: "T", id: "1" } })],
});
export const decisionId = (value: ApprovalRequest): string => value.decision_id;

// @ts-expect-error: the resource is required
authorizationMiddleware({ engine, agent: "support-bot" });
// @ts-expect-error: approval is "interrupt" or "deny"
authorizationMiddleware({ engine, agent: "a", resource: { type: "T", id: "1" }, approval: "ask" });
