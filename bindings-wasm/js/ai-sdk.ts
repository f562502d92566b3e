// agentauthz-wasm/ai-sdk: every tool of a Vercel AI SDK tool set is checked
// by a WASM Engine before it runs (browser and edge; the web build needs
// `await init()` before the Engine is made, as always).
import { Engine } from "./api.js";
import { buildAiSdk } from "./shared/index.js";

export type { AiSdkExecuteOptions, AiSdkTool } from "./shared/index.js";
export const { authorizeTools, ToolCallRefused } = buildAiSdk((engine) => engine instanceof Engine);
