// agentauthz-wasm/openai-agents: a tool input guardrail of the OpenAI Agents
// SDK (`@openai/agents`) that checks every tool call with a WASM Engine.
import { Engine } from "./api.js";
import { buildOpenAIAgents } from "./shared/index.js";

export const { authorizationGuardrail, guardAgentTools, pendingApprovals } = buildOpenAIAgents((engine) => engine instanceof Engine);
