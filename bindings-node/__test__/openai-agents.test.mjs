// End to end: the OpenAI Agents SDK (`@openai/agents`, real package) runs an
// Agent with a scripted fake Model (no network, no key, tracing off) whose
// tools are guarded by agentauthz/openai-agents against the support-agent
// example bundle. A refused call never runs its tool; the model's next input
// carries the refusal as the tool's output.

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { Agent, run, setTracingDisabled, tool, Usage } from '@openai/agents'
import { z } from 'zod'
import { AuthzError, Decision } from 'agentauthz'
import { authorizationGuardrail, guardAgentTools } from 'agentauthz/openai-agents'
import support from './lib/support.js'

const { supportEngine, supportOptions } = support
setTracingDisabled(true)

/** A Model that answers each turn from a script (a list of tool calls, or a
 * final text) and keeps every request it was sent. */
function scriptedModel(steps) {
  const requests = []
  const queue = [...steps]
  return {
    requests,
    async getResponse(request) {
      requests.push(request)
      const step = queue.shift() ?? 'out of script'
      const output =
        typeof step === 'string'
          ? [{ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: step }] }]
          : step.map(([callId, name, args]) => ({
              type: 'function_call',
              callId,
              name,
              arguments: typeof args === 'string' ? args : JSON.stringify(args),
              status: 'completed',
            }))
      return { usage: new Usage(), output, responseId: `r${requests.length}` }
    },
    // biome-ignore lint/correctness/useYield: the runs here do not stream
    async *getStreamedResponse() {
      throw new Error('not scripted')
    },
  }
}

/** The tool outputs the model received in its `n`-th request, by call id. */
function resultsSeen(model, n) {
  const out = {}
  for (const item of model.requests[n].input) {
    if (item.type === 'function_call_result') out[item.callId] = item.output?.text ?? item.output
  }
  return out
}

/** The support assistant's tools (loose JSON schemas: what the model sent is what is checked). */
function supportTools(ran) {
  const loose = (properties) => ({ type: 'object', properties, required: [], additionalProperties: true })
  const str = { type: 'string' }
  return [
    tool({
      name: 'read_customer',
      description: 'Read a customer record from the CRM',
      parameters: loose({ customer: str }),
      strict: false,
      execute: async ({ customer }) => (ran.push(['read_customer', customer]), `customer ${customer}: Northwind Traders, EUR`),
    }),
    tool({
      name: 'send_email',
      description: 'E-mail a customer',
      parameters: loose({ customer: str, to: str, subject: str }),
      strict: false,
      execute: async ({ to }) => (ran.push(['send_email', to]), `sent to ${to}`),
    }),
    tool({
      name: 'refund',
      description: 'Refund (part of) an order',
      parameters: loose({ order: str, currency: str }),
      strict: false,
      execute: async ({ order, amount }) => (ran.push(['refund', order]), `refunded ${amount} on ${order}`),
    }),
  ]
}

async function runScript(steps, extra = {}) {
  const { engine, records } = supportEngine()
  const ran = []
  const decisions = []
  const model = scriptedModel(steps)
  const agent = guardAgentTools(new Agent({ name: 'support', instructions: 'Help.', model, tools: supportTools(ran) }), supportOptions(engine, decisions, extra))
  const result = await run(agent, "Handle Northwind's duplicate charge.", { maxTurns: steps.length + 1 })
  return { engine, records, ran, decisions, model, result }
}

const DENIED = (reasons) => new RegExp(`^Tool call '\\w+' was denied by authorization policy \\(reasons: ${reasons}; decision_id: ([0-9A-HJKMNP-TV-Z]{26})\\)\\. The tool did not run\\.$`)
const REFUSED = /^Tool call '\w+' was refused: authorization could not be decided \(error: (\w+): /

describe('agentauthz/openai-agents: hostile callers and input', () => {
  test('option functions that throw refuse the call with a code; the run goes on', async () => {
    const boom = () => {
      throw new Error('directory unavailable')
    }
    for (const extra of [{ resource: boom }, { action: boom }, { session: undefined, agent: async () => Promise.reject(new Error('down')) }, { task: boom }]) {
      const { ran, model, result, records } = await runScript([[['c1', 'refund', { order: 'o-5001', amount: '25.00', currency: 'EUR' }]], 'done'], extra)
      assert.deepEqual(ran, [])
      assert.equal(result.finalOutput, 'done')
      assert.match(resultsSeen(model, 1).c1, /could not be decided \(error: Error: (directory unavailable|down)\)\. The tool did not run\.$/)
      assert.deepEqual(records, [])
    }
  })

  test('onDecision that throws vetoes an allowed call (refused, with its decision_id); a deny stays a deny', async () => {
    const { ran, model, result } = await runScript(
      [
        [
          ['ok', 'refund', { order: 'o-5001', amount: '25.00', currency: 'EUR' }],
          ['no', 'refund', { order: 'o-5002', amount: '250.00', currency: 'EUR' }],
        ],
        'done',
      ],
      {
        onDecision: async () => {
          throw new Error('audit store down')
        },
      },
    )
    assert.deepEqual(ran, [])
    assert.equal(result.finalOutput, 'done')
    assert.match(resultsSeen(model, 1).ok, /was refused: authorization could not be decided \(decision_id: \w{26}; error: Error: audit store down\)/)
    assert.match(resultsSeen(model, 1).no, DENIED('support/refund-limit'))
  })

  test('arguments that are not JSON, not an object, deep or huge are refused, never thrown', async () => {
    const deep = `${'{"customer": "c-1001", "to": '.repeat(2000)}1${'}'.repeat(2000)}`
    const huge = { customer: 'c-1001', to: 'attacker@evil.example', subject: 'x'.repeat(8 * 1024 * 1024) }
    const { ran, model, result } = await runScript([
      [
        ['bad-json', 'send_email', '{"customer": '],
        ['string', 'send_email', '"hello"'],
        ['null', 'send_email', 'null'],
        ['deep', 'send_email', deep],
        ['huge', 'send_email', huge],
      ],
      'done',
    ])
    assert.deepEqual(ran, [])
    assert.equal(result.finalOutput, 'done')
    const seen = resultsSeen(model, 1)
    assert.deepEqual(Object.keys(seen).sort(), ['bad-json', 'deep', 'huge', 'null', 'string'])
    // Arguments that are not JSON the SDK refuses itself, before any guardrail.
    assert.match(seen['bad-json'], /error occurred while parsing tool arguments/)
    for (const id of ['string', 'null', 'deep', 'huge']) {
      assert.match(seen[id], /^Tool call 'send_email' was (denied|refused)/, id)
      assert.ok(seen[id].length < 2000, `${id}: ${seen[id].length} characters`)
    }
    assert.match(REFUSED.exec(seen.string)?.[1] ?? '', /^request_(parse|invalid)$/)
  })

  test('onError "throw" ends the run with the coded error; the tool does not run', async () => {
    await assert.rejects(
      runScript([[['c1', 'refund', { order: 'o-5001', amount: 1.23456, currency: 'EUR' }]], 'done'], { onError: 'throw' }),
      // The SDK wraps what a guardrail throws in its ToolCallError.
      (e) => (e.error ?? e.cause) instanceof AuthzError && (e.error ?? e.cause).code === 'request_invalid',
    )
  })

  test('guardAgentTools copies the tools (another agent sharing them is not checked as this one), once', async () => {
    const { engine } = supportEngine()
    const ran = []
    const tools = supportTools(ran)
    const agent = new Agent({ name: 'a', tools })
    guardAgentTools(agent, supportOptions(engine, []))
    guardAgentTools(agent, supportOptions(engine, []))
    assert.deepEqual(
      agent.tools.map((t) => t.inputGuardrails.length),
      [1, 1, 1],
    )
    assert.deepEqual(
      tools.map((t) => t.inputGuardrails.length),
      [0, 0, 0],
    )
    assert.notEqual(agent.tools[0], tools[0])
    assert.equal(agent.tools[0].invoke, tools[0].invoke)
  })

  test('misconfiguration fails when the guardrail is built, not per call', () => {
    const { engine } = supportEngine()
    const base = { engine, agent: 'helpdesk-assistant', resource: { type: 'Customer', id: 'c-1001' } }
    assert.throws(() => authorizationGuardrail({ ...base, engine: { checkToolCall: () => ({ allowed: true }) } }), TypeError)
    assert.throws(() => authorizationGuardrail({ ...base, agent: undefined }), TypeError)
    assert.throws(() => authorizationGuardrail({ ...base, resource: undefined }), TypeError)
    assert.throws(() => authorizationGuardrail({ ...base, name: '' }), TypeError)
    assert.throws(() => guardAgentTools({}, base), TypeError)
    // A hosted tool runs at OpenAI: it cannot be checked in process.
    const hosted = { type: 'hosted_tool', name: 'web_search_preview', providerData: {} }
    assert.throws(() => guardAgentTools(new Agent({ name: 'a', tools: [hosted] }), base), /not a function tool/)
    const kept = guardAgentTools(new Agent({ name: 'a', tools: [hosted] }), { ...base, unguarded: ['web_search_preview'] })
    assert.equal(kept.tools[0], hosted)
  })
})

describe('agentauthz/openai-agents: an agent run', () => {
  test('allowed tools run, refused ones never do; the model reads reasons and decision_id', async () => {
    const { ran, model, result, records, decisions, engine } = await runScript([
      [
        ['call-1', 'read_customer', { customer: 'c-1001' }],
        ['call-2', 'read_customer', { customer: 'c-2001' }],
        ['call-3', 'send_email', { customer: 'c-1001', to: 'attacker@evil.example', subject: 'CRM export' }],
      ],
      [
        ['call-4', 'refund', { order: 'o-5001', amount: 25, currency: 'EUR' }],
        ['call-5', 'refund', { order: 'o-5002', amount: '250.00', currency: 'EUR' }],
        ['call-6', 'refund', { order: 'o-5001', amount: 1.23456, currency: 'EUR' }],
        ['call-7', 'refund', { order: 'o-5001', amount: '25.00', currency: 'EUR', note: 'extra' }],
      ],
      'Refunded 25.00 EUR.',
    ])
    assert.deepEqual(ran.sort(), [
      ['read_customer', 'c-1001'],
      ['refund', 'o-5001'],
    ])
    assert.equal(result.finalOutput, 'Refunded 25.00 EUR.')
    const first = resultsSeen(model, 1)
    assert.equal(first['call-1'], 'customer c-1001: Northwind Traders, EUR')
    assert.match(first['call-2'], DENIED('no policy permits this call'))
    assert.match(first['call-3'], DENIED('support/email-only-to-customer-address'))
    const second = resultsSeen(model, 2)
    assert.equal(second['call-4'], 'refunded 25 on o-5001')
    assert.match(second['call-5'], DENIED('support/refund-limit'))
    assert.match(second['call-6'], /error: request_invalid: .*amount/)
    assert.match(second['call-7'], /error: request_invalid: .*note/)

    const ids = [first['call-2'], first['call-3'], second['call-5']].map((text) => text.match(/decision_id: (\w+)/)[1])
    const byId = new Map(decisions.map(([, d]) => [d.decisionId, d]))
    assert.ok(ids.every((id) => byId.has(id) && !byId.get(id).allowed))
    assert.ok(decisions.every(([, d]) => d instanceof Decision && d.policyRevision === engine.policyRevision))
    assert.equal(decisions.length, 5)
    // One decision record per tool call: the five decisions, and an `error` record for each malformed call.
    assert.equal(records.length, 7)
    const recorded = new Map(records.map((r) => [r.decision_id, r]))
    assert.ok(decisions.every(([, d]) => recorded.get(d.decisionId)?.decision === d.decision))
    assert.deepEqual(
      records.filter((r) => r.decision === 'error').map((r) => r.error.code),
      ['request_invalid', 'request_invalid'],
    )    // The SDK keeps the guardrail's verdicts, with the decision.
    const verdicts = result.toolInputGuardrailResults.map((r) => [r.guardrail.name, r.output.behavior.type])
    assert.equal(verdicts.length, 7)
    assert.ok(verdicts.every(([name]) => name === 'agentauthz'))
  })

  test('an action map lists the tools the agent may use; any other tool is denied', async () => {
    const { ran, model, decisions } = await runScript(
      [
        [
          ['a', 'read_customer', { customer: 'c-1001' }],
          ['b', 'refund', { order: 'o-5001', amount: '25.00', currency: 'EUR' }],
        ],
        'done',
      ],
      { action: new Map([['read_customer', 'crm:read-customer']]) },
    )
    assert.deepEqual(ran, [['read_customer', 'c-1001']])
    assert.match(resultsSeen(model, 1).b, DENIED('baseline/unknown-action'))
    assert.deepEqual(
      decisions.map(([name, d]) => [name, d.decision]),
      [
        ['read_customer', 'allow'],
        ['refund', 'deny'],
      ],
    )
  })

  test('the guardrail on a single tool, and the CommonJS entry point', async () => {
    const require = createRequire(import.meta.url)
    const cjs = require('agentauthz/openai-agents')
    const { engine } = supportEngine()
    const ran = []
    const guarded = tool({
      name: 'read_customer',
      description: 'Read a customer record',
      parameters: z.object({ customer: z.string() }),
      execute: async ({ customer }) => (ran.push(customer), 'ok'),
      inputGuardrails: [cjs.authorizationGuardrail(supportOptions(engine, [], { agent: 'chat-widget-bot', task: undefined, credential: undefined }))],
    })
    const model = scriptedModel([[['c', 'read_customer', { customer: 'c-1001' }]], 'done'])
    const result = await run(new Agent({ name: 'a', model, tools: [guarded] }), 'Read c-1001.')
    assert.equal(result.finalOutput, 'done')
    assert.deepEqual(ran, [])
    assert.match(resultsSeen(model, 1).c, DENIED('baseline/owner-required'))
  })
})
