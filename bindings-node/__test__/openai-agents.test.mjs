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
import { authorizationGuardrail, guardAgentTools, pendingApprovals } from 'agentauthz/openai-agents'
import support from './lib/support.js'

const { supportEngine, supportOptions, refundRequest } = support
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
    // Above the limit the example wants the owner's approval; this guardrail refuses it (approval: "deny").
    assert.match(second['call-5'], /^Tool call 'refund' needs a human's approval \(approvers: owner; reasons: support\/refund-limit; decision_id: \w{26}; request_digest: sha256:[0-9a-f]{64}\)\. The tool did not run\.$/)
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

describe('agentauthz/openai-agents: human approval through the SDK tool approval', () => {
  const refund = (amount) => ({ order: 'o-5002', amount, currency: 'EUR' })
  // Python's words (agentauthz.toolcall.refusal_text): who may approve, the decision id and the digest.
  const APPROVAL =
    /^Tool call 'refund' needs a human's approval \(approvers: owner; reasons: support\/refund-limit; decision_id: \w{26}; request_digest: sha256:[0-9a-f]{64}\)\. The tool did not run\.$/
  // A vetoed needs_approval decision (onDecision threw) is refused like a deny.
  const VETOED = /^Tool call 'refund' was denied by authorization policy \(reasons: support\/refund-limit; decision_id: \w{26}\)\. The tool did not run\.$/

  /** A guarded agent with `approval: "interrupt"` whose model asks for one refund per turn, then says 'done'. */
  function approvalRun(amounts, extra = {}, tools) {
    const { engine, records } = supportEngine()
    const ran = []
    const decisions = []
    const model = scriptedModel([...amounts.map((a, i) => [[`r${i}`, 'refund', refund(a)]]), 'done'])
    const agent = guardAgentTools(new Agent({ name: 'support', instructions: 'Help.', model, tools: tools ?? supportTools(ran) }), {
      ...supportOptions(engine, decisions, extra),
      approval: 'interrupt',
    })
    const start = () => run(agent, 'Refund o-5002.', { maxTurns: 10 })
    /** Resumes `result` with `decide` ('approve' | 'reject') on every interruption. */
    const resume = async (result, decide = 'approve', options) => {
      const state = result.state
      for (const item of result.interruptions) state[decide](item, options)
      return run(agent, state, { maxTurns: 10 })
    }
    return { engine, records, ran, decisions, model, agent, start, resume }
  }

  test('hostile: approved in the SDK only (even "always"), the call is refused and stays waiting in the engine', async () => {
    const r = approvalRun(['450.00'])
    const first = await r.start()
    assert.equal(first.interruptions.length, 1)
    assert.deepEqual(r.ran, [])
    const [waiting] = pendingApprovals(first)
    assert.equal(waiting.item.rawItem.callId, first.interruptions[0].rawItem.callId)
    const second = await r.resume(first, 'approve', { alwaysApprove: true })
    assert.deepEqual(r.ran, [])
    assert.match(resultsSeen(r.model, 1).r0, APPROVAL)
    assert.equal(second.finalOutput, 'done')
    assert.deepEqual(
      r.engine.approvals('helpdesk-assistant').map((a) => a.decision_id),
      [waiting.decisionId],
    )
  })

  test('approved in the engine, the same arguments run once; other arguments and a second use are refused', async () => {
    const r = approvalRun(['450.00', '449.00', '450.00'])
    let result = await r.start()
    const [waiting] = pendingApprovals(result)
    assert.equal(waiting.tool, 'refund')
    assert.equal(waiting.callId, 'r0')
    assert.deepEqual(waiting.args, refund('450.00'))
    assert.deepEqual(waiting.approvers, ['owner'])
    assert.deepEqual(waiting.reasons, ['support/refund-limit'])
    assert.match(waiting.requestDigest, /^sha256:[0-9a-f]{64}$/)
    assert.equal(waiting.decision.decision, 'needs_approval')
    assert.equal(waiting.decisionId, waiting.decision.decisionId)
    // A non-owner's approval is refused by the engine.
    assert.throws(() => r.engine.approve(waiting.decision, { by: 'sam' }), (e) => e.code === 'approval_refused')
    r.engine.approve(waiting.decision, { by: 'dana' })
    result = await r.resume(result)
    assert.deepEqual(r.ran, [['refund', 'o-5002']])
    assert.equal(resultsSeen(r.model, 1).r0, 'refunded 450.00 on o-5002')
    // 449.00 was not approved: paused; approved in the SDK only, refused.
    assert.deepEqual(
      pendingApprovals(result).map((p) => p.args.amount),
      ['449.00'],
    )
    result = await r.resume(result)
    assert.match(resultsSeen(r.model, 2).r1, APPROVAL)
    // 450.00 again: the engine's approval was used up.
    assert.deepEqual(
      pendingApprovals(result).map((p) => [p.callId, p.args.amount]),
      [['r2', '450.00']],
    )
    result = await r.resume(result)
    assert.match(resultsSeen(r.model, 3).r2, APPROVAL)
    assert.deepEqual(r.ran, [['refund', 'o-5002']])
    assert.equal(result.finalOutput, 'done')
    // One check per call, and one after each human answer: r0 asked and
    // approved, r1 and r2 asked and refused; each in the decision log.
    assert.deepEqual(
      r.decisions.map(([, d]) => d.decision),
      ['needs_approval', 'allow', 'needs_approval', 'needs_approval', 'needs_approval', 'needs_approval'],
    )
    assert.ok(r.decisions[1][1].reasons.some((x) => x.startsWith('approval/')))
    const checks = r.records.filter((x) => x.action === 'billing:refund').map((x) => x.decision)
    assert.deepEqual(checks, ['needs_approval', 'allow', 'needs_approval', 'needs_approval', 'needs_approval', 'needs_approval'])
  })

  test('hostile: an approval of other arguments does not let this call run', async () => {
    const r = approvalRun(['450.00'])
    const first = await r.start()
    const sibling = r.engine.check(refundRequest('o-5002', { amount: '449.00', currency: 'EUR' }))
    assert.equal(sibling.decision, 'needs_approval')
    assert.notEqual(sibling.requestDigest, pendingApprovals(first)[0].requestDigest)
    r.engine.approve(sibling, { by: 'dana' })
    await r.resume(first)
    assert.deepEqual(r.ran, [])
    assert.match(resultsSeen(r.model, 1).r0, APPROVAL)
  })

  test('rejected in the SDK, the call does not run (the engine approval stays unused)', async () => {
    const r = approvalRun(['450.00'])
    const first = await r.start()
    r.engine.approve(pendingApprovals(first)[0].decision, { by: 'dana' })
    const second = await r.resume(first, 'reject')
    assert.deepEqual(r.ran, [])
    assert.doesNotMatch(resultsSeen(r.model, 1).r0, /refunded/)
    assert.equal(second.finalOutput, 'done')
  })

  test('hostile: throwing callbacks neither crash the run nor allow the call', async () => {
    // onApprovalRequest throws: reported on console.error; the call still waits.
    const errors = []
    const original = console.error
    console.error = (...args) => errors.push(args)
    try {
      const r = approvalRun(['25.00', '450.00'])
      r.engine.onApprovalRequest(() => {
        throw new Error('pager down')
      })
      const first = await r.start()
      assert.deepEqual(r.ran, [['refund', 'o-5002']]) // 25.00 ran; 450.00 waits
      assert.equal(pendingApprovals(first).length, 1)
      await r.resume(first)
      assert.deepEqual(r.ran, [['refund', 'o-5002']])
    } finally {
      console.error = original
    }
    assert.ok(errors.length >= 1)
    assert.match(String(errors[0][1]), /pager down/)

    // onDecision throws: a needs_approval call is refused, not sent to a human.
    const veto = approvalRun(['450.00'], {
      onDecision: () => {
        throw new Error('audit store down')
      },
    })
    const vetoed = await veto.start()
    assert.equal(vetoed.interruptions.length, 0)
    assert.deepEqual(veto.ran, [])
    assert.match(resultsSeen(veto.model, 1).r0, VETOED)

    // An option function throws: refused, never paused, never run.
    const broken = approvalRun(['450.00'], {
      resource: () => {
        throw new Error('directory unavailable')
      },
    })
    const refused = await broken.start()
    assert.equal(refused.interruptions.length, 0)
    assert.deepEqual(broken.ran, [])
    assert.match(resultsSeen(broken.model, 1).r0, /error: Error: directory unavailable/)

    // The tool's own needsApproval throws: a human is asked; the SDK's yes alone still runs nothing.
    const ran = []
    const tools = supportTools(ran)
    tools[2] = tool({
      name: 'refund',
      description: 'Refund',
      parameters: { type: 'object', properties: {}, required: [], additionalProperties: true },
      strict: false,
      needsApproval: async () => {
        throw new Error('rule crashed')
      },
      execute: async ({ order }) => (ran.push(['refund', order]), 'refunded'),
    })
    const own = approvalRun(['450.00'], {}, tools)
    const asked = await own.start()
    assert.equal(asked.interruptions.length, 1)
    assert.deepEqual(pendingApprovals(asked), []) // not the engine's request
    await own.resume(asked)
    assert.deepEqual(ran, [])
    assert.match(resultsSeen(own.model, 1).r0, APPROVAL)
  })

  test('allowed and denied calls are checked once and never paused; the default refuses at once', async () => {
    const r = approvalRun(['25.00', '500.00'])
    const result = await r.start()
    assert.equal(result.interruptions.length, 0)
    assert.deepEqual(r.ran, [['refund', 'o-5002']])
    assert.match(resultsSeen(r.model, 2).r1, DENIED('support/refund-limit, support/refund-within-order-total'))
    assert.deepEqual(
      r.decisions.map(([, d]) => d.decision),
      ['allow', 'deny'],
    )
    assert.equal(r.records.length, 2)
    // approval: "deny" (the default): a needs_approval call is refused without asking.
    const { ran, model, result: plain } = await runScript([[['r0', 'refund', refund('450.00')]], 'done'])
    assert.equal(plain.interruptions.length, 0)
    assert.deepEqual(ran, [])
    assert.match(resultsSeen(model, 1).r0, APPROVAL)
    assert.deepEqual(pendingApprovals(plain), [])
    assert.deepEqual(pendingApprovals(null), [])
    const { engine } = supportEngine()
    assert.throws(() => guardAgentTools(new Agent({ name: 'a', tools: [] }), { ...supportOptions(engine, []), approval: 'ask' }), TypeError)
  })
})
