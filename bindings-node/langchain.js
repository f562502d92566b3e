'use strict'
// agentauthz/langchain (CommonJS): a LangChain.js middleware that checks every tool call.
const { createMiddleware, ToolMessage } = require('langchain')
const { build } = require('./lib/langchain-middleware.js')

module.exports = build({ createMiddleware, ToolMessage })
