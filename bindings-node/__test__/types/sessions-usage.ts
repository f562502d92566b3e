// Agent sessions, compiled with `tsc --noEmit` against index.d.ts. The lines marked
// with ts-expect-error must fail to type-check.
import {
  Decision,
  Engine,
  generateSessionKey,
  type IssuedSession,
  type SessionClaims,
  type SessionKeyPair,
  type SessionRequest,
} from 'agentauthz'

const engine: Engine = Engine.load('bundle')
const key: SessionKeyPair = generateSessionKey('k1')
engine.setSessionKeys({ signing: { kid: key.kid, key: key.secret } })
const issued: IssuedSession = engine.issueSession({ agent: 'ci-bot', task: 'T-42', ttlSeconds: 300 })
const claims: SessionClaims = engine.verifySession(issued.token, { audience: 'tools' })
const expires: number = claims.expiresAt
const request: SessionRequest = { session: issued.token, action: 'github:push', resource: { type: 'Repo', id: 'a' } }
const d: Decision = engine.check(request)
engine.revokeSession(claims.sessionId, { by: 'alice' })
const verifier: Engine = Engine.load('bundle')
verifier.setSessionKeys({ verifying: engine.sessionPublicKeys() })
// @ts-expect-error: revoking needs {by}
engine.revokeSession(claims.sessionId)
// @ts-expect-error: ttlSeconds is a number
engine.issueSession({ agent: 'a', ttlSeconds: '300' })
// @ts-expect-error: an agent is required
engine.issueSession({ task: 'T-42' })
void [expires, d]
