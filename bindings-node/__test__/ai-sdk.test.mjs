// End to end: the Vercel AI SDK (`ai`, real package) with its scripted mock
// language model (`ai/test`, no network) runs tools wrapped by
// agentauthz/ai-sdk against the support-agent example bundle. A refused
// call never runs its tool; the model's next input carries the refusal.

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { generateText, isStepCount, jsonSchema, streamText, tool } from 'ai'
import { MockLanguageModelV4 } from 'ai/test'
import { AuthzError, Decision } from 'agentauthz'
import { authorizeTools, ToolCallRefused } from 'agentauthz/ai-sdk'
import support from './lib/support.js'

const { supportEngine, supportOptions, refundRequest } = support
const usage = { inputTokens: { total: 1, noCache: 1 }, outputTokens: { total: 1, text: 1 } }

/** A model that answers each step from a script: a list of tool calls, or a final text. */
function scriptedModel(steps) {
  const responses = steps.map((step) =>
    typeof step === 'string'
      ? { content: [{ type: 'text', text: step }], finishReason: { unified: 'stop', raw: undefined }, usage, warnings: [] }
      : {
          content: step.map(([id, name, args]) => ({
            type: 'tool-call',
            toolCallId: id,
            toolName: name,
            input: typeof args === 'string' ? args : JSON.stringify(args),
          })),
          finishReason: { unified: 'tool-calls', raw: undefined },
          usage,
          warnings: [],
        },
  )
  return new MockLanguageModelV4({ doGenerate: responses })
}

/** The tool results the model received in its `n`-th call, by tool call id: `{type, value}`. */
function resultsSeen(model, n) {
  const out = {}
  for (const message of model.doGenerateCalls[n].prompt) {
    if (message.role !== 'tool') continue
    for (const part of message.content) if (part.type === 'tool-result') out[part.toolCallId] = part.output
  }
  return out
}

/** The support assistant's tools; each records that it ran. A JSON schema
 * that accepts any object, so that what reaches `execute` is what the model sent. */
function supportTools(ran) {
  const anyObject = jsonSchema({ type: 'object' })
  return {
    read_customer: tool({
      description: 'Read a customer record from the CRM',
      inputSchema: anyObject,
      execute: async ({ customer }) => (ran.push(['read_customer', customer]), `customer ${customer}: Northwind Traders, EUR`),
    }),
    send_email: tool({
      description: 'E-mail a customer about their case',
      inputSchema: anyObject,
      execute: async ({ to }) => (ran.push(['send_email', to]), `sent to ${to}`),
    }),
    refund: tool({
      description: 'Refund (part of) an order',
      inputSchema: anyObject,
      execute: async ({ order, amount }) => (ran.push(['refund', order]), `refunded ${amount} on ${order}`),
    }),
  }
}

async function runScript(steps, extra = {}, tools) {
  const { engine, records } = supportEngine()
  const ran = []
  const decisions = []
  const model = scriptedModel(steps)
  const result = await generateText({
    model,
    tools: authorizeTools(tools ?? supportTools(ran), supportOptions(engine, decisions, extra)),
    stopWhen: isStepCount(steps.length + 1),
    prompt: "Handle Northwind's duplicate charge.",
  })
  return { engine, records, ran, decisions, model, result }
}

const REFUSED = /^ToolCallRefused: Tool call '(\w+)' was (denied by authorization policy|refused: authorization could not be decided)/
const NEEDS_APPROVAL = (reasons, approvers = 'owner') =>
  new RegExp(`needs a human's approval \\(approvers: ${approvers}; reasons: ${reasons}; decision_id: [0-9A-HJKMNP-TV-Z]{26}; request_digest: sha256:[0-9a-f]{64}\\)\\. The tool did not run\\.$`)
const DENIED = (reasons) => new RegExp(`reasons: ${reasons}; decision_id: [0-9A-HJKMNP-TV-Z]{26}\\)\\. The tool did not run\\.$`)

describe('agentauthz/ai-sdk: hostile callers and input', () => {
  test('option functions that throw refuse the call with a code; the run goes on', async () => {
    const boom = () => {
      throw new Error('directory unavailable')
    }
    for (const extra of [
      { resource: boom },
      { action: boom },
      { agent: async () => Promise.reject(new Error('directory unavailable')) },
      { context: boom },
      { now: boom },
    ]) {
      const { ran, records, model, result } = await runScript([[['c1', 'refund', { order: 'o-5001', amount: '25.00', currency: 'EUR' }]], 'done'], extra)
      assert.deepEqual(ran, [], Object.keys(extra)[0])
      assert.equal(result.text, 'done')
      const seen = resultsSeen(model, 1).c1
      assert.equal(seen.type, 'error-text')
      assert.match(seen.value, /could not be decided \(error: Error: directory unavailable\)\. The tool did not run\.$/)
      assert.deepEqual(records, [])
    }
  })

  test('onDecision that throws vetoes an allowed call (refused, with its decision_id); a deny stays a deny', async () => {
    const extra = {
      onDecision: () => {
        throw new Error('audit store down')
      },
    }
    const { ran, model, result, records } = await runScript(
      [
        [
          ['ok', 'refund', { order: 'o-5001', amount: '25.00', currency: 'EUR' }],
          ['no', 'refund', { order: 'o-5002', amount: '250.00', currency: 'EUR' }],
        ],
        'done',
      ],
      extra,
    )
    assert.deepEqual(ran, [])
    assert.equal(result.text, 'done')
    const seen = resultsSeen(model, 1)
    assert.match(seen.ok.value, /was refused: authorization could not be decided \(decision_id: \w{26}; error: Error: audit store down\)/)
    // A vetoed needs_approval decision is refused, not sent to a human.
    assert.match(seen.no.value, DENIED('support/refund-limit'))
    assert.equal(records.length, 2)
  })

  test('arguments that are not an object, null, deep or huge are refused, never thrown', async () => {
    const deep = `${'{"customer": "c-1001", "to": '.repeat(2000)}1${'}'.repeat(2000)}`
    const huge = { customer: 'c-1001', to: 'attacker@evil.example', subject: 'x'.repeat(8 * 1024 * 1024) }
    const { ran, model, result } = await runScript([
      [
        ['string', 'send_email', '"hello"'],
        ['array', 'send_email', '[1, 2]'],
        ['null', 'send_email', 'null'],
        ['deep', 'send_email', deep],
        ['huge', 'send_email', huge],
      ],
      'done',
    ])
    assert.deepEqual(ran, [])
    assert.equal(result.text, 'done')
    const seen = resultsSeen(model, 1)
    assert.deepEqual(Object.keys(seen).sort(), ['array', 'deep', 'huge', 'null', 'string'])
    for (const [id, output] of Object.entries(seen)) {
      assert.equal(output.type, 'error-text', id)
      assert.match(output.value, REFUSED, id)
      // The model is not sent the input back: the refusal stays short.
      assert.ok(output.value.length < 2000, `${id}: ${output.value.length} characters`)
    }
  })

  test('a tool name the action map does not own (__proto__, toString) has no action: denied', async () => {
    const ran = []
    const tools = {
      ...supportTools(ran),
      toString: tool({ inputSchema: jsonSchema({ type: 'object' }), execute: async () => (ran.push('toString'), 'ran') }),
      ['__proto__']: tool({ inputSchema: jsonSchema({ type: 'object' }), execute: async () => (ran.push('__proto__'), 'ran') }),
    }
    const { model, records, decisions } = await runScript(
      [
        [
          ['t', 'toString', { customer: 'c-1001' }],
          ['p', '__proto__', { customer: 'c-1001' }],
        ],
        'done',
      ],
      { input: () => undefined },
      tools,
    )
    assert.deepEqual(ran, [])
    for (const id of ['t', 'p']) assert.match(resultsSeen(model, 1)[id].value, DENIED('baseline/unknown-action'), id)
    assert.deepEqual(
      decisions.map(([, d]) => d.reasons),
      [['baseline/unknown-action'], ['baseline/unknown-action']],
    )
    assert.equal(records.length, 2)
  })

  test('onError "throw" hands the coded error to the SDK; the tool still does not run', async () => {
    const { ran, model, result } = await runScript([[['c1', 'refund', { order: 'o-5001', amount: 1.23456, currency: 'EUR' }]], 'done'], {
      onError: 'throw',
    })
    assert.deepEqual(ran, [])
    assert.equal(result.text, 'done')
    assert.match(resultsSeen(model, 1).c1.value, /request_invalid/)
    assert.equal(result.steps[0].content.find((p) => p.type === 'tool-error').error instanceof AuthzError, true)
  })

  test('misconfiguration fails when the tools are wrapped, not per call', () => {
    const { engine } = supportEngine()
    const tools = supportTools([])
    const base = { engine, agent: 'helpdesk-assistant', resource: { type: 'Customer', id: 'c-1001' } }
    assert.throws(() => authorizeTools(tools, { ...base, engine: {} }), TypeError)
    assert.throws(() => authorizeTools(tools, { ...base, agent: undefined }), TypeError)
    assert.throws(() => authorizeTools(tools, { ...base, session: 'v4.public.x' }), TypeError)
    assert.throws(() => authorizeTools(tools, { ...base, resource: undefined }), TypeError)
    assert.throws(() => authorizeTools(tools, { ...base, onError: 'ignore' }), TypeError)
    assert.throws(() => authorizeTools(tools, { ...base, action: { refund: 7 } }), TypeError)
    assert.throws(() => authorizeTools(tools, { ...base, action: 'billing:refund' }), TypeError)
    // A tool the SDK does not execute here (client-side, provider) cannot be checked here.
    assert.throws(() => authorizeTools({ ask: tool({ inputSchema: jsonSchema({ type: 'object' }) }) }, base), /no execute/)
    assert.throws(() => authorizeTools(null, base), TypeError)
  })
})

describe('agentauthz/ai-sdk: an agent run', () => {
  test('allowed tools run, refused ones never do; the model reads reasons and decision_id', async () => {
    const { ran, model, result, records, decisions, engine } = await runScript([
      [
        ['call-1', 'read_customer', { customer: 'c-1001' }], // sam's customer: allowed
        ['call-2', 'read_customer', { customer: 'c-2001' }], // riley's customer: no permit
        ['call-3', 'send_email', { customer: 'c-1001', to: 'attacker@evil.example', subject: 'CRM export' }], // forbidden
      ],
      [
        ['call-4', 'refund', { order: 'o-5001', amount: 25, currency: 'EUR' }], // a number where the schema says decimal
        ['call-5', 'refund', { order: 'o-6001', amount: '25.00', currency: 'EUR' }], // riley's customer's order
        ['call-6', 'refund', { order: 'o-5001', amount: 1.23456, currency: 'EUR' }], // 5 fraction digits: no decimal
        ['call-7', 'refund', { order: 'o-5001', amount: '25.00', currency: 'EUR', note: 'extra' }], // a field the schema lacks
      ],
      'Refunded 25.00 EUR.',
    ])
    assert.deepEqual(ran.sort(), [
      ['read_customer', 'c-1001'],
      ['refund', 'o-5001'],
    ])
    assert.equal(result.text, 'Refunded 25.00 EUR.')
    const first = resultsSeen(model, 1)
    assert.deepEqual(first['call-1'], { type: 'text', value: 'customer c-1001: Northwind Traders, EUR' })
    assert.match(first['call-2'].value, DENIED('no policy permits this call'))
    assert.match(first['call-3'].value, DENIED('support/email-only-to-customer-address'))
    const second = resultsSeen(model, 2)
    assert.deepEqual(second['call-4'], { type: 'text', value: 'refunded 25 on o-5001' })
    assert.match(second['call-5'].value, DENIED('no policy permits this call'))
    assert.match(second['call-6'].value, /error: request_invalid: .*amount/)
    assert.match(second['call-7'].value, /error: request_invalid: .*note/)

    // The decision id the model read is the engine's, and its record's.
    const byCall = Object.fromEntries(decisions.map(([name, d], i) => [i, [name, d]]))
    const denyIds = decisions.filter(([, d]) => !d.allowed).map(([, d]) => d.decisionId)
    for (const id of denyIds) assert.ok([first['call-2'], first['call-3'], second['call-5']].some((o) => o.value.includes(id)), id)
    assert.ok(Object.values(byCall).every(([, d]) => d instanceof Decision && d.policyRevision === engine.policyRevision))
    assert.equal(decisions.length, 5)
    // One decision record per tool call: the five decisions, and an `error` record for each malformed call.
    assert.equal(records.length, 7)
    const recorded = new Map(records.map((r) => [r.decision_id, r]))
    assert.ok(decisions.every(([, d]) => recorded.get(d.decisionId)?.decision === d.decision))
    assert.deepEqual(
      records.filter((r) => r.decision === 'error').map((r) => r.error.code),
      ['request_invalid', 'request_invalid'],
    )
  })

  test('streamText: the same wrapped tools, the same refusals', async () => {
    const { engine } = supportEngine()
    const ran = []
    const calls = []
    const finish = (unified) => ({ type: 'finish', finishReason: { unified, raw: undefined }, usage })
    const stream = (chunks) => ({
      stream: new ReadableStream({
        start(c) {
          for (const x of chunks) c.enqueue(x)
          c.close()
        },
      }),
    })
    const model = new MockLanguageModelV4({
      doStream: [
        stream([
          { type: 'tool-call', toolCallId: 's1', toolName: 'refund', input: JSON.stringify({ order: 'o-6001', amount: '25.00', currency: 'EUR' }) },
          { type: 'tool-call', toolCallId: 's2', toolName: 'refund', input: JSON.stringify({ order: 'o-5001', amount: '25.00', currency: 'EUR' }) },
          finish('tool-calls'),
        ]),
        stream([{ type: 'text-start', id: 't' }, { type: 'text-delta', id: 't', delta: 'ok' }, { type: 'text-end', id: 't' }, finish('stop')]),
      ],
    })
    const result = streamText({
      model,
      tools: authorizeTools(supportTools(ran), supportOptions(engine, calls)),
      stopWhen: isStepCount(3),
      prompt: 'Refund.',
    })
    const parts = []
    for await (const part of result.fullStream) parts.push(part)
    assert.equal(await result.text, 'ok')
    assert.deepEqual(ran, [['refund', 'o-5001']])
    const error = parts.find((p) => p.type === 'tool-error')
    assert.equal(error.toolCallId, 's1')
    assert.ok(error.error instanceof ToolCallRefused)
    assert.deepEqual(error.error.decision.reasons, [])
    const seen = {}
    for (const m of model.doStreamCalls[1].prompt) if (m.role === 'tool') for (const p of m.content) seen[p.toolCallId] = p.output
    assert.match(seen.s1.value, DENIED('no policy permits this call'))
    assert.equal(seen.s2.value, 'refunded 25.00 on o-5001')
  })

  test('a streaming tool (an async generator) stays one, and is checked first', async () => {
    const { engine } = supportEngine()
    const ran = []
    const tools = {
      refund: tool({
        inputSchema: jsonSchema({ type: 'object' }),
        async *execute({ order }) {
          ran.push(order)
          yield 'working'
          yield `refunded ${order}`
        },
      }),
    }
    const model = scriptedModel([
      [
        ['g1', 'refund', { order: 'o-5001', amount: '25.00', currency: 'EUR' }],
        ['g2', 'refund', { order: 'o-6001', amount: '25.00', currency: 'EUR' }],
      ],
      'done',
    ])
    await generateText({ model, tools: authorizeTools(tools, supportOptions(engine, [])), stopWhen: isStepCount(3), prompt: 'Refund.' })
    assert.deepEqual(ran, ['o-5001'])
    const seen = resultsSeen(model, 1)
    assert.deepEqual(seen.g1, { type: 'text', value: 'refunded o-5001' })
    assert.match(seen.g2.value, DENIED('no policy permits this call'))
  })

  test('the CommonJS entry point wraps the same way', async () => {
    const require = createRequire(import.meta.url)
    const cjs = require('agentauthz/ai-sdk')
    const { engine } = supportEngine()
    const ran = []
    const model = scriptedModel([[['c', 'read_customer', { customer: 'c-1001' }]], 'ok'])
    await generateText({
      model,
      // Nobody owns chat-widget-bot: the baseline denies everything it asks.
      tools: cjs.authorizeTools(supportTools(ran), supportOptions(engine, [], { agent: 'chat-widget-bot', task: undefined, credential: undefined })),
      stopWhen: isStepCount(2),
      prompt: 'Read c-1001.',
    })
    assert.deepEqual(ran, [])
    assert.match(resultsSeen(model, 1).c.value, DENIED('baseline/owner-required'))
    assert.equal(cjs.ToolCallRefused, ToolCallRefused)
  })
})

describe('agentauthz/ai-sdk: human approval through the SDK approval flow', () => {
  const big = { order: 'o-5002', amount: '450.00', currency: 'EUR' }
  const approvalsOf = (result) => result.content.filter((p) => p.type === 'tool-approval-request')

  /** Runs step 1 (the model asks for the refund); returns what the second run needs. */
  async function askRefund(args = big) {
    const { engine, records } = supportEngine()
    const ran = []
    const decisions = []
    const waiting = []
    engine.onApprovalRequest((r) => waiting.push(r))
    const tools = authorizeTools(supportTools(ran), supportOptions(engine, decisions))
    const model = scriptedModel([[['r1', 'refund', args]], 'refunded'])
    const first = await generateText({ model, tools, stopWhen: isStepCount(3), prompt: 'Refund o-5002.' })
    return { engine, records, ran, decisions, waiting, tools, model, first }
  }

  /** The second run: the app answers the SDK's approval request. */
  async function answer({ tools, model, first }, approved) {
    const [request] = approvalsOf(first)
    const messages = [
      { role: 'user', content: 'Refund o-5002.' },
      ...first.response.messages,
      { role: 'tool', content: [{ type: 'tool-approval-response', approvalId: request.approvalId, approved }] },
    ]
    return generateText({ model, tools, stopWhen: isStepCount(3), messages })
  }

  test('needs_approval asks the user; approved in the engine, the call runs once', async () => {
    const run = await askRefund()
    assert.deepEqual(run.ran, [])
    const requests = approvalsOf(run.first)
    assert.equal(requests.length, 1)
    assert.equal(requests[0].toolCall.toolCallId, 'r1')
    // The engine names the request for the human; the owner approves it there.
    assert.equal(run.waiting.length, 1)
    assert.deepEqual(run.decisions.map(([, d]) => d.decision), ['needs_approval'])
    run.engine.approve(run.waiting[0].decision_id, { by: 'dana' })
    const second = await answer(run, true)
    assert.deepEqual(run.ran, [['refund', 'o-5002']])
    assert.equal(second.text, 'refunded')
    const used = run.decisions.at(-1)[1]
    assert.equal(used.allowed, true)
    assert.ok(used.reasons.some((r) => r.startsWith('approval/')))
  })

  test('hostile: approved in the SDK only, the call is refused; the approval binds the arguments', async () => {
    const run = await askRefund()
    const second = await answer(run, true)
    assert.deepEqual(run.ran, [])
    const seen = resultsSeen(run.model, 1)
    assert.match(seen.r1.value, NEEDS_APPROVAL('support/refund-limit'))
    assert.equal(second.text, 'refunded')
    // An approval of the same refund with another amount does not let this one run.
    const other = await askRefund()
    const sibling = other.engine.check(refundRequest('o-5002', { amount: '449.00', currency: 'EUR' }))
    assert.equal(sibling.decision, 'needs_approval')
    other.engine.approve(sibling, { by: 'dana' })
    await answer(other, true)
    assert.deepEqual(other.ran, [])
  })

  test('a non-approver is refused by the engine; allowed and denied calls are checked once', async () => {
    const run = await askRefund()
    assert.throws(() => run.engine.approve(run.waiting[0].decision_id, { by: 'sam' }), (e) => e.code === 'approval_refused')
    const { engine, records, ran, decisions } = await runScript([[['ok', 'refund', { order: 'o-5001', amount: '25.00', currency: 'EUR' }]], 'done'])
    assert.deepEqual(ran, [['refund', 'o-5001']])
    assert.equal(decisions.length, 1)
    assert.equal(records.length, 1)
    assert.equal(engine.approvals().length, 0)
  })

  test("a tool's own needsApproval stands", async () => {
    const { engine } = supportEngine()
    const ran = []
    const tools = supportTools(ran)
    tools.refund = { ...tools.refund, needsApproval: true }
    const model = scriptedModel([[['x', 'refund', { order: 'o-5001', amount: '25.00', currency: 'EUR' }]], 'done'])
    const result = await generateText({ model, tools: authorizeTools(tools, supportOptions(engine, [])), stopWhen: isStepCount(3), prompt: 'Refund.' })
    assert.equal(approvalsOf(result).length, 1)
    assert.deepEqual(ran, [])
  })
})
