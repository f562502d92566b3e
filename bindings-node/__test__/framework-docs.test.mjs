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

/** The page's example (the first js block after "## Example") and the block after "It prints:". */
function example(page) {
  const text = readFileSync(path.join(DOCS, page), 'utf8')
  const from = text.indexOf('## Example')
  assert.ok(from >= 0, `${page} has no "## Example"`)
  const code = /```js\n([\s\S]*?)```/.exec(text.slice(from))
  const prints = /It prints:\n\n```\n([\s\S]*?)```/.exec(text.slice(from))
  assert.ok(code && prints, `${page}: an example and what it prints`)
  return { code: code[1], prints: prints[1] }
}

for (const page of Object.keys(MODELS)) {
  test(`docs/frameworks/${page}: the example runs and prints what the page says`, { timeout: 120_000 }, () => {
    const { code, prints } = example(page)
    mkdirSync(SNIPPETS, { recursive: true })
    const file = path.join(SNIPPETS, page.replace(/\.md$/, '.mjs'))
    writeFileSync(file, `${MODELS[page]}\n${code}`)
    try {
      const env = { ...process.env }
      delete env.LANGSMITH_TRACING
      delete env.LANGCHAIN_TRACING_V2
      delete env.OPENAI_API_KEY
      const r = spawnSync(process.execPath, [file], { cwd: PACKAGE, encoding: 'utf8', env, timeout: 110_000 })
      assert.equal(r.status, 0, `${page} example failed:\n${r.stdout}\n${r.stderr}`)
      assert.equal(r.stdout, prints)
    } finally {
      rmSync(file, { force: true })
    }
  })
}
