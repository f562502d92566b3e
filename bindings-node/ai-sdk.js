'use strict'
// agentauthz/ai-sdk (CommonJS): every tool of a Vercel AI SDK tool set is checked before it runs.
const { buildAiSdk } = require('./lib/index.js')
const { Engine } = require('./index.js')

module.exports = buildAiSdk((engine) => engine instanceof Engine)
