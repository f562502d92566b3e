'use strict'
// The support-agent example bundle, as every framework test maps its tool
// calls: the same three tools, the same identity, the same resource mapping.

const path = require('node:path')
const { Engine } = require('../..')

const BUNDLE = path.join(__dirname, '..', '..', '..', 'policies-examples', 'support-agent')
const NOW = '2026-11-29T10:00:00Z' // inside sam's case CASE-5512 (09:00-12:00)
const ACTIONS = { read_customer: 'crm:read-customer', send_email: 'email:send', refund: 'billing:refund' }

/** An engine on the bundle, and the decision records it writes. */
function supportEngine() {
  const engine = Engine.load(BUNDLE, { trustCallerTime: true })
  const records = []
  engine.setDecisionLog((record) => records.push(record))
  return { engine, records }
}

/** The adapter options of the support assistant; `extra` overrides. */
function supportOptions(engine, decisions, extra = {}) {
  return {
    engine,
    agent: 'helpdesk-assistant',
    onBehalfOf: 'sam',
    task: 'CASE-5512',
    credential: 'helpdesk-oauth',
    action: ACTIONS,
    resource: (call) => (call.name === 'refund' ? { type: 'Order', id: call.args.order } : { type: 'Customer', id: call.args.customer }),
    input: (call) => {
      if (call.name === 'read_customer') return undefined // crm:read-customer takes no input
      const { customer, order, ...input } = call.args // the resource is not part of the input
      return input
    },
    now: NOW,
    onDecision: (decision, call) => decisions.push([call.name, decision]),
    ...extra,
  }
}

/** The check the support assistant's `refund` tool call maps to (as `engine.check` takes it). */
function refundRequest(order, input) {
  return {
    agent: 'helpdesk-assistant',
    action: 'billing:refund',
    resource: { type: 'Order', id: order },
    task: 'CASE-5512',
    onBehalfOf: 'sam',
    credential: 'helpdesk-oauth',
    now: NOW,
    context: { input },
  }
}

module.exports = { BUNDLE, NOW, ACTIONS, supportEngine, supportOptions, refundRequest }
