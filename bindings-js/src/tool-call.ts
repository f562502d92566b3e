// The one tool-call mapper of the JS layer: every framework adapter
// (LangChain.js, the Vercel AI SDK, the OpenAI Agents SDK) turns a tool call
// into an `engine.checkToolCall` request here, and a refusal into the text
// the model sees. What a tool call may do is decided by the core; this file
// only resolves the caller's options and fails closed around them.

import type { Decision } from "./decision.js";
import { AuthzError, codedError } from "./errors.js";
import type { EntityRef, ToolCallInput } from "./types.js";
import { describe } from "./wire.js";

/** A tool call as every adapter hands it over: the tool's name, its arguments
 * (parsed), and the framework's id of the call. */
export interface ToolCall {
  name: string;
  args: unknown;
  id?: string;
}

/** A fixed value, or a function of the tool call (and the framework's own
 * data: LangChain's request, the AI SDK's execute options, the Agents SDK's
 * guardrail data) that computes it, possibly asynchronously. */
export type FromCall<T, X = unknown> = T | ((call: ToolCall, extra: X) => T | Promise<T>);

/** Tool name → action: a plain object or a Map. A tool it does not list has
 * no action: the call is denied (`baseline/unknown-action`). */
export type ActionMap = Readonly<Record<string, string>> | ReadonlyMap<string, string>;

/** How a tool call maps to an action: the tool name (absent), a map, or a
 * function (`null`/`undefined`: the tool has no action, a deny). */
export type ActionOption<X = unknown> =
  | ActionMap
  | ((call: ToolCall, extra: X) => string | null | undefined | Promise<string | null | undefined>);

/** What to do when a tool call cannot be decided (a coded error of the
 * engine, an exception from an option function or from `onDecision`):
 * `"deny"` (default) refuses it with the error's code in the text the model
 * sees; `"throw"` lets the error end the run; a function refuses it and is
 * told the error. The tool never runs. */
export type OnError = "deny" | "throw" | ((error: unknown, call: ToolCall) => void);

/** The options every adapter takes. Give one of `agent`, `session` (a session
 * token) and `token` (an identity provider's bearer token). */
export interface ToolCallOptions<X = unknown> {
  /** The engine that decides. */
  engine: object;
  /** The agent's id in the inventory. */
  agent?: FromCall<string, X>;
  /** A session token (`v4.public.…`), in place of `agent` (and `task`). */
  session?: FromCall<string, X>;
  /** An identity provider's bearer token (a JWT), in place of `agent`:
   * usually a function returning the current request's token. Never echoed
   * in refusals or errors. */
  token?: FromCall<string, X>;
  /** The audience the session token must carry. */
  audience?: FromCall<string | undefined, X>;
  /** The resource the tool acts on. */
  resource: FromCall<EntityRef, X>;
  /** The action; the tool name when absent. */
  action?: ActionOption<X>;
  /** `context.input`: the tool call's arguments by default; `undefined` leaves it out. */
  input?: FromCall<unknown, X>;
  /** Further context fields (`source_ip`, `endpoint`, ...), not `input`. */
  context?: FromCall<Record<string, unknown> | undefined, X>;
  task?: FromCall<string | undefined, X>;
  onBehalfOf?: FromCall<string | undefined, X>;
  credential?: FromCall<string | undefined, X>;
  /** The request time (engines that trust the caller's time); the engine clock when absent. */
  now?: FromCall<Date | string | undefined, X>;
  /** See `OnError`; `"deny"` by default. */
  onError?: OnError;
  /** Called with every decision, allow or deny, before the tool runs (audit,
   * metrics). It may veto by throwing (or rejecting): the call is then
   * refused under `onError`; it can never turn a deny into an allow. */
  onDecision?: (decision: Decision, call: ToolCall) => void | Promise<void>;
}

/** The answer for one tool call: run it, or refuse it with `refusal` (the text for the model). */
export type ToolCallOutcome =
  | { allowed: true; decision: Decision; error?: undefined; refusal?: undefined }
  | { allowed: false; decision: Decision; error?: undefined; refusal: string }
  | { allowed: false; decision?: Decision; error: unknown; refusal: string };

/** The one engine method the mapper calls (the core's tool-call mapper). */
interface ToolCallEngine {
  checkToolCall(request: ToolCallInput): Decision;
}

const MAX_MESSAGE = 500;

/** The code the model is shown for an error: the core's code, else the exception's name. */
export function errorCode(error: unknown): string {
  if (error instanceof AuthzError) return error.code;
  try {
    return error instanceof Error ? String(error.name) : "Error";
  } catch {
    return "Error";
  }
}

function errorMessage(error: unknown): string {
  let text: string;
  try {
    if (error instanceof AuthzError) {
      const prefix = `[${error.code}] `;
      text = error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
    } else text = error instanceof Error ? String(error.message) : describe(error);
  } catch {
    text = "a value that cannot be described";
  }
  // The model is not sent back a message that quotes a huge input.
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE)}…` : text;
}

/** The one refusal text (the Python adapters' words, `agentauthz.toolcall.refusal_text`):
 * for a `needs_approval` decision, who may approve, the reasons, `decision_id`
 * and `request_digest`; the reasons and `decision_id` of a deny; else the code
 * and message of the error that stopped the call (with the decision id when
 * there was a decision). */
export function refusalText(tool: string, decision: Decision | null | undefined, error?: unknown): string {
  if (error === undefined && decision != null && decision.requiresApproval) {
    return (
      `Tool call '${tool}' needs a human's approval ` +
      `(approvers: ${decision.approvers.join(", ")}; reasons: ${decision.reasons.join(", ")}; ` +
      `decision_id: ${decision.decisionId}; request_digest: ${decision.requestDigest}). The tool did not run.`
    );
  }
  if (decision != null && !decision.allowed) {
    const reasons = decision.reasons.length > 0 ? decision.reasons.join(", ") : "no policy permits this call";
    return (
      `Tool call '${tool}' was denied by authorization policy ` +
      `(reasons: ${reasons}; decision_id: ${decision.decisionId}). The tool did not run.`
    );
  }
  const what = decision != null ? `decision_id: ${decision.decisionId}; ` : "";
  return (
    `Tool call '${tool}' was refused: authorization could not be decided ` +
    `(${what}error: ${errorCode(error)}: ${errorMessage(error)}). The tool did not run.`
  );
}

/** What an adapter attaches to its result for the app (a ToolMessage's
 * artifact, a guardrail's outputInfo): `{agentauthz: decision}` (snake_case
 * wire JSON), or `{agentauthz: {error: {code, message}, decision_id?}}`. */
export function outcomeInfo(outcome: ToolCallOutcome): { agentauthz: unknown } {
  if (outcome.error === undefined && outcome.decision !== undefined) return { agentauthz: outcome.decision.toJSON() };
  const error = { code: errorCode(outcome.error), message: errorMessage(outcome.error) };
  return { agentauthz: outcome.decision === undefined ? { error } : { error, decision_id: outcome.decision.decisionId } };
}

/** The error a refused call is reported with where a framework shows the
 * model a thrown error (the AI SDK's tool-error). */
export class ToolCallRefused extends Error {
  /** The deny, when the call was decided. */
  readonly decision: Decision | undefined;
  /** The error, when it could not be decided (an AuthzError, or what an option function threw). */
  readonly error: unknown;
  /** The framework's id of the call. */
  readonly toolCallId: string | undefined;

  constructor(outcome: ToolCallOutcome & { allowed: false }, call: ToolCall) {
    super(outcome.refusal);
    this.name = "ToolCallRefused";
    this.decision = outcome.decision;
    this.error = outcome.error;
    this.toolCallId = call.id;
  }
}

/** An option's value: a function of the call is called (what it throws refuses the call). */
async function optionValue<T, X>(option: FromCall<T, X> | undefined, call: ToolCall, extra: X): Promise<T | undefined> {
  if (typeof option !== "function") return option;
  return await (option as (c: ToolCall, x: X) => T | Promise<T>)(call, extra);
}

/** `describe(e)`, for a thrown value whose getters may throw too. */
function safeDescribe(e: unknown): string {
  try {
    return describe(e);
  } catch {
    return "a value that cannot be described";
  }
}

/** The action map, copied when the options are read (later changes to the
 * caller's object do not change what is checked). */
function actionTable(action: ActionMap): Map<string, string> {
  const entries = action instanceof Map ? [...action.entries()] : Object.entries(action as Record<string, unknown>);
  const table = new Map<string, string>();
  for (const [tool, value] of entries) {
    if (typeof tool !== "string" || typeof value !== "string" || value === "") {
      throw new TypeError(`action map: tool ${describe(tool)} must map to an action name (a non-empty string), not ${describe(value)}`);
    }
    table.set(tool, value);
  }
  return table;
}

const OPTION_KEYS = [
  "engine",
  "agent",
  "session",
  "token",
  "audience",
  "resource",
  "action",
  "input",
  "context",
  "task",
  "onBehalfOf",
  "credential",
  "now",
  "onError",
  "onDecision",
] as const;

/** A tool-call authorizer: `authorize(call, extra)` decides one tool call
 * and never throws unless `onError: "throw"`. */
export interface ToolCallAuthorizer<X = unknown> {
  authorize(call: ToolCall, extra: X): Promise<ToolCallOutcome>;
  /** A call refused before it could be checked (arguments that do not
   * parse), under the `onError` option. */
  refuse(error: unknown, call: ToolCall, decision?: Decision): ToolCallOutcome;
}

/**
 * Builds the authorizer for `options` (read once, here: a misconfiguration is
 * a TypeError now, not a failure per call). `isEngine` recognizes the
 * loader's Engine; `who` names the caller in messages.
 */
export function toolCallAuthorizer<X = unknown>(
  options: ToolCallOptions<X>,
  isEngine: (value: unknown) => boolean,
  who: string,
): ToolCallAuthorizer<X> {
  if (options === null || typeof options !== "object") throw new TypeError(`${who}: options must be an object`);
  const o = Object.fromEntries(OPTION_KEYS.map((k) => [k, options[k]])) as unknown as ToolCallOptions<X>;
  if (!isEngine(o.engine)) throw new TypeError(`${who}: \`engine\` must be an agentauthz Engine`);
  if ([o.agent, o.session, o.token].filter((v) => v !== undefined).length !== 1) {
    throw new TypeError(
      `${who}: give exactly one of \`agent\` (the agent id), \`session\` (a session token) and \`token\` (an identity provider's token), a value or a function of the tool call`,
    );
  }
  if (o.resource === undefined) throw new TypeError(`${who}: \`resource\` is required ({type, id}, or a function of the tool call)`);
  const onError = o.onError ?? "deny";
  if (onError !== "deny" && onError !== "throw" && typeof onError !== "function") {
    throw new TypeError(`${who}: \`onError\` must be "deny", "throw" or a function, not ${describe(onError)}`);
  }
  if (o.onDecision !== undefined && typeof o.onDecision !== "function") throw new TypeError(`${who}: \`onDecision\` must be a function`);
  const action = o.action;
  let table: Map<string, string> | null = null;
  if (action !== undefined && typeof action !== "function") {
    if (action === null || typeof action !== "object")
      throw new TypeError(`${who}: \`action\` must be a map of tool names to actions, or a function`);
    table = actionTable(action as ActionMap);
  }
  const engine = o.engine as ToolCallEngine;

  async function actionFor(call: ToolCall, extra: X): Promise<string | null> {
    if (table !== null) return table.get(call.name) ?? null;
    if (action === undefined) return call.name;
    const mapped = await optionValue(action as (c: ToolCall, x: X) => string | null | undefined, call, extra);
    if (mapped === null || mapped === undefined) return null;
    if (typeof mapped !== "string")
      throw codedError("request_invalid", `the \`action\` option returned ${safeDescribe(mapped)}, not an action name`);
    return mapped;
  }

  async function requestFor(call: ToolCall, extra: X): Promise<ToolCallInput> {
    const request: ToolCallInput = {
      tool: call.name,
      action: await actionFor(call, extra),
      resource: (await optionValue(o.resource, call, extra)) as EntityRef,
    };
    const input = o.input === undefined ? call.args : await optionValue(o.input, call, extra);
    if (input !== undefined) request.input = input;
    const fields = ["agent", "session", "token", "audience", "context", "task", "onBehalfOf", "credential", "now"] as const;
    for (const key of fields) {
      const value = await optionValue(o[key] as FromCall<unknown, X>, call, extra);
      if (value !== undefined && value !== null) (request as unknown as Record<string, unknown>)[key] = value;
    }
    return request;
  }

  function refuse(thrown: unknown, call: ToolCall, decision?: Decision): ToolCallOutcome {
    if (onError === "throw") throw thrown;
    // A thrown `undefined` is a failure too: an outcome without `error` would
    // read as the engine's own verdict (a vetoed needs_approval sent to a human).
    const error = thrown === undefined ? new Error("undefined was thrown") : thrown;
    if (typeof onError === "function") {
      try {
        onError(error, call);
      } catch {
        // The call is refused either way.
      }
    }
    return { allowed: false, decision, error, refusal: refusalText(call.name, decision, error) };
  }

  async function authorize(call: ToolCall, extra: X): Promise<ToolCallOutcome> {
    let decision: Decision;
    try {
      decision = engine.checkToolCall(await requestFor(call, extra));
    } catch (e) {
      return refuse(e, call);
    }
    try {
      await o.onDecision?.(decision, call);
    } catch (e) {
      // A veto: the call is refused (a deny keeps its reasons in the text).
      return refuse(e, call, decision);
    }
    // `allowed` is read from the Decision the engine made; nothing else lets a call run.
    if (decision.allowed === true) return { allowed: true, decision };
    return { allowed: false, decision, refusal: refusalText(call.name, decision) };
  }

  return { authorize, refuse };
}
