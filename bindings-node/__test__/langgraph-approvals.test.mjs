// Human approval in a LangChain.js agent run with the Node addon: the suite
// shared with the WASM package (tests/approvals/langgraph.mjs), with this
// package's `langchain` and `@langchain/langgraph`, and what only this package
// has: its CommonJS entry point.

import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { AIMessage, HumanMessage, ToolMessage, createAgent, tool } from 'langchain'
import { Command, MemorySaver } from '@langchain/langgraph'
import { fakeModel } from '@langchain/core/testing'
import { Engine, LifecycleError, ManualClock } from 'agentauthz'
import { authorizationMiddleware } from 'agentauthz/langchain'
import { langgraphSuite } from '../../tests/approvals/langgraph.mjs'

const { Run, makeEngine } = langgraphSuite({
  test,
  assert,
  Engine,
  LifecycleError,
  ManualClock,
  authorizationMiddleware,
  langchain: { AIMessage, HumanMessage, ToolMessage, createAgent, tool },
  langgraph: { Command, MemorySaver },
  fakeModel,
})

test('the CommonJS entry point pauses and resumes the same way', async () => {
  const require = createRequire(import.meta.url)
  const cjs = require('agentauthz/langchain')
  const engine = makeEngine()
  const run = await new Run(engine, [500], { middleware: cjs.authorizationMiddleware }).start()
  assert.ok(run.pending)
  engine.approve(run.pending.decision_id, { by: 'alice' })
  await run.resume('approved in the engine')
  assert.deepEqual(run.refunds, [500])
})
