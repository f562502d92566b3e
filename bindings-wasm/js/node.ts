// Entry point of the Node build (CommonJS): the wasm-bindgen `nodejs` output
// instantiates the module synchronously on require.
import * as native from "./agentauthz_wasm.js";
import { bindNative } from "./api.js";

bindNative(native);

export * from "./api.js";
