'use strict'
// agentauthz/openai-agents (CommonJS): a tool input guardrail of the OpenAI Agents SDK that checks every tool call.
const { buildOpenAIAgents } = require('./lib/index.js')
const { Engine } = require('./index.js')

module.exports = buildOpenAIAgents((engine) => engine instanceof Engine)
