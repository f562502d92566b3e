// Entry point of the browser build (ES module): call `await init()` once, then
// use `Engine`. `init` fetches `agentauthz_wasm_bg.wasm` from next to this file
// unless given a URL, a Response, bytes or a compiled `WebAssembly.Module`.
import initNative, { initSync as initSyncNative } from "./agentauthz_wasm.js";
import type { InitInput } from "./agentauthz_wasm.js";
import * as native from "./agentauthz_wasm.js";
import { bindNative } from "./api.js";

bindNative(native);

export * from "./api.js";
export type { InitInput };

/** Loads and instantiates the WASM module. Safe to call more than once. */
export default async function init(input?: InitInput | Promise<InitInput>): Promise<void> {
  await initNative(input === undefined ? undefined : { module_or_path: input });
}

/** Instantiates the WASM module synchronously from bytes or a compiled module. */
export function initSync(module: BufferSource | WebAssembly.Module): void {
  initSyncNative({ module });
}
