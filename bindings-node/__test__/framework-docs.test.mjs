// The runnable example of each TypeScript framework page under
// docs/frameworks/ is executed here, as written, with a scripted model in
// place of `model` (no network), and must print what the page says it prints.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
const PACKAGE = path.join(here, '..')
const DOCS = path.join(PACKAGE, '..', 'docs', 'frameworks')
// Inside the package, so that `agentauthz` and the frameworks resolve as they would for a user.
const SNIPPETS = path.join(PACKAGE, '.snippets')

// The model's script in every page: refund o-1 (25) and o-2 (250), then answer.
const CALLS = [
  ['call-1', { order: 'o-1', amount: 25, currency: 'EUR' }],
  ['call-2', { order: 'o-2', amount: 250, currency: 'EUR' }],
]
const ANSWER = 'Refunded o-1; o-2 needs a human.'

const MODELS = {
  'vercel-ai-sdk.md': `
import { MockLanguageModelV4 as __Mock } from 'ai/test'
const __usage = { inputTokens: { total: 1, noCache: 1 }, outputTokens: { total: 1, text: 1 } }
const model = new __Mock({ doGenerate: [
  { content: ${JSON.stringify(CALLS)}.map(([id, args]) => ({ type: 'tool-call', toolCallId: id, toolName: 'refund', input: JSON.stringify(args) })),
    finishReason: { unified: 'tool-calls', raw: undefined }, usage: __usage, warnings: [] },
  { content: [{ type: 'text', text: ${JSON.stringify(ANSWER)} }], finishReason: { unified: 'stop', raw: undefined }, usage: __usage, warnings: [] },
] })
`,
  'openai-agents-js.md': `
import { setTracingDisabled as __noTracing, Usage as __Usage } from '@openai/agents'
__noTracing(true)
const __steps = [
  ${JSON.stringify(CALLS)}.map(([callId, args]) => ({ type: 'function_call', callId, name: 'refund', arguments: JSON.stringify(args), status: 'completed' })),
  [{ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text: ${JSON.stringify(ANSWER)} }] }],
]
const model = {
  async getResponse() { return { usage: new __Usage(), output: __steps.shift(), responseId: 'r' } },
  async *getStreamedResponse() { throw new Error('not scripted') },
}
`,
  'langchain-js.md': `
import { fakeModel as __fake } from '@langchain/core/testing'
import { AIMessage as __AIMessage } from 'langchain'
const model = __fake()
  .respondWithTools(${JSON.stringify(CALLS)}.map(([id, args]) => ({ name: 'refund', args, id })))
  .respond(new __AIMessage(${JSON.stringify(ANSWER)}))
`,
}

/** The page's example (the first js block after `heading`) and the block after "It prints:". */
function example(page, heading = '## Example') {
  const text = readFileSync(path.join(DOCS, page), 'utf8')
  const from = text.indexOf(heading)
  assert.ok(from >= 0, `${page} has no "${heading}"`)
  const code = /```js\n([\s\S]*?)```/.exec(text.slice(from))
  const prints = /It prints:\n\n```\n([\s\S]*?)```/.exec(text.slice(from))
  assert.ok(code && prints, `${page}: an example and what it prints`)
  return { code: code[1], prints: prints[1] }
}

// The langchain-js page's approval snippet, after what it takes from the example:
// the engine (its refund limit an @approval forbid), the refund tool, a model.
const APPROVAL_PRELUDE = `
import { fakeModel as __fake } from '@langchain/core/testing'
import { AIMessage as __AIMessage, createAgent, tool } from 'langchain'
import { z } from 'zod'
import { Engine } from 'agentauthz'
import { authorizationMiddleware } from 'agentauthz/langchain'
const engine = Engine.fromStrings({
  schema: 'entity Order; action "billing:refund" appliesTo { principal: [Agent], resource: [Order], context: { input: { amount: decimal, currency: String } } };',
  policies: \`@id("refunds") permit (principal == Agent::"support-bot", action == Action::"billing:refund", resource);
    @id("refund-limit") @approval("owner") forbid (principal, action == Action::"billing:refund", resource)
      when { context.input.amount.greaterThan(decimal("100.00")) };\`,
  inventory: 'users: [{id: dana}]\\nagents: [{id: support-bot, owner: dana}]\\nresources: [{type: Order, id: o-2}]\\n',
})
const refunded = []
const refund = tool(async ({ order }) => (refunded.push(order), 'refunded'), {
  name: 'refund', description: 'Refund an order', schema: z.object({ order: z.string(), amount: z.number(), currency: z.string() }),
})
const model = __fake()
  .respondWithTools([{ name: 'refund', args: { order: 'o-2', amount: 250, currency: 'EUR' }, id: 'call-1' }])
  .respond(new __AIMessage('Refunded o-2.'))
`

/** Runs `source` as a module inside the package; returns its stdout. */
function runSnippet(name, source) {
  mkdirSync(SNIPPETS, { recursive: true })
  const file = path.join(SNIPPETS, name)
  writeFileSync(file, source)
  try {
    const env = { ...process.env }
    delete env.LANGSMITH_TRACING
    delete env.LANGCHAIN_TRACING_V2
    delete env.OPENAI_API_KEY
    const r = spawnSync(process.execPath, [file], { cwd: PACKAGE, encoding: 'utf8', env, timeout: 110_000 })
    assert.equal(r.status, 0, `${name} failed:\n${r.stdout}\n${r.stderr}`)
    return r.stdout
  } finally {
    rmSync(file, { force: true })
  }
}

test('docs/frameworks/langchain-js.md: the human-approval snippet runs and prints what the page says', { timeout: 120_000 }, () => {
  const { code, prints } = example('langchain-js.md', '## Human approval')
  assert.equal(runSnippet('langchain-js-approval.mjs', `${APPROVAL_PRELUDE}\n${code}`), prints)
})

for (const page of Object.keys(MODELS)) {
  test(`docs/frameworks/${page}: the example runs and prints what the page says`, { timeout: 120_000 }, () => {
    const { code, prints } = example(page)
    assert.equal(runSnippet(page.replace(/\.md$/, '.mjs'), `${MODELS[page]}\n${code}`), prints)
  })
}
