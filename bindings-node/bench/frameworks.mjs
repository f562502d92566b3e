#!/usr/bin/env node
// Per-call overhead of each framework adapter over a bare `engine.check`
// (a benchmark to run by hand, not a timed test):
//
//   node bench/frameworks.mjs [--samples N] [--batch N] [--json]
//
// One allowed `billing:refund` tool call of the support-agent example bundle
// (tool input, on-behalf-of user, task, credential), decided by:
//   check          engine.check, the request built by hand (the baseline)
//   checkToolCall  engine.checkToolCall, the core's tool-call mapper
//   ai-sdk         a tool wrapped by agentauthz/ai-sdk: its execute (the tool is a no-op)
//   openai-agents  the agentauthz/openai-agents guardrail's run (arguments as JSON text)
//   langchain      the agentauthz/langchain middleware's wrapToolCall (the handler is a no-op)
// The adapters get the same options as a user would pass (functions of the
// call for resource and input). Each figure is the median over SAMPLES of the
// mean time of one call in a batch of BATCH calls, in µs; "overhead" is the
// median minus the `check` median.
//
// The call is a refund below the approval limit: the bundle caps e-mails at 60
// an hour per assistant (`support/email-hourly-cap`), which a fixed `now`
// would hit after 60 calls, and refunds have no cap. Every subject must still
// allow after the run, or the figures measured a refusal.

import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Engine } from 'agentauthz'
import { authorizeTools } from 'agentauthz/ai-sdk'
import { authorizationMiddleware } from 'agentauthz/langchain'
import { authorizationGuardrail } from 'agentauthz/openai-agents'

const here = path.dirname(fileURLToPath(import.meta.url))
const BUNDLE = path.join(here, '..', '..', 'policies-examples', 'support-agent')
const NOW = '2026-11-29T10:00:00Z'

const args = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 ? Number(args[i + 1]) : dflt
}
const SAMPLES = opt('samples', 60)
const BATCH = opt('batch', 500)
const JSON_OUT = args.includes('--json')

const engine = Engine.load(BUNDLE, { trustCallerTime: true })
const callArgs = { order: 'o-5001', amount: '25.00', currency: 'EUR', reason: 'Duplicate charge' }
const identity = { agent: 'helpdesk-assistant', onBehalfOf: 'sam', task: 'CASE-5512', credential: 'helpdesk-oauth', now: NOW }
const options = {
  engine,
  ...identity,
  action: { refund: 'billing:refund' },
  resource: (call) => ({ type: 'Order', id: call.args.order }),
  input: ({ args: { order, ...input } }) => input,
}

const tools = authorizeTools({ refund: { execute: async () => 'refunded' } }, options)
const guardrail = authorizationGuardrail(options)
const middleware = authorizationMiddleware(options)
const guardrailData = { context: {}, agent: {}, toolCall: { type: 'function_call', name: 'refund', callId: 'c1', arguments: JSON.stringify(callArgs) } }
const handler = async () => 'ran'

const subjects = {
  check: () => {
    const { order, ...input } = callArgs
    return engine.check({ ...identity, action: 'billing:refund', resource: { type: 'Order', id: order }, context: { input } })
  },
  checkToolCall: () => {
    const { order, ...input } = callArgs
    return engine.checkToolCall({ ...identity, tool: 'refund', action: 'billing:refund', resource: { type: 'Order', id: order }, input })
  },
  'ai-sdk': () => tools.refund.execute(callArgs, { toolCallId: 'c1', messages: [] }),
  'openai-agents': () => guardrail.run(guardrailData),
  langchain: () => middleware.wrapToolCall({ toolCall: { name: 'refund', args: callArgs, id: 'c1' } }, handler),
}

// Every subject must allow (a deny or an error would measure another path).
async function allAllow(when) {
  for (const [name, f] of Object.entries(subjects)) {
    const out = await (async () => f())().catch((e) => e)
    const allowed = out === 'refunded' || out === 'ran' || out?.allowed === true || out?.behavior?.type === 'allow'
    if (!allowed) throw new Error(`${name} did not allow ${when}: ${out instanceof Error ? out.message : JSON.stringify(out)}`)
  }
}
await allAllow('before the run')

async function sample(f) {
  const start = process.hrtime.bigint()
  for (let i = 0; i < BATCH; i++) await f()
  return Number(process.hrtime.bigint() - start) / 1000 / BATCH
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

// Interleaved (load on the machine drifts); a warm-up sample first.
const times = Object.fromEntries(Object.keys(subjects).map((k) => [k, []]))
for (const f of Object.values(subjects)) await sample(f)
for (let s = 0; s < SAMPLES; s++) for (const [name, f] of Object.entries(subjects)) times[name].push(await sample(f))

await allAllow('after the run')

const base = median(times.check)
const rows = Object.entries(times).map(([name, t]) => ({ name, medianUs: median(t), overheadUs: median(t) - base }))
if (JSON_OUT) console.log(JSON.stringify({ samples: SAMPLES, batch: BATCH, rows }, null, 2))
else {
  console.log(`per call, median of ${SAMPLES} samples of ${BATCH} calls (Node ${process.version})`)
  for (const r of rows) console.log(`${r.name.padEnd(14)} ${r.medianUs.toFixed(2).padStart(8)} µs   overhead ${r.overheadUs.toFixed(2).padStart(7)} µs`)
}
