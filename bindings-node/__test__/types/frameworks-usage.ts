// The typed surface of agentauthz/ai-sdk and agentauthz/openai-agents, checked by tsc.
import { Agent, run, tool as agentsTool } from '@openai/agents'
import { jsonSchema, tool } from 'ai'
import { AuthzError, Engine } from 'agentauthz'
import { authorizeTools, ToolCallRefused } from 'agentauthz/ai-sdk'
import { authorizationGuardrail, guardAgentTools, type PendingApproval, pendingApprovals } from 'agentauthz/openai-agents'

declare const engine: Engine

const tools = authorizeTools(
  {
    refund: tool({
      description: 'Refund an order',
      inputSchema: jsonSchema<{ order: string; amount: string }>({ type: 'object' }),
      execute: async ({ order, amount }) => `refunded ${amount} on ${order}`,
    }),
  },
  {
    engine,
    agent: 'helpdesk-assistant',
    action: { refund: 'billing:refund' },
    resource: (call) => ({ type: 'Order', id: String((call.args as { order: string }).order) }),
    input: ({ args }) => ({ ...(args as Record<string, unknown>) }),
    onDecision: (decision) => void decision.decisionId,
    onError: 'deny',
  },
)
const refund: typeof tools.refund = tools.refund
void refund
const refused: ToolCallRefused | null = null
void refused

const guardrail = authorizationGuardrail({
  engine,
  session: async () => 'v4.public.token',
  audience: 'support',
  resource: { type: 'Customer', id: 'c-1001' },
  action: new Map([['read_customer', 'crm:read-customer']]),
  onError: (error, call) => void [error instanceof AuthzError ? error.code : String(error), call.name],
})
const agent = new Agent({
  name: 'support',
  tools: [
    agentsTool({
      name: 'read_customer',
      description: 'Read a customer',
      parameters: { type: 'object', properties: { customer: { type: 'string' } }, required: ['customer'], additionalProperties: false },
      strict: true,
      execute: async () => 'ok',
      inputGuardrails: [guardrail],
    }),
  ],
})
const same: typeof agent = guardAgentTools(agent, { engine, agent: 'helpdesk-assistant', resource: { type: 'Customer', id: 'c-1001' } })
void same
const paused = guardAgentTools(new Agent({ name: 'p' }), { engine, agent: 'a', resource: { type: 'T', id: '1' }, approval: 'interrupt' })
export async function approveAll(by: string): Promise<void> {
  const result = await run(paused, 'go')
  const waiting: PendingApproval[] = pendingApprovals(result)
  const state = result.state
  for (const p of waiting) {
    engine.approve(p.decision, { by })
    state.approve(p.item)
  }
  await run(paused, state)
}

// @ts-expect-error: approval is "deny" or "interrupt"
guardAgentTools(agent, { engine, agent: 'a', resource: { type: 'T', id: '1' }, approval: 'ask' })

// @ts-expect-error: onError is "deny", "throw" or a function
authorizationGuardrail({ engine, agent: 'a', resource: { type: 'T', id: '1' }, onError: 'ignore' })
