'use strict'
// agentauthz/mcp (CommonJS): the guard for servers built with @modelcontextprotocol/sdk.
const { buildMcp } = require('./lib/index.js')
const { Engine } = require('./index.js')

module.exports = buildMcp((engine) => engine instanceof Engine)
