// The ESM flavour: default and named imports of both entry points.
import agentauthz, { Engine, type Decision } from 'agentauthz'
import { authorizationMiddleware } from 'agentauthz/langchain'

const engine = agentauthz.Engine.load('bundle')
const same: typeof Engine = agentauthz.Engine
const d: Decision = engine.check({ agent: 'a', action: 'x', resource: { type: 'T', id: '1' } })
const m = authorizationMiddleware({ engine, agent: 'a', resource: { type: 'T', id: '1' } })
// @ts-expect-error: not an export
agentauthz.nope()

export { same, d, m }
