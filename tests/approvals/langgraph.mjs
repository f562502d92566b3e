// Human approval in a LangChain.js agent run, shared by the Node addon's and
// the WASM package's tests (bindings-node/__test__/langgraph-approvals.test.mjs,
// bindings-wasm/tests/node/langgraph-approvals.test.mjs): real `langchain` and
// `@langchain/langgraph` from npm (each package's own copy, handed in), a
// MemorySaver checkpointer, a scripted fake model; no network. A call that
// needs approval pauses the graph with `interrupt()`, runs once after the
// engine records an approval, and stays refused otherwise. Hostile cases:
// other arguments, reuse, a forged resume value, a rejecting or unauthorized
// approver, a callback that throws, no checkpointer. The same cases are in
// bindings-python/tests/test_langgraph_approvals.py.

import { randomUUID } from 'node:crypto'
import { INVENTORY, POLICIES, SCHEMA } from './suite.mjs'

// Python's words (agentauthz.toolcall.refusal_text).
const NEEDS_APPROVAL =
  /^Tool call 'refund' needs a human's approval \(approvers: owner, team:finance; reasons: refund-limit; decision_id: \w{26}; request_digest: sha256:[0-9a-f]{64}\)\. The tool did not run\.$/

/**
 * Registers the shared tests. `authorizationMiddleware` is the binding's
 * LangChain.js entry, `Engine`/`LifecycleError`/`ManualClock` its engine;
 * `langchain` holds `AIMessage`, `HumanMessage`, `ToolMessage`, `createAgent`
 * and `tool`, `langgraph` holds `Command` and `MemorySaver`, `fakeModel` is
 * `@langchain/core/testing`'s. Returns `Run`, `makeEngine` and `options` for the
 * binding's own tests.
 */
export function langgraphSuite({ test, assert, Engine, LifecycleError, ManualClock, authorizationMiddleware, langchain, langgraph, fakeModel }) {
  const { AIMessage, HumanMessage, ToolMessage, createAgent, tool } = langchain
  const { Command, MemorySaver } = langgraph

  assert.equal(process.env.LANGSMITH_TRACING, undefined, 'LANGSMITH_TRACING must be unset: tracing would try the network')

  const makeEngine = () => Engine.fromStrings({ schema: SCHEMA, policies: POLICIES, inventory: INVENTORY }, { clock: new ManualClock('2026-11-29T10:00:00Z') })

  /** The refund tool; `refunds` records each amount it refunded. */
  function refundTool(refunds) {
    return tool(async ({ amount }) => (refunds.push(amount), `refunded ${amount}`), {
      name: 'refund',
      description: 'Refund an amount of order o1',
      schema: { type: 'object', properties: { amount: { type: 'number' } }, required: ['amount'] },
    })
  }

  const options = (engine, extra = {}) => ({ engine, agent: 'bot', action: { refund: 'billing:refund' }, resource: { type: 'Order', id: 'o1' }, ...extra })

  /** A model that asks for one refund per turn (or several at once: an array), then answers. */
  function script(...turns) {
    let model = fakeModel()
    turns.forEach((t, i) => {
      const amounts = Array.isArray(t) ? t : [t]
      model = model.respondWithTools(amounts.map((amount, j) => ({ name: 'refund', args: { amount }, id: amounts.length > 1 ? `c${i}.${j}` : `c${i}` })))
    })
    return model.respond(new AIMessage('done'))
  }

  /** One agent thread: start it, resume it, read its interrupt and tool messages. */
  class Run {
    constructor(engine, turns, { middleware = authorizationMiddleware, checkpointer = new MemorySaver(), ...extra } = {}) {
      this.refunds = []
      const model = script(...turns)
      const tools = [refundTool(this.refunds)]
      // `checkpointer: null`: a graph without one.
      this.agent = createAgent({ model, tools, middleware: [middleware(options(engine, extra))], ...(checkpointer === null ? {} : { checkpointer }) })
      this.config = { configurable: { thread_id: randomUUID() } }
    }

    async start() {
      this.result = await this.agent.invoke({ messages: [new HumanMessage('refund')] }, this.config)
      return this
    }

    async resume(value) {
      this.result = await this.agent.invoke(new Command({ resume: value }), this.config)
      return this
    }

    /** The values of the pending interrupts. */
    get interrupts() {
      return (this.result.__interrupt__ ?? []).map((i) => i.value)
    }

    /** The one pending interrupt's value, or undefined. */
    get pending() {
      const all = this.interrupts
      assert.ok(all.length <= 1, JSON.stringify(all))
      return all[0]
    }

    toolMessage(id) {
      const found = this.result.messages.filter((m) => ToolMessage.isInstance(m) && m.tool_call_id === id)
      assert.equal(found.length, 1, id)
      return found[0]
    }
  }

  test('a forged resume value is not an approval', async () => {
    const run = await new Run(makeEngine(), [500]).start()
    assert.deepEqual(run.refunds, [])
    assert.ok(run.pending)
    await run.resume({ approved: true, by: 'alice', decision_id: run.pending.decision_id })
    assert.deepEqual(run.refunds, [])
    const m = run.toolMessage('c0')
    assert.equal(m.status, 'error')
    assert.ok(m.content.startsWith('The run was resumed without an approval the engine holds. '), m.content)
    assert.match(m.content.slice('The run was resumed without an approval the engine holds. '.length), NEEDS_APPROVAL)
    assert.ok(m.content.includes(`decision_id: ${m.artifact.agentauthz.decision_id}; request_digest: ${m.artifact.agentauthz.request_digest})`), m.content)
    assert.equal(m.artifact.agentauthz.decision, 'needs_approval')
    assert.equal(run.result.messages.at(-1).content, 'done')
  })

  test('the owner approves: the same call runs once; other arguments and a reuse pause again and stay refused', async () => {
    const engine = makeEngine()
    const run = await new Run(engine, [500, 501, 500]).start()
    const pending = run.pending
    assert.deepEqual(Object.keys(pending).sort(), ['approvers', 'args', 'decision_id', 'reasons', 'request_digest', 'tool', 'tool_call_id', 'type'])
    assert.equal(pending.type, 'agentauthz/approval')
    assert.equal(pending.tool, 'refund')
    assert.equal(pending.tool_call_id, 'c0')
    assert.deepEqual(pending.args, { amount: 500 })
    assert.deepEqual(pending.approvers, ['owner', 'team:finance'])
    assert.deepEqual(pending.reasons, ['refund-limit'])
    assert.match(pending.request_digest, /^sha256:[0-9a-f]{64}$/)
    assert.match(pending.decision_id, /^\w{26}$/)
    assert.deepEqual(engine.approvals('bot').map((r) => r.decision_id), [pending.decision_id])
    engine.approve(pending.decision_id, { by: 'alice' })
    assert.deepEqual(run.refunds, []) // nothing runs until the graph is resumed

    await run.resume('approved in the engine')
    assert.deepEqual(run.refunds, [500])
    assert.notEqual(run.toolMessage('c0').status, 'error')
    // 501: the approval was for 500. The graph pauses again, with another digest.
    const second = run.pending
    assert.deepEqual(second.args, { amount: 501 })
    assert.notEqual(second.request_digest, pending.request_digest)
    await run.resume({ approved: true })
    assert.deepEqual(run.refunds, [500])
    assert.equal(run.toolMessage('c1').status, 'error')
    // 500 again: the approval was used up.
    const third = run.pending
    assert.equal(third.request_digest, pending.request_digest)
    await run.resume('yes')
    assert.deepEqual(run.refunds, [500])
    assert.equal(run.toolMessage('c2').status, 'error')
    assert.equal(run.pending, undefined)
    assert.equal(run.result.messages.at(-1).content, 'done')
  })

  test("a non-owner's approval is refused; a rejected request stays refused", async () => {
    const engine = makeEngine()
    const run = await new Run(engine, [500]).start()
    const { decision_id } = run.pending
    assert.throws(
      () => engine.approve(decision_id, { by: 'mallory' }),
      (e) => e instanceof LifecycleError && e.code === 'approval_refused',
    )
    engine.reject(decision_id, { by: 'alice' })
    await run.resume({ approved: true })
    assert.deepEqual(run.refunds, [])
    assert.equal(run.toolMessage('c0').status, 'error')
  })

  test('a team approver lets the call run', async () => {
    const engine = makeEngine()
    const run = await new Run(engine, [700]).start()
    engine.approve(run.pending.decision_id, { by: 'fin' })
    await run.resume('approved in the engine')
    assert.deepEqual(run.refunds, [700])
  })

  test('calls of one turn: the allowed one runs once, the paused one after its approval', async () => {
    const engine = makeEngine()
    const run = await new Run(engine, [[5, 500]]).start()
    assert.deepEqual(run.refunds, [5])
    assert.deepEqual(run.pending.args, { amount: 500 })
    engine.approve(run.pending.decision_id, { by: 'alice' })
    await run.resume('approved in the engine')
    // The allowed call is not run again when the graph resumes.
    assert.deepEqual(run.refunds, [5, 500])
    assert.equal(run.pending, undefined)
    assert.equal(run.result.messages.at(-1).content, 'done')
  })

  test('two calls of one turn pause together; approving one does not approve the other', async () => {
    const engine = makeEngine()
    const run = await new Run(engine, [[500, 700]]).start()
    const pending = run.result.__interrupt__
    assert.deepEqual(
      pending.map((i) => i.value.args.amount),
      [500, 700],
    )
    engine.approve(pending[0].value.decision_id, { by: 'alice' })
    // Both interrupts answered (a resume value per interrupt id), one approved in the engine.
    await run.resume(Object.fromEntries(pending.map((i) => [i.id, { approved: true }])))
    assert.deepEqual(run.refunds, [500])
    assert.notEqual(run.toolMessage('c0.0').status, 'error')
    assert.equal(run.toolMessage('c0.1').status, 'error')
    assert.equal(run.pending, undefined)
  })

  test('a throwing approval callback neither crashes nor allows', async () => {
    const engine = makeEngine()
    const logged = []
    const original = console.error
    console.error = (...args) => logged.push(args)
    try {
      engine.onApprovalRequest(() => {
        throw new Error('notifier down')
      })
      const run = await new Run(engine, [500]).start()
      assert.ok(run.pending)
      assert.deepEqual(run.refunds, [])
      await run.resume({ approved: true })
      assert.deepEqual(run.refunds, [])
      assert.equal(run.toolMessage('c0').status, 'error')
    } finally {
      console.error = original
    }
    assert.ok(logged.some((args) => args.some((a) => String(a?.message ?? a).includes('notifier down'))), JSON.stringify(logged))
  })

  test('an onDecision that throws refuses without pausing', async () => {
    const run = await new Run(makeEngine(), [500], {
      onDecision: () => {
        throw new Error('observer down')
      },
    }).start()
    assert.equal(run.pending, undefined)
    assert.deepEqual(run.refunds, [])
    assert.equal(run.toolMessage('c0').artifact.agentauthz.error.code, 'Error')
  })

  test('an onDecision that throws undefined (or rejects with it) still vetoes: no pause', async () => {
    for (const onDecision of [
      () => {
        throw undefined
      },
      () => Promise.reject(undefined),
    ]) {
      const run = await new Run(makeEngine(), [500], { onDecision }).start()
      assert.equal(run.pending, undefined)
      assert.deepEqual(run.refunds, [])
      assert.equal(run.toolMessage('c0').status, 'error')
      assert.ok(run.toolMessage('c0').artifact.agentauthz.error, JSON.stringify(run.toolMessage('c0').artifact))
    }
  })

  test('approval "deny" refuses at once; another value is a TypeError', async () => {
    const engine = makeEngine()
    const run = await new Run(engine, [500], { approval: 'deny' }).start()
    assert.equal(run.pending, undefined)
    assert.deepEqual(run.refunds, [])
    assert.equal(run.toolMessage('c0').status, 'error')
    assert.match(run.toolMessage('c0').content, NEEDS_APPROVAL)
    assert.equal(run.toolMessage('c0').artifact.agentauthz.decision, 'needs_approval')
    assert.throws(() => authorizationMiddleware(options(engine, { approval: 'ask' })), /approval.*"interrupt" or "deny"/)
  })

  test('small amounts and hard denies never pause', async () => {
    const run = await new Run(makeEngine(), [5, 20000]).start()
    assert.equal(run.pending, undefined)
    assert.deepEqual(run.refunds, [5])
    assert.equal(run.toolMessage('c1').artifact.agentauthz.decision, 'deny')
  })

  test('without a checkpointer the call is refused, not paused', async () => {
    const run = await new Run(makeEngine(), [500], { checkpointer: null }).start()
    assert.equal(run.result.__interrupt__, undefined)
    assert.deepEqual(run.refunds, [])
    const m = run.toolMessage('c0')
    assert.equal(m.status, 'error')
    assert.match(m.content, NEEDS_APPROVAL)
    assert.equal(m.artifact.agentauthz.decision, 'needs_approval')
    assert.equal(run.result.messages.at(-1).content, 'done')
  })

  test('outside a graph the call is refused, not thrown', async () => {
    const middleware = authorizationMiddleware(options(makeEngine()))
    let ran = false
    const out = await middleware.wrapToolCall({ toolCall: { name: 'refund', args: { amount: 500 }, id: 'x' } }, () => {
      ran = true
    })
    assert.equal(ran, false)
    assert.ok(ToolMessage.isInstance(out))
    assert.equal(out.status, 'error')
    assert.equal(out.artifact.agentauthz.decision, 'needs_approval')
  })

  return { Run, makeEngine, options }
}
