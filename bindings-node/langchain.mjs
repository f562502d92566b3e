// agentauthz/langchain (ESM): a LangChain.js middleware that checks every tool call.
import { createMiddleware, ToolMessage } from 'langchain'
import impl from './lib/langchain-middleware.js'

export const { authorizationMiddleware } = impl.build({ createMiddleware, ToolMessage })
