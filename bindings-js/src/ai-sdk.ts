// The Vercel AI SDK (`ai`) adapter: the SDK has no blocking hook before a
// tool runs, so each tool's `execute` is wrapped. A refused call throws a
// `ToolCallRefused` from `execute`: the SDK records it as a `tool-error` and
// sends the model its text (an `error-text` tool result) on the next step,
// so the model reads the reasons and the decision id; the tool never runs.

import { type ToolCall, ToolCallRefused, type ToolCallOptions, toolCallAuthorizer } from "./tool-call.js";

/** The second argument the SDK passes to `execute` (only what is read here). */
export interface AiSdkExecuteOptions {
  toolCallId: string;
  [key: string]: unknown;
}

/** A tool of the SDK (only what is read here). */
export interface AiSdkTool {
  execute?: (input: never, options: AiSdkExecuteOptions) => unknown;
  [key: string]: unknown;
}

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
   * here: it is refused when the set is wrapped.
   */
  function authorizeTools<T extends Record<string, AiSdkTool>>(tools: T, options: ToolCallOptions<AiSdkExecuteOptions>): T {
    const authorizer = toolCallAuthorizer(options, isEngine, "authorizeTools");
    if (tools === null || typeof tools !== "object")
      throw new TypeError("authorizeTools(tools, options): tools must be an object of tools");
    const wrapped: Record<string, AiSdkTool> = {};
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
      const check = async (input: unknown, o: AiSdkExecuteOptions): Promise<void> => {
        const call: ToolCall = { name, args: input, id: typeof o?.toolCallId === "string" ? o.toolCallId : undefined };
        const outcome = await authorizer.authorize(call, o);
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
        value: { ...original, execute: guarded },
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return wrapped as T;
  }

  return { authorizeTools, ToolCallRefused };
}
