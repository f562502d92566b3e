// The OpenAI Agents SDK (`@openai/agents`) adapter: a tool input guardrail,
// which the SDK runs before a function tool executes. A refused call is
// answered with `rejectContent`: the tool does not run and the model gets
// the refusal text (reasons and decision id, or the error code) as the
// tool's output. The guardrail never throws (unless `onError: "throw"`):
// a guardrail that throws ends the SDK's run.

import { codedError } from "./errors.js";
import { type ToolCall, type ToolCallOptions, outcomeInfo, type ToolCallOutcome, toolCallAuthorizer } from "./tool-call.js";

/** The SDK's function call item (only what is read here). */
export interface AgentsToolCall {
  name: string;
  callId?: string;
  /** The arguments, JSON text. */
  arguments: string;
  [key: string]: unknown;
}

/** What the SDK passes to a tool input guardrail. */
export interface AgentsGuardrailData {
  context: unknown;
  agent: unknown;
  toolCall: AgentsToolCall;
}

type Behavior = { type: "allow" } | { type: "rejectContent"; message: string };

/** A tool input guardrail definition of the SDK. */
export interface AgentsToolInputGuardrail {
  type: "tool_input";
  name: string;
  run(data: AgentsGuardrailData): Promise<{ behavior: Behavior; outputInfo: unknown }>;
}

/** The guardrail's options: the mapper's, and its name. */
export type GuardrailOptions = ToolCallOptions<AgentsGuardrailData> & { name?: string };

const MARK: unique symbol = Symbol.for("agentauthz.openaiAgentsGuardrail");
export const DEFAULT_GUARDRAIL_NAME = "agentauthz";

/** Builds `agentauthz/openai-agents` for a loader (`isEngine` recognizes its Engine). */
export function buildOpenAIAgents(isEngine: (value: unknown) => boolean) {
  /**
   * A tool input guardrail (`tool({..., inputGuardrails: [guardrail]})`, or
   * an MCP server's `toolInputGuardrails`) that asks agentauthz before the
   * tool runs. The tool name is the action (unless `action` maps it), the
   * call's arguments (parsed from their JSON text) are `context.input`.
   */
  function authorizationGuardrail(options: GuardrailOptions): AgentsToolInputGuardrail {
    const authorizer = toolCallAuthorizer(options, isEngine, "authorizationGuardrail");
    const name = options.name ?? DEFAULT_GUARDRAIL_NAME;
    if (typeof name !== "string" || name === "") throw new TypeError("authorizationGuardrail: `name` must be a non-empty string");

    async function run(data: AgentsGuardrailData): Promise<{ behavior: Behavior; outputInfo: unknown }> {
      const item = data?.toolCall;
      const call: ToolCall = {
        name: typeof item?.name === "string" ? item.name : "",
        args: undefined,
        id: typeof item?.callId === "string" ? item.callId : undefined,
      };
      let outcome: ToolCallOutcome;
      const raw = item?.arguments;
      try {
        // No arguments at all is an empty object, as the SDK reads them.
        call.args = raw === "" || raw === undefined ? {} : JSON.parse(raw);
      } catch (e) {
        outcome = authorizer.refuse(codedError("request_parse", `the tool call's arguments are not JSON: ${(e as Error).message}`), call);
        return { behavior: { type: "rejectContent", message: outcome.refusal ?? "" }, outputInfo: outcomeInfo(outcome) };
      }
      outcome = await authorizer.authorize(call, data);
      if (outcome.allowed) return { behavior: { type: "allow" }, outputInfo: outcomeInfo(outcome) };
      return { behavior: { type: "rejectContent", message: outcome.refusal }, outputInfo: outcomeInfo(outcome) };
    }

    const guardrail = { type: "tool_input" as const, name, run };
    Object.defineProperty(guardrail, MARK, { value: true });
    return guardrail;
  }

  /**
   * Guards every tool of an `Agent`: each function tool is replaced by a copy
   * whose first input guardrail is agentauthz's (the tool objects you passed
   * in are not changed, so another agent sharing them is not checked as this
   * one). A tool the SDK cannot guard in process (hosted tools, computer,
   * shell) is refused here unless `unguarded` lists its name. Tools added to
   * the agent later, its handoffs and MCP servers are not covered: give an
   * MCP server `toolInputGuardrails: [authorizationGuardrail(...)]`.
   * Returns `agent`.
   */
  function guardAgentTools<A extends { tools: unknown[] }>(agent: A, options: GuardrailOptions & { unguarded?: readonly string[] }): A {
    if (agent === null || typeof agent !== "object" || !Array.isArray(agent.tools)) {
      throw new TypeError("guardAgentTools(agent, options): agent must be an Agent of @openai/agents (with a `tools` array)");
    }
    const unguarded = new Set(options?.unguarded ?? []);
    const guardrail = authorizationGuardrail(options);
    agent.tools = agent.tools.map((tool) => {
      const t = tool as { type?: unknown; name?: unknown; inputGuardrails?: unknown };
      if (t?.type !== "function") {
        if (typeof t?.name === "string" && unguarded.has(t.name)) return tool;
        throw new TypeError(
          `guardAgentTools: tool ${JSON.stringify(t?.name)} (${String(t?.type)}) is not a function tool and cannot be checked in process; ` +
            "list it in `unguarded` to keep it anyway",
        );
      }
      const existing = Array.isArray(t.inputGuardrails) ? t.inputGuardrails : [];
      if (existing.some((g) => g !== null && typeof g === "object" && (g as { [MARK]?: boolean })[MARK] === true)) return tool;
      const copy = Object.create(Object.getPrototypeOf(tool), Object.getOwnPropertyDescriptors(tool));
      copy.inputGuardrails = [guardrail, ...existing];
      return copy;
    });
    return agent;
  }

  return { authorizationGuardrail, guardAgentTools, DEFAULT_GUARDRAIL_NAME };
}
