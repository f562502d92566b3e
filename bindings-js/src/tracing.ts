// Spans for checks in the host's current OpenTelemetry trace, written once
// over the few `@opentelemetry/api` members it needs; the Node entry points
// load that package only when `traceChecks` is called (no hard dependency).

import { AuthzError } from "./errors.js";

/** The `@opentelemetry/api` members used. */
export interface OtelApi {
  trace: { getTracer(name: string, version?: string): OtelTracer };
  SpanStatusCode: { ERROR: number };
  SpanKind: { INTERNAL: number };
}

interface OtelSpan {
  setAttribute(key: string, value: string | string[]): unknown;
  setStatus(status: { code: number; message?: string }): unknown;
  end(): void;
}

interface OtelTracer {
  startActiveSpan<T>(name: string, options: { kind: number }, fn: (span: OtelSpan) => T): T;
}

interface Checked {
  decision: string;
  reasons: readonly string[];
  decisionId: string;
  policyRevision: string;
}

// biome-ignore lint/suspicious/noExplicitAny: an engine of the caller's build (Node or WASM)
type AnyEngine = any;

export const SPAN_NAME = "agentauthz.check";

/**
 * `traceChecks(engine)`: from now on each `engine.check` and
 * `engine.checkToolCall` records a span `agentauthz.check`, a child of the
 * caller's active span, with the decision, action, agent, reasons (policy
 * ids), decision id and policy revision as attributes — never a token, the
 * context or the tool input. A request that throws sets the span's status to
 * error with the error code only. Returns the engine.
 */
export function buildTracing(
  loadApi: () => OtelApi,
  isEngine: (value: unknown) => boolean,
  version: string,
): { traceChecks: <E>(engine: E) => E } {
  function traceChecks<E>(engine: E): E {
    if (!isEngine(engine)) throw new TypeError("traceChecks: `engine` must be an agentauthz Engine");
    const api = loadApi();
    const tracer = api.trace.getTracer("agentauthz", version);
    const target = engine as AnyEngine;
    for (const method of ["check", "checkToolCall"] as const) {
      const original = target[method];
      if (typeof original !== "function") continue;
      target[method] = function traced(this: AnyEngine, request: Record<string, unknown>): Checked {
        return tracer.startActiveSpan(SPAN_NAME, { kind: api.SpanKind.INTERNAL }, (span) => {
          try {
            const action = request?.action;
            if (typeof action === "string") span.setAttribute("agentauthz.action", action);
            const agent = request?.agent;
            if (typeof agent === "string") span.setAttribute("gen_ai.agent.id", agent);
            const d: Checked = original.call(this, request);
            span.setAttribute("agentauthz.decision", d.decision);
            span.setAttribute("agentauthz.reasons", [...d.reasons]);
            span.setAttribute("agentauthz.decision_id", d.decisionId);
            span.setAttribute("agentauthz.policy_revision", d.policyRevision);
            return d;
          } catch (e) {
            // The code only: an error's message may quote the input.
            const code = e instanceof AuthzError ? e.code : e instanceof Error ? e.name : "unknown";
            span.setAttribute("error.type", code);
            span.setStatus({ code: api.SpanStatusCode.ERROR, message: code });
            throw e;
          } finally {
            span.end();
          }
        });
      };
    }
    return engine;
  }
  return { traceChecks };
}
