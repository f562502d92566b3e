// agentauthz/ai-sdk (ESM): every tool of a Vercel AI SDK tool set is checked before it runs.
import { Engine } from './index.js'
import shared from './lib/index.js'

export const { authorizeTools, ToolCallRefused } = shared.buildAiSdk((engine) => engine instanceof Engine)
