// Compiled with `tsc --noEmit` against index.d.ts and langchain.d.ts (CommonJS
// flavour). Lines marked @ts-expect-error must fail to type-check: they keep
// the declarations from decaying into `any`.
import {
  AuthzError,
  BundleError,
  Decision,
  Engine,
  ERROR_CODES,
  ManualClock,
  errorClassFor,
  errorCodes,
  coreVersion,
  RequestError,
  flushDecisionLogs,
  type CheckRequest,
  type DecisionJson,
  type DecisionRecord,
  type DecisionLogHead,
  type ErrorCode,
  type ErrorFamily,
  type StringsInput,
  type Grant,
  type GrantRequest,
  type JournalEntry,
  type TaskSpec,
  LifecycleError,
  JournalError,
  SessionError,
  storeInit,
  type BundleStatus,
  type StoreStatus,
} from 'agentauthz'
import { authorizationMiddleware, type ApprovalRequest, type AuthorizationMiddlewareOptions } from 'agentauthz/langchain'

const engine: Engine = Engine.load('policies-examples/support-agent')
const fromUrl: Engine = Engine.load(new URL('file:///tmp/bundle'))
const input: StringsInput = { schema: 'entity Doc;', policies: { 'a.cedar': '' }, inventory: 'agents: []' }
const other = Engine.fromStrings(input)
Engine.fromStrings({ schema: '', policies: ['a', 'b'] })
Engine.fromStrings({ schema: '', policies: 'a' })

const request: CheckRequest = {
  agent: 'helpdesk-assistant',
  action: 'email:send',
  resource: { type: 'Customer', id: 'c-1001' },
  task: 'CASE-5512',
  onBehalfOf: 'sam',
  credential: 'helpdesk-oauth',
  context: { input: { to: 'billing@northwind.example', subject: 'Refund' } },
  now: new Date(),
}
const d: Decision = engine.check(request)
const allowed: boolean = d.allowed
const verdict: 'allow' | 'deny' = d.decision
const reasons: string[] = d.reasons
const firstError: string | undefined = d.errors[0]?.policy
const id: string = d.decisionId
const revision: string = d.policyRevision
const wire: DecisionJson = d.toJSON()
const wireId: string = wire.decision_id
engine.check({ agent: 'a', action: 'x', resource: { type: 'T', id: '1' }, now: '2026-11-29T10:00:00Z' })
engine.check({
  principal: { type: 'Agent', id: 'a' },
  action: { type: 'Action', id: 'x' },
  resource: { type: 'T', id: '1' },
  context: { now: '2026-11-29T10:00:00Z' },
})
const batch: Decision[] = engine.checkBatch([request, request])
const text: string = engine.checkJson('{}')
engine.reload('bundle-dir')
engine.reload(new URL('file:///tmp/bundle'))
engine.reload(input)
const rev: string = other.policyRevision + fromUrl.policyRevision

try {
  engine.check(request)
} catch (e) {
  if (e instanceof RequestError) {
    const code: ErrorCode = e.code
    const family: ErrorFamily = e.family
    const where = e.details.map((x) => `${x.location?.file}:${x.location?.line}:${x.location?.column} ${x.message}`)
    console.log(code, family, where)
  } else if (e instanceof BundleError || e instanceof AuthzError) {
    console.log(e.code)
  }
}
const table: readonly { code: ErrorCode; family: ErrorFamily }[] = ERROR_CODES
const live = errorCodes().map((c) => c.code)
const cls: typeof AuthzError = errorClassFor('policy_parse')
const version: string = coreVersion()

const records: DecisionRecord[] = []
engine.setDecisionLog((record) => records.push(record))
engine.setDecisionLog('decisions.jsonl', { maxBytes: 1 << 20 })
engine.setDecisionLog(null)
Engine.load('bundle', { decisionLog: (r: DecisionRecord) => console.log(r.seq, r.would_decision), maxBytes: 4096 })
Engine.fromStrings(input, { decisionLog: '-' })
engine.flushDecisionLog()
flushDecisionLogs()
const head: DecisionLogHead | null = engine.decisionLogHead
const mode: 'enforce' | 'log-only' = engine.mode
// @ts-expect-error: a sink is a function, a path or null
engine.setDecisionLog(42)

const options: AuthorizationMiddlewareOptions = {
  engine,
  agent: 'helpdesk-assistant',
  action: { send_email: 'email:send' },
  resource: (call) => ({ type: 'Customer', id: String(call.args.customer) }),
  onBehalfOf: 'sam',
  input: (call) => ({ to: call.args.to, subject: call.args.subject }),
  now: () => new Date(),
  onDecision: (decision, call) => console.log(decision.allowed, call.name),
  approval: 'interrupt',
}
const middleware = authorizationMiddleware(options)
const shown = (r: ApprovalRequest): string => `${r.tool} ${r.decision_id} ${r.request_digest ?? ''} ${r.approvers.join(',')}`
// @ts-expect-error: approval is "interrupt" or "deny"
authorizationMiddleware({ ...options, approval: 'ask' })

// @ts-expect-error: the agent is a string
engine.check({ agent: 1, action: 'x', resource: { type: 'T', id: '1' } })
// @ts-expect-error: a resource needs an id
engine.check({ agent: 'a', action: 'x', resource: { type: 'T' } })
// @ts-expect-error: decisions are not strings
const wrong: string = engine.check(request)
// @ts-expect-error: `allowed` is read-only
d.allowed = true
// @ts-expect-error: schema is required
Engine.fromStrings({ policies: '' })
// @ts-expect-error: not an error code
const badCode: ErrorCode = 'nope'
// @ts-expect-error: the middleware needs an engine
authorizationMiddleware({ agent: 'a', resource: { type: 'T', id: '1' } })

// Grants and lifecycle operations.
const journaled: Engine = Engine.load('bundle', { journal: '/tmp/changes.jsonl', recover: true })
const grantRequest: GrantRequest = {
  agent: 'ci-bot',
  actions: ['github:push'],
  resource: { type: 'Repo', id: 'acme/api' },
  ttlSeconds: 600,
  task: 'T-42',
  reason: 'hotfix',
  grantedBy: 'alice',
}
const granted: Grant = journaled.grant(grantRequest)
journaled.grant({ ...grantRequest, ttlSeconds: undefined, until: new Date(), starts: '2026-11-29T10:00:00Z' })
const grantId: string = granted.id
const grantedBy: string = granted.grantedBy
const listed: Grant[] = journaled.grants()
journaled.grants('ci-bot')
const policyText: string | null = journaled.grantPolicyText(grantId)
journaled.revoke(grantId, { by: 'alice' })
journaled.suspend('ci-bot', { by: 'alice' })
journaled.reactivate('ci-bot', { by: 'alice' })
journaled.offboard('ci-bot', { by: 'alice' })
journaled.rotateCredential('ci-bot-key', { expires: new Date(), by: 'alice' })
journaled.transferOwner('ci-bot', { owner: 'bob', by: 'alice' })
const task: TaskSpec = { id: 'T-9', agent: 'ci-bot', notBefore: new Date(), notAfter: '2026-11-30T00:00:00Z' }
journaled.addTask(task, { by: 'alice' })
const entry: JournalEntry = journaled.apply({ op: 'suspend', agent: 'ci-bot' }, { by: 'alice' })
const seq: number = entry.seq
const journalPath: string | null = journaled.journalPath
const skipped: string[] = journaled.skippedChanges()
const lifecycleClasses = [LifecycleError, JournalError, SessionError]
// @ts-expect-error: a change needs who makes it
journaled.suspend('ci-bot')
// @ts-expect-error: grantedBy is required
journaled.grant({ agent: 'a', actions: [], resource: { type: 'T', id: '1' }, ttlSeconds: 1, reason: 'r' })
// @ts-expect-error: not an operation
journaled.apply({ op: 'explode' }, { by: 'alice' })

export { listed, policyText, seq, journalPath, skipped, lifecycleClasses, grantedBy }
export { head, mode, allowed, verdict, reasons, firstError, id, revision, wireId, batch, text, rev, table, live, cls, version, middleware, shown, wrong, badCode }

// A manual clock (tests): every check, change and session at its time.
const clock = new ManualClock('2026-11-29T10:00:00Z')
clock.advance(90.5)
clock.set(new Date('2026-11-30T00:00:00Z'))
const clockNow: string = clock.now
void clockNow
Engine.fromStrings({ schema: '', policies: '' }, { clock })
Engine.load('bundle', { clock: null })
// @ts-expect-error a clock is a ManualClock, not a time
Engine.fromStrings({ schema: '', policies: '' }, { clock: '2026-11-29T10:00:00Z' })
// @ts-expect-error seconds are a number
clock.advance('60')

// A fleet: the change store and bundles pulled from a URL.
const where: string = storeInit('env:AGENTAUTHZ_PG')
const fleet = Engine.load('bundle', { store: 'env:AGENTAUTHZ_PG', maxStalenessSeconds: 30 })
const store: StoreStatus = fleet.storeStatus()
const stale: boolean = store.stale
const applied: number = store.last_applied_seq
const stateHash: string = fleet.stateHash()
const pulled: BundleStatus | null = fleet.bundleStatus()
const polled: BundleStatus = fleet.pollBundle()
const pollResult: string | undefined = polled.last_result
export { where, stale, applied, stateHash, pulled, pollResult }
// @ts-expect-error: seconds are a number
Engine.load('bundle', { maxStalenessSeconds: '30' })
// @ts-expect-error: the status may be null (a bundle from a directory)
fleet.bundleStatus().revision
