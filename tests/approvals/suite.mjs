// The human-approval suite, shared by the Node addon's and the WASM
// package's tests (bindings-node/__test__/approvals.test.mjs,
// bindings-wasm/tests/node/approvals.test.mjs): needs_approval decisions,
// approve/reject by decision id or request, who may approve, digest binding,
// one use, expiry by the engine clock. The same cases are in
// bindings-python/tests/test_approvals.py.

export const SCHEMA = `
entity Order;
action "billing:refund" appliesTo {
  principal: [Agent], resource: [Order],
  context: { input: { amount: Long, note?: String } }
};
`
export const POLICIES = `
@id("refund-permit")
permit (principal in AgentGroup::"payers", action == Action::"billing:refund", resource);

@id("refund-limit")
@approval("owner, team:finance")
forbid (principal, action == Action::"billing:refund", resource)
when { context.input.amount > 100 };

@id("refund-hard-cap")
forbid (principal, action == Action::"billing:refund", resource)
when { context.input.amount > 10000 };
`
export const INVENTORY = `
teams:
  - {id: finance}
users:
  - {id: alice}
  - {id: bob}
  - {id: fin, teams: [finance]}
  - {id: fin-off, teams: [finance], active: false}
  - {id: mallory}
agent_groups:
  - {id: payers}
agents:
  - {id: bot, owner: alice, groups: [payers]}
  - {id: bot-b, owner: bob, groups: [payers]}
resources:
  - {type: Order, id: o1}
  - {type: Order, id: o2}
`
export const refund = (amount, agent = 'bot', order = 'o1') => ({
  agent,
  action: 'billing:refund',
  resource: { type: 'Order', id: order },
  context: { input: { amount } },
})

/** A fresh engine on the bundle above, of the binding under test. */
export const makeFor =
  (Engine, ManualClock) =>
  (clock = new ManualClock('2026-11-29T10:00:00Z')) =>
    Engine.fromStrings({ schema: SCHEMA, policies: POLICIES, inventory: INVENTORY }, { clock })

/** Registers the shared tests with the binding's `Engine`, `LifecycleError` and `ManualClock`. */
export function suite({ test, assert, Engine, LifecycleError, ManualClock }) {
  const make = makeFor(Engine, ManualClock)
  const code = (f) => {
    try {
      f()
    } catch (e) {
      assert.ok(e instanceof LifecycleError, String(e))
      return e.code
    }
    assert.fail('no error')
  }

  test('needs_approval is not allowed and says who may approve', () => {
    const engine = make()
    const d = engine.check(refund(500))
    assert.equal(d.decision, 'needs_approval')
    assert.equal(d.allowed, false)
    assert.equal(d.requiresApproval, true)
    assert.deepEqual(d.approvers, ['owner', 'team:finance'])
    assert.deepEqual(d.reasons, ['refund-limit'])
    assert.match(d.requestDigest, /^sha256:[0-9a-f]{64}$/)
    assert.equal(d.toJSON().decision, 'needs_approval')
    assert.equal(d.toJSON().requires_approval, true)
    const hard = engine.check(refund(20000))
    assert.equal(hard.decision, 'deny')
    assert.equal(hard.requiresApproval, false)
    assert.equal(hard.requestDigest, null)
    assert.equal('requires_approval' in engine.check(refund(5)).toJSON(), false)
  })

  test('only the approved call of the approved agent goes through, once', () => {
    const engine = make()
    const d = engine.check(refund(500))
    for (const user of ['mallory', 'bob', 'fin-off', 'nobody']) {
      assert.equal(code(() => engine.approve(d, { by: user })), 'approval_refused', user)
    }
    assert.equal(code(() => engine.approve('no-such-decision', { by: 'alice' })), 'approval_invalid')
    assert.equal(code(() => engine.approve(engine.check(refund(5)), { by: 'alice' })), 'approval_invalid')
    assert.equal(code(() => engine.approve({ request: refund(500) }, { by: 'alice', uses: 0 })), 'approval_invalid')
    assert.equal(engine.approvals().length, 1)
    const approval = engine.approve(d.decisionId, { by: 'alice' })
    assert.equal(approval.request_digest, d.requestDigest)
    assert.equal(engine.approvals().length, 0)
    assert.equal(engine.check(refund(501)).decision, 'needs_approval')
    assert.equal(engine.check(refund(500, 'bot', 'o2')).decision, 'needs_approval')
    assert.equal(engine.check(refund(500, 'bot-b')).decision, 'needs_approval')
    const ok = engine.check(refund(500))
    assert.equal(ok.allowed, true)
    assert.deepEqual(ok.reasons, [`approval/${approval.id}`, 'refund-permit'])
    assert.equal(engine.check(refund(500)).decision, 'needs_approval')
  })

  test('an approval by request expires by the engine clock; a rejection stops the wait', () => {
    const clock = new ManualClock('2026-11-29T10:00:00Z')
    const engine = make(clock)
    engine.approve({ request: refund(500) }, { by: 'fin', ttl: 30, uses: 2 })
    clock.advance(30)
    assert.equal(engine.check(refund(500)).decision, 'needs_approval')
    const waiting = engine.check(refund(700, 'bot-b'))
    assert.deepEqual(engine.approvals('bot-b').map((r) => r.decision_id), [waiting.decisionId])
    assert.equal(code(() => engine.reject(waiting, { by: 'alice' })), 'approval_refused')
    assert.equal(engine.reject(waiting, { by: 'bob' }).request_digest, waiting.requestDigest)
    assert.deepEqual(engine.approvals('bot-b'), [])
  })

  test('hostile: an approval of other arguments, agent or resource does not allow', () => {
    const engine = make()
    engine.approve({ request: refund(500) }, { by: 'alice', uses: 5 })
    for (const other of [refund(499), refund(500, 'bot', 'o2'), refund(500, 'bot-b'), { ...refund(500), context: { input: { amount: 500, note: 'x' } } }]) {
      const d = engine.check(other)
      assert.equal(d.allowed, false, JSON.stringify(other))
      assert.equal(d.decision, 'needs_approval')
    }
    // A hard forbid cannot be approved.
    assert.equal(code(() => engine.approve({ request: refund(20000) }, { by: 'alice' })), 'approval_invalid')
    assert.equal(engine.check(refund(20000)).decision, 'deny')
  })

  test('hostile: a single-use approval allows once, also through checkBatch', () => {
    const engine = make()
    engine.approve(engine.check(refund(500)), { by: 'alice' })
    const batch = engine.checkBatch([refund(500), refund(500)])
    assert.deepEqual(batch.map((d) => d.decision), ['allow', 'needs_approval'])
    assert.equal(engine.check(refund(500)).allowed, false)
  })

  test('hostile: bad targets and options are coded errors, never an approval', () => {
    const engine = make()
    const d = engine.check(refund(500))
    for (const [target, options] of [
      [refund(500), { by: 'alice' }], // a bare request: give {request}
      [null, { by: 'alice' }],
      [42, { by: 'alice' }],
      [d, {}],
      [d, undefined],
      [d, { by: 42 }],
      [d, { by: 'alice', uses: -1 }],
      [d, { by: 'alice', uses: 1.5 }],
      [d, { by: 'alice', uses: 1001 }],
      [d, { by: 'alice', ttl: 'an hour' }],
      [d, { by: 'alice', ttl: 0 }],
      [d, { by: 'alice', ttl: 31 * 24 * 3600 }],
    ]) {
      assert.equal(code(() => engine.approve(target, options)), 'approval_invalid', JSON.stringify([target, options]))
    }
    assert.equal(code(() => engine.reject(d, { by: 'alice', uses: 2 })), 'approval_invalid')
    assert.equal(code(() => engine.approvals(7)), 'approval_invalid')
    assert.equal(engine.check(refund(500)).allowed, false)
    assert.equal(engine.approvals().length, 1)
  })

  test('onApprovalRequest: called once per new waiting request; a throwing callback changes nothing', (t) => {
    const engine = make()
    const seen = []
    engine.onApprovalRequest((r) => seen.push(r))
    const first = engine.check(refund(500))
    engine.check(refund(500))
    engine.check(refund(700, 'bot-b'))
    assert.deepEqual(seen.map((r) => r.request.context.input.amount), [500, 700])
    assert.equal(seen[0].decision_id, first.decisionId)
    assert.deepEqual(seen[0].approvers, ['owner', 'team:finance'])
    const errors = t.mock.method(console, 'error', () => {})
    engine.onApprovalRequest(() => {
      throw new Error('notifier down')
    })
    const d = engine.check(refund(900))
    assert.equal(d.decision, 'needs_approval')
    assert.equal(d.allowed, false)
    assert.equal(errors.mock.callCount(), 1)
    assert.match(String(errors.mock.calls[0].arguments[1]), /notifier down/)
    // The throw did not stop the engine: the request waits, and still allows after approval.
    assert.equal(engine.approvals('bot').length, 2)
    engine.approve(d, { by: 'alice' })
    assert.equal(engine.check(refund(900)).allowed, true)
    engine.onApprovalRequest(null)
    engine.check(refund(901))
    assert.equal(errors.mock.callCount(), 1)
    assert.equal(code(() => engine.onApprovalRequest('not a function')), 'approval_invalid')
  })
}
