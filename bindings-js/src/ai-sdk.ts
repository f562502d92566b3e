// The Vercel AI SDK (`ai`) adapter: the SDK has no blocking hook before a
// tool runs, so each tool's `execute` is wrapped. A refused call throws a
// `ToolCallRefused` from `execute`: the SDK records it as a `tool-error` and
// sends the model its text (an `error-text` tool result) on the next step,
// so the model reads the reasons and the decision id; the tool never runs.
// Human approval: each wrapped tool's `needsApproval` asks the engine first,
// so a `needs_approval` decision becomes the SDK's own tool-approval request;
// `execute` checks again when the app answers it, so the call runs only once
// a human approved it through the engine (`engine.approve`).

import { type ToolCall, type ToolCallOptions, type ToolCallOutcome, ToolCallRefused, toolCallAuthorizer } from "./tool-call.js";

/** The second argument the SDK passes to `execute` (only what is read here). */
export interface AiSdkExecuteOptions {
  toolCallId: string;
  [key: string]: unknown;
}

/** A tool of the SDK (only what is read here). */
export interface AiSdkTool {
  execute?: (input: never, options: AiSdkExecuteOptions) => unknown;
  needsApproval?: boolean | ((input: never, options: AiSdkExecuteOptions) => boolean | PromiseLike<boolean>);
  [key: string]: unknown;
}

/** Outcomes kept between `needsApproval` and `execute` (a bound: a call the
 * SDK never executes must not hold memory forever). */
const MAX_KEPT = 1024;

const GENERATORS = new Set(["[object AsyncGeneratorFunction]", "[object GeneratorFunction]"]);

/** Builds `agentauthz/ai-sdk` for a loader (`isEngine` recognizes its Engine). */
export function buildAiSdk(isEngine: (value: unknown) => boolean) {
  /**
   * A copy of a tool set (`{name: tool(...)}`) in which every tool asks
   * agentauthz before its `execute` runs. The key is the tool name (the
   * action unless `options.action` maps it); the tool's parsed input is
   * `context.input`. A denied call, or one that cannot be decided, throws
   * `ToolCallRefused` from `execute` instead of running the tool: the model
   * sees its text (reasons and decision id, or the error code). A tool
   * without `execute` (run by the client or the provider) cannot be checked
   * here: it is refused when the set is wrapped. A call the engine decides
   * `needs_approval` goes through the SDK's tool-approval flow: approve it
   * with `engine.approve` (the `onApprovalRequest` callback, or
   * `engine.approvals()`, names it) and answer the SDK's approval request;
   * the call then runs once. Approved in the SDK only, it is refused.
   */
  function authorizeTools<T extends Record<string, AiSdkTool>>(tools: T, options: ToolCallOptions<AiSdkExecuteOptions>): T {
    const authorizer = toolCallAuthorizer(options, isEngine, "authorizeTools");
    if (tools === null || typeof tools !== "object")
      throw new TypeError("authorizeTools(tools, options): tools must be an object of tools");
    const wrapped: Record<string, AiSdkTool> = {};
    // Outcomes of `needsApproval` awaiting their `execute`, by tool call id.
    const kept = new Map<string, { name: string; args: string; outcome: ToolCallOutcome } | null>();
    const argsText = (args: unknown): string | null => {
      try {
        return JSON.stringify(args) ?? null;
      } catch {
        return null;
      }
    };
    const remember = (call: ToolCall, outcome: ToolCallOutcome): void => {
      const args = argsText(call.args);
      if (call.id === undefined || args === null) return;
      // An id seen twice (a model may repeat one): neither call reuses an outcome.
      if (kept.has(call.id)) kept.set(call.id, null);
      else kept.set(call.id, { name: call.name, args, outcome });
      if (kept.size > MAX_KEPT) kept.delete(kept.keys().next().value as string);
    };
    const recall = (call: ToolCall): ToolCallOutcome | undefined => {
      if (call.id === undefined) return undefined;
      const entry = kept.get(call.id);
      kept.delete(call.id);
      if (entry == null || entry.name !== call.name || entry.args !== argsText(call.args)) return undefined;
      return entry.outcome;
    };
    for (const [name, original] of Object.entries(tools)) {
      if (original === null || typeof original !== "object")
        throw new TypeError(`authorizeTools: tool ${JSON.stringify(name)} is not a tool`);
      const execute = original.execute;
      if (typeof execute !== "function") {
        throw new TypeError(
          `authorizeTools: tool ${JSON.stringify(name)} has no execute (a client-side or provider tool): agentauthz cannot check it here; ` +
            "leave it out of the set you wrap and check its calls where they run",
        );
      }
      const run = execute as (input: unknown, o: AiSdkExecuteOptions) => unknown;
      const ownApproval = original.needsApproval as AiSdkTool["needsApproval"] | undefined;
      // The tool's own setting stands; the engine can only add a request. The
      // outcome is kept for `execute` of the same call (same id, same input),
      // so a call is checked once unless a human is asked in between.
      const needsApproval = async (input: unknown, o: AiSdkExecuteOptions): Promise<boolean> => {
        if (ownApproval === true) return true;
        if (typeof ownApproval === "function" && (await (ownApproval as (i: unknown, x: unknown) => unknown)(input, o)) === true)
          return true;
        const call: ToolCall = { name, args: input, id: typeof o?.toolCallId === "string" ? o.toolCallId : undefined };
        let outcome: ToolCallOutcome;
        try {
          outcome = await authorizer.authorize(call, o);
        } catch {
          return false; // onError "throw": `execute` checks again and throws there
        }
        if (!outcome.allowed && outcome.error === undefined && outcome.decision?.requiresApproval === true) return true;
        remember(call, outcome);
        return false;
      };
      const check = async (input: unknown, o: AiSdkExecuteOptions): Promise<void> => {
        const call: ToolCall = { name, args: input, id: typeof o?.toolCallId === "string" ? o.toolCallId : undefined };
        const outcome = recall(call) ?? (await authorizer.authorize(call, o));
        if (!outcome.allowed) throw new ToolCallRefused(outcome, call);
      };
      // A streaming tool (a generator) stays one: the SDK streams its yields.
      const guarded = GENERATORS.has(Object.prototype.toString.call(execute))
        ? async function* (this: unknown, input: unknown, o: AiSdkExecuteOptions) {
            await check(input, o);
            yield* run.call(this, input, o) as AsyncIterable<unknown>;
          }
        : async function (this: unknown, input: unknown, o: AiSdkExecuteOptions) {
            await check(input, o);
            return run.call(this, input, o);
          };
      // defineProperty: a tool named `__proto__` is a key, not the prototype.
      Object.defineProperty(wrapped, name, {
        value: { ...original, execute: guarded, needsApproval },
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return wrapped as T;
  }

  return { authorizeTools, ToolCallRefused };
}
