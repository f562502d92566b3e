#!/usr/bin/env node
// Per-call overhead of each framework adapter over a bare `engine.check`
// (a benchmark to run by hand, not a timed test):
//
//   node bench/frameworks.mjs [--samples N] [--batch N] [--json]
//
// One allowed `email:send` tool call of the support-agent example bundle
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
const callArgs = { customer: 'c-1001', to: 'billing@northwind.example', subject: 'Your refund', body: 'Refunded.' }
const identity = { agent: 'helpdesk-assistant', onBehalfOf: 'sam', task: 'CASE-5512', credential: 'helpdesk-oauth', now: NOW }
const options = {
  engine,
  ...identity,
  action: { send_email: 'email:send' },
  resource: (call) => ({ type: 'Customer', id: call.args.customer }),
  input: ({ args: { customer, ...input } }) => input,
}

const tools = authorizeTools({ send_email: { execute: async () => 'sent' } }, options)
const guardrail = authorizationGuardrail(options)
const middleware = authorizationMiddleware(options)
const guardrailData = { context: {}, agent: {}, toolCall: { type: 'function_call', name: 'send_email', callId: 'c1', arguments: JSON.stringify(callArgs) } }
const handler = async () => 'ran'

const subjects = {
  check: () => {
    const { customer, ...input } = callArgs
    return engine.check({ ...identity, action: 'email:send', resource: { type: 'Customer', id: customer }, context: { input } })
  },
  checkToolCall: () => {
    const { customer, ...input } = callArgs
    return engine.checkToolCall({ ...identity, tool: 'send_email', action: 'email:send', resource: { type: 'Customer', id: customer }, input })
  },
  'ai-sdk': () => tools.send_email.execute(callArgs, { toolCallId: 'c1', messages: [] }),
  'openai-agents': () => guardrail.run(guardrailData),
  langchain: () => middleware.wrapToolCall({ toolCall: { name: 'send_email', args: callArgs, id: 'c1' } }, handler),
}

// Every subject must allow (a deny or an error would measure another path).
for (const [name, f] of Object.entries(subjects)) {
  const out = await f()
  const allowed = out === 'sent' || out === 'ran' || out?.allowed === true || out?.behavior?.type === 'allow'
  if (!allowed) throw new Error(`${name} did not allow: ${JSON.stringify(out)}`)
}

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

const base = median(times.check)
const rows = Object.entries(times).map(([name, t]) => ({ name, medianUs: median(t), overheadUs: median(t) - base }))
if (JSON_OUT) console.log(JSON.stringify({ samples: SAMPLES, batch: BATCH, rows }, null, 2))
else {
  console.log(`per call, median of ${SAMPLES} samples of ${BATCH} calls (Node ${process.version})`)
  for (const r of rows) console.log(`${r.name.padEnd(14)} ${r.medianUs.toFixed(2).padStart(8)} µs   overhead ${r.overheadUs.toFixed(2).padStart(7)} µs`)
}
