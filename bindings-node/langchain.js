'use strict'
// agentauthz/langchain (CommonJS): a LangChain.js middleware that checks every tool call.
const { createMiddleware, ToolMessage } = require('langchain')
const { buildLangChain } = require('./lib/index.js')
const { Engine } = require('./index.js')

// LangGraph's interrupt pauses a call that needs approval; without the
// package such a call is refused instead.
let langgraph = {}
try {
  langgraph = require('@langchain/langgraph')
} catch (e) {
  if (e?.code !== 'MODULE_NOT_FOUND') throw e
}
const { interrupt, isGraphBubbleUp } = langgraph

module.exports = buildLangChain({ createMiddleware, ToolMessage, interrupt, isGraphBubbleUp }, (engine) => engine instanceof Engine)
