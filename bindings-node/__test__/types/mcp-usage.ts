// The MCP surface, compiled with `tsc --noEmit` against index.d.ts and mcp.d.ts.
// The lines marked with ts-expect-error must fail to type-check.
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js'
import { Decision, Engine, type McpSchema, schemaFromMcp } from 'agentauthz'
import {
  APPROVAL_META_KEY,
  accessTokenAgent,
  fixedAgent,
  guardMcpServer,
  type IdentityResolver,
  SESSION_META_KEY,
  sessionFromMeta,
} from 'agentauthz/mcp'

const engine: Engine = Engine.load('bundle')
const server: McpServer = guardMcpServer(new McpServer({ name: 'fs', version: '1' }), {
  engine,
  server: 'fs',
  identity: fixedAgent('dev-agent'),
  onDecision: (method, tool, id, outcome) => console.log(method, tool, id, outcome instanceof Decision ? outcome.decision : outcome.code),
})
const d: Decision = engine.mcpCheckCall({ identity: { agent: 'dev-agent' }, server: 'fs', tool: 'read_file', arguments: { path: '/a' } })
const listed: string[] = engine.mcpListableTools({ identity: { session: { token: 't', audience: 'mcp' } }, server: 'fs', tools: ['read_file'] })
const schema: McpSchema = schemaFromMcp({ tools: [], server: 'fs' })
const actions: string[] = schema.actions
const resolvers: IdentityResolver[] = [
  sessionFromMeta({ audience: 'mcp' }),
  accessTokenAgent({ resource: new URL('https://mcp.example/'), agentOf: (info) => info.clientId }),
  async (request) => (request.params?.[SESSION_META_KEY] ? { agent: 'a' } : null),
]
const t: Decision = engine.checkToolCall({ tool: 'refund', action: null, agent: 'a', resource: { type: 'A', id: 'x' }, input: { n: 1.5 } })
// @ts-expect-error: a tool call names its tool
engine.checkToolCall({ action: 'refund', agent: 'a', resource: { type: 'A', id: 'x' } })
// @ts-expect-error: an identity is an agent or a session
engine.mcpCheckCall({ identity: { user: 'x' }, server: 'fs', tool: 't' })
const approving: McpServer = guardMcpServer(new McpServer({ name: 'fs', version: '1' }), {
  engine,
  server: 'fs',
  identity: fixedAgent('dev-agent'),
  elicit: true,
  approver: async (_request, extra) => (typeof extra.authInfo?.clientId === 'string' ? 'alice' : undefined),
})
const approvalKey: 'agentauthz/approval' = APPROVAL_META_KEY
// @ts-expect-error: an approver names a user (a string), not a boolean
guardMcpServer(server, { engine, server: 'fs', identity: fixedAgent('a'), approver: () => true })
// @ts-expect-error: the server's name is required
guardMcpServer(server, { engine, identity: fixedAgent('a') })
export { actions, approvalKey, approving, d, listed, resolvers, t }
