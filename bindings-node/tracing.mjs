// agentauthz/tracing (ESM): the CommonJS entry, so both share one @opentelemetry/api load.
import cjs from './tracing.js'

export const { traceChecks } = cjs
