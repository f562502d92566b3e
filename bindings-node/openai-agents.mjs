// agentauthz/openai-agents (ESM): a tool input guardrail of the OpenAI Agents SDK that checks every tool call.
import { Engine } from './index.js'
import shared from './lib/index.js'

export const { authorizationGuardrail, guardAgentTools, pendingApprovals, DEFAULT_GUARDRAIL_NAME } = shared.buildOpenAIAgents((engine) => engine instanceof Engine)
