'use strict'
// agentauthz/tracing (CommonJS): a span per check in the host's OpenTelemetry trace.
// @opentelemetry/api is loaded when traceChecks is called, not before.
const { buildTracing } = require('./lib/index.js')
const { Engine } = require('./index.js')
const { version } = require('./package.json')

function loadApi() {
  try {
    return require('@opentelemetry/api')
  } catch (e) {
    throw new Error('agentauthz/tracing needs the OpenTelemetry API package: npm install @opentelemetry/api (checks without tracing need nothing)', { cause: e })
  }
}

module.exports = buildTracing(loadApi, (engine) => engine instanceof Engine, version)
