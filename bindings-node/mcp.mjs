// agentauthz/mcp (ESM): the guard for servers built with @modelcontextprotocol/sdk.
import { Engine } from './index.js'
import shared from './lib/index.js'

export const { guardMcpServer, fixedAgent, sessionFromMeta, accessTokenAgent, bearerToken, SESSION_META_KEY, APPROVAL_META_KEY } =
  shared.buildMcp((engine) => engine instanceof Engine)
