// The package under test: the built pkg/, or, in the install check
// (scripts/install-check.sh), the `agentauthz-wasm` installed from its tarball
// into the project AGENTAUTHZ_WASM_PROJECT (resolved through its "exports").
import { createRequire } from "node:module";
import { join } from "node:path";

const project = process.env.AGENTAUTHZ_WASM_PROJECT;
export const api = project
  ? createRequire(join(project, "package.json"))("agentauthz-wasm")
  : createRequire(import.meta.url)("../../pkg/node/node.js");
