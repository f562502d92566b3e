'use strict'
// agentauthz/langchain (CommonJS): a LangChain.js middleware that checks every tool call.
const { createMiddleware, ToolMessage } = require('langchain')
const { buildLangChain } = require('./lib/index.js')
const { Engine } = require('./index.js')

module.exports = buildLangChain({ createMiddleware, ToolMessage }, (engine) => engine instanceof Engine)
