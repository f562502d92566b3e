// The `token` option of the framework adapters: each tool call is checked
// with the identity provider's bearer token of the moment (a real LangChain.js
// agent, scripted fake model, tokens signed with the local keys of
// core/tests/identity/). The token names the agent; a bad token refuses the
// call with its code and is never shown to the model.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AIMessage, HumanMessage, ToolMessage, createAgent, tool } from 'langchain'
import { fakeModel } from '@langchain/core/testing'
import { Engine, ManualClock } from 'agentauthz'
import { authorizationMiddleware } from 'agentauthz/langchain'
import { SCHEMA, POLICIES, INVENTORY, config, claims, sign } from '../../tests/idp/suite.mjs'

function engine() {
  return Engine.fromStrings(
    { schema: SCHEMA, policies: POLICIES, inventory: INVENTORY, config: config() },
    { clock: new ManualClock('2026-11-29T10:00:00Z') },
  )
}

/** One `call` tool, asked for twice by the model; `token()` gives the bearer token per call. */
async function run(token, options = {}) {
  const ran = []
  const call = tool(async ({ n }) => (ran.push(n), `ran ${n}`), {
    name: 'call',
    description: 'Call the tool server',
    schema: { type: 'object', properties: { n: { type: 'string' } }, required: ['n'] },
  })
  const model = fakeModel()
    .respondWithTools([
      { name: 'call', args: { n: 'one' }, id: 'c1' },
      { name: 'call', args: { n: 'two' }, id: 'c2' },
    ])
    .respond(new AIMessage('done'))
  const middleware = authorizationMiddleware({
    engine: engine(),
    token,
    action: { call: 'tools:call' },
    resource: { type: 'Tool', id: 's' },
    input: () => undefined, // the action's context declares no input
    ...options,
  })
  const result = await createAgent({ model, tools: [call], middleware: [middleware] }).invoke({
    messages: [new HumanMessage('go')],
  })
  const texts = result.messages.filter((m) => ToolMessage.isInstance(m)).map((m) => String(m.content))
  return { ran, texts }
}

test('a valid token names the agent and its calls run', async () => {
  const token = sign(claims('ci-bot'))
  const { ran } = await run(() => token)
  assert.deepEqual(ran.sort(), ['one', 'two'])
})

test('the token is read per call: the second call carries another one', async () => {
  const tokens = [sign(claims('ci-bot')), sign(claims('bobs-bot', { jti: 'x' }))]
  const seen = []
  const { ran, texts } = await run((call) => {
    seen.push(call.args.n)
    return call.args.n === 'one' ? tokens[0] : tokens[1]
  })
  assert.deepEqual(seen.sort(), ['one', 'two'])
  assert.deepEqual(ran, ['one'], 'bobs-bot has a deprovisioned owner')
  assert.ok(texts.some((t) => t.includes('baseline/owner-required')), texts.join('\n'))
})

test('hostile: expired, forged and foreign tokens refuse the call and are never echoed', async () => {
  const expired = sign(claims('ci-bot', { exp: 1_795_946_400 - 3600, iat: 1_795_946_400 - 7200 }))
  const [h, p] = sign(claims('ci-bot')).split('.')
  const forged = `${h}.${p}.${Buffer.from('not a signature').toString('base64url')}`
  const foreign = sign(claims('ci-bot', { iss: 'https://evil.test' }))
  for (const [bad, code] of [
    [expired, 'token_expired'],
    [forged, 'token_invalid'],
    [foreign, 'issuer_unknown'],
  ]) {
    const { ran, texts } = await run(() => bad)
    assert.deepEqual(ran, [], code)
    assert.ok(texts.every((t) => t.includes(code)), `${code}: ${texts.join('\n')}`)
    assert.ok(texts.every((t) => !t.includes(bad.split('.')[2])), 'the token is never shown to the model')
  }
})

test('a token function that throws refuses the call (fail closed)', async () => {
  const { ran, texts } = await run(() => {
    throw new Error('no bearer token on this request')
  })
  assert.deepEqual(ran, [])
  assert.equal(texts.length, 2)
})

test('exactly one of agent, session and token', () => {
  const token = sign(claims('ci-bot'))
  assert.throws(
    () => authorizationMiddleware({ engine: engine(), agent: 'ci-bot', token, resource: { type: 'Tool', id: 's' } }),
    /exactly one of `agent`.*`token`/,
  )
})
