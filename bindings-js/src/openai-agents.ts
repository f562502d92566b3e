// The OpenAI Agents SDK (`@openai/agents`) adapter: a tool input guardrail,
// which the SDK runs before a function tool executes. A refused call is
// answered with `rejectContent`: the tool does not run and the model gets
// the refusal text (reasons and decision id, or the error code) as the
// tool's output. The guardrail never throws (unless `onError: "throw"`):
// a guardrail that throws ends the SDK's run.
// Human approval (`guardAgentTools(agent, {approval: "interrupt"})`): each
// guarded tool's `needsApproval` asks the engine, so a `needs_approval`
// decision becomes one of the SDK's interruptions; the guardrail checks again
// when the app resumes, so the call runs only once a human approved it in the
// engine (`engine.approve`), for those arguments, once.

import type { Decision } from "./decision.js";
import { codedError } from "./errors.js";
import {
  type ToolCall,
  type ToolCallAuthorizer,
  type ToolCallOptions,
  outcomeInfo,
  type ToolCallOutcome,
  toolCallAuthorizer,
} from "./tool-call.js";

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

/** `guardAgentTools`' options: the guardrail's, the tools left unguarded, and
 * what a `needs_approval` decision does: `"deny"` (default) refuses the call;
 * `"interrupt"` pauses the run with the SDK's tool approval. */
export type GuardAgentOptions = GuardrailOptions & { unguarded?: readonly string[]; approval?: "deny" | "interrupt" };

/** One of a run's interruptions that waits for an agentauthz approval. */
export interface PendingApproval {
  /** The SDK's approval item (for `state.approve(item)` / `state.reject(item)`). */
  item: unknown;
  tool: string;
  callId: string;
  /** The arguments that were checked. */
  args: unknown;
  /** The `needs_approval` Decision: approve it with `engine.approve(decision, {by})`. */
  decision: Decision;
  decisionId: string;
  requestDigest: string | null;
  approvers: readonly string[];
  reasons: readonly string[];
}

/** The SDK's run context (only its identity is used). */
type RunContext = object;

/** Calls kept between `needsApproval` and the guardrail, and pending
 * approvals, per run (a bound: a call the SDK never runs must not hold
 * memory forever). */
const MAX_KEPT = 1024;

/** JSON text with object keys sorted: the same arguments give the same key
 * whatever their order (null: not JSON). */
function canonical(value: unknown): string | null {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v === null || typeof v !== "object") return v;
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort())
      Object.defineProperty(out, k, { value: sort((v as Record<string, unknown>)[k]), enumerable: true });
    return out;
  };
  try {
    return JSON.stringify(sort(value)) ?? null;
  } catch {
    return null;
  }
}

/** The Map of one run context (created on demand); none for a context that is not an object. */
function perRun<V>(runs: WeakMap<RunContext, Map<string, V>>, context: unknown, create: boolean): Map<string, V> | undefined {
  if (context === null || (typeof context !== "object" && typeof context !== "function")) return undefined;
  let map = runs.get(context);
  if (map === undefined && create) {
    map = new Map();
    runs.set(context, map);
  }
  return map;
}

/** Sets `key` (as the newest entry), dropping the oldest beyond MAX_KEPT. */
function putBounded<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > MAX_KEPT) map.delete(map.keys().next().value as string);
}

/** Requests waiting for approval, by run context and call id (what
 * `pendingApprovals` reads; one table for the CommonJS and ESM entries). */
const pending = new WeakMap<RunContext, Map<string, { tool: string; args: unknown; decision: Decision }>>();

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
    return guardrailFor(options, "authorizationGuardrail", null).guardrail;
  }

  /** The guardrail; with `handover`, it first takes the outcome `needsApproval`
   * reached for the same call (same run, tool, call id and arguments), so a
   * call is decided once (a second check would take a one-use approval twice). */
  function guardrailFor(options: GuardrailOptions, who: string, handover: WeakMap<RunContext, Map<string, ToolCallOutcome>> | null) {
    const authorizer = toolCallAuthorizer(options, isEngine, who);
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
      const key = handover === null ? null : canonical([call.name, call.id ?? null, call.args]);
      const runs = key === null || handover === null ? undefined : perRun(handover, data?.context, false);
      const handed = key === null ? undefined : runs?.get(key);
      if (handed !== undefined) runs?.delete(key as string);
      outcome = handed ?? (await authorizer.authorize(call, data));
      if (outcome.allowed) return { behavior: { type: "allow" }, outputInfo: outcomeInfo(outcome) };
      return { behavior: { type: "rejectContent", message: outcome.refusal }, outputInfo: outcomeInfo(outcome) };
    }

    const guardrail = { type: "tool_input" as const, name, run };
    Object.defineProperty(guardrail, MARK, { value: true });
    return { guardrail, authorizer };
  }

  /**
   * Guards every tool of an `Agent`: each function tool is replaced by a copy
   * whose first input guardrail is agentauthz's (the tool objects you passed
   * in are not changed, so another agent sharing them is not checked as this
   * one). A tool the SDK cannot guard in process (hosted tools, computer,
   * shell) is refused here unless `unguarded` lists its name. Tools added to
   * the agent later, its handoffs and MCP servers are not covered: give an
   * MCP server `toolInputGuardrails: [authorizationGuardrail(...)]`.
   * With `approval: "interrupt"`, each copy's `needsApproval` also asks the
   * engine (after the tool's own setting), so a `needs_approval` call is one
   * of `result.interruptions` (`pendingApprovals(result)` names its
   * decision); approved in the engine and then in the SDK, it runs once.
   * Returns `agent`.
   */
  function guardAgentTools<A extends { tools: unknown[] }>(agent: A, options: GuardAgentOptions): A {
    if (agent === null || typeof agent !== "object" || !Array.isArray(agent.tools)) {
      throw new TypeError("guardAgentTools(agent, options): agent must be an Agent of @openai/agents (with a `tools` array)");
    }
    const approval = options?.approval ?? "deny";
    if (approval !== "deny" && approval !== "interrupt") {
      throw new TypeError(`guardAgentTools: \`approval\` must be "deny" or "interrupt", not ${JSON.stringify(approval)}`);
    }
    const unguarded = new Set(options?.unguarded ?? []);
    const handover = approval === "interrupt" ? new WeakMap<RunContext, Map<string, ToolCallOutcome>>() : null;
    const { guardrail, authorizer } = guardrailFor(options, "guardAgentTools", handover);
    agent.tools = agent.tools.map((tool) => {
      const t = tool as { type?: unknown; name?: unknown; inputGuardrails?: unknown; needsApproval?: unknown };
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
      if (handover !== null && typeof t.name === "string") {
        copy.needsApproval = needsApprovalFor(t.name, t.needsApproval, agent, authorizer, handover);
      }
      return copy;
    });
    return agent;
  }

  /** The SDK's `needsApproval` of a guarded tool: the tool's own setting
   * first (it stands; the engine can only add a request), then the engine's
   * check. An outcome other than `needs_approval` is handed to the same
   * call's guardrail; a `needs_approval` one is checked again there after
   * the human's answer. */
  function needsApprovalFor(
    tool: string,
    own: unknown,
    agent: unknown,
    authorizer: ToolCallAuthorizer<AgentsGuardrailData>,
    handover: WeakMap<RunContext, Map<string, ToolCallOutcome>>,
  ) {
    return async (context: unknown, input: unknown, callId?: string): Promise<boolean> => {
      if (own === true) return true;
      if (typeof own === "function") {
        try {
          if ((await (own as (c: unknown, i: unknown, id?: string) => unknown)(context, input, callId)) === true) return true;
        } catch {
          return true; // the tool's own rule failed: a human is asked, and the guardrail still checks
        }
      }
      const call: ToolCall = { name: tool, args: input, id: typeof callId === "string" ? callId : undefined };
      let argsText: string | undefined;
      try {
        argsText = JSON.stringify(input);
      } catch {
        argsText = undefined;
      }
      // What a guardrail is given, so option functions see the same shape.
      const data: AgentsGuardrailData = {
        context,
        agent,
        toolCall: { type: "function_call", name: tool, callId: call.id, arguments: argsText ?? "" },
      };
      let outcome: ToolCallOutcome;
      try {
        outcome = await authorizer.authorize(call, data);
      } catch {
        return false; // onError "throw": the guardrail checks again and throws there
      }
      if (!outcome.allowed && outcome.error === undefined && outcome.decision?.requiresApproval === true) {
        const waiting = call.id === undefined ? undefined : perRun(pending, context, true);
        if (waiting !== undefined) putBounded(waiting, call.id as string, { tool, args: input, decision: outcome.decision });
        return true;
      }
      const key = canonical([tool, call.id ?? null, input]);
      const runs = key === null ? undefined : perRun(handover, context, true);
      if (runs !== undefined) putBounded(runs, key as string, outcome);
      return false;
    };
  }

  /**
   * The interruptions of a run (`result.interruptions`) that wait for an
   * agentauthz approval, each with the engine's `needs_approval` Decision
   * (approve it with `engine.approve(p.decision, {by})`) and the SDK's item
   * (then `state.approve(p.item)`). Interruptions of other causes (a tool's
   * own `needsApproval`) are left out. Reads what this process's guarded
   * tools recorded for the run: a state restored elsewhere has none (use
   * `engine.approvals()` there).
   */
  function pendingApprovals(result: unknown): PendingApproval[] {
    const r = result as { interruptions?: unknown; runContext?: unknown } | null | undefined;
    let items: unknown;
    let context: unknown;
    try {
      items = r?.interruptions;
      context = r?.runContext;
    } catch {
      return [];
    }
    const waiting = perRun(pending, context, false);
    if (!Array.isArray(items) || waiting === undefined) return [];
    const out: PendingApproval[] = [];
    for (const item of items) {
      const raw = (item as { rawItem?: { type?: unknown; callId?: unknown; name?: unknown } } | null)?.rawItem;
      if (raw?.type !== "function_call" || typeof raw.callId !== "string") continue;
      const entry = waiting.get(raw.callId);
      if (entry === undefined || entry.tool !== raw.name) continue;
      const d = entry.decision;
      out.push({
        item,
        tool: entry.tool,
        callId: raw.callId,
        args: entry.args,
        decision: d,
        decisionId: d.decisionId,
        requestDigest: d.requestDigest,
        approvers: d.approvers,
        reasons: d.reasons,
      });
    }
    return out;
  }

  return { authorizationGuardrail, guardAgentTools, pendingApprovals, DEFAULT_GUARDRAIL_NAME };
}
