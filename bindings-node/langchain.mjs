// agentauthz/langchain (ESM): a LangChain.js middleware that checks every tool call.
import { createMiddleware, ToolMessage } from 'langchain'
import { Engine } from './index.js'
import shared from './lib/index.js'

// LangGraph's interrupt pauses a call that needs approval; without the
// package such a call is refused instead.
let langgraph = {}
try {
  langgraph = await import('@langchain/langgraph')
} catch (e) {
  if (e?.code !== 'ERR_MODULE_NOT_FOUND') throw e
}
const { interrupt, isGraphBubbleUp } = langgraph

export const { authorizationMiddleware } = shared.buildLangChain(
  { createMiddleware, ToolMessage, interrupt, isGraphBubbleUp },
  (engine) => engine instanceof Engine,
)
