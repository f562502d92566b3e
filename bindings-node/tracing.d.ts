/**
 * From now on each `engine.check` and `engine.checkToolCall` records a span
 * `agentauthz.check` in the host's current OpenTelemetry trace (a child of the
 * active span), with the decision, action, agent, reasons (policy ids),
 * decision id and policy revision as attributes — never a token, the context
 * or the tool input. Needs `@opentelemetry/api` (loaded on this call: without
 * it, this throws an Error saying what to install). Returns the engine.
 */
export function traceChecks<E>(engine: E): E
