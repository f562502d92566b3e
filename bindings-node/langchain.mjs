// agentauthz/langchain (ESM): a LangChain.js middleware that checks every tool call.
import { createMiddleware, ToolMessage } from 'langchain'
import { Engine } from './index.js'
import shared from './lib/index.js'

export const { authorizationMiddleware } = shared.buildLangChain({ createMiddleware, ToolMessage }, (engine) => engine instanceof Engine)
