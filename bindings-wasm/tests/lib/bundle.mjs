// Reads a bundle directory into the `fromStrings` input, as the WASM package
// has no filesystem: schema.cedarschema, policies/*.cedar as {name: text},
// inventory.yaml|yml|json, agentauthz.toml when present.
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (bindings-wasm/tests/lib → ../../..). */
export const REPO_ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));

export function readBundleDir(dir) {
  const abs = resolve(REPO_ROOT, dir);
  const read = (name) => readFileSync(join(abs, name), "utf8");
  const schemaName = ["schema.cedarschema", "schema.cedarschema.json"].find((n) => existsSync(join(abs, n)));
  if (schemaName === undefined) throw new Error(`${dir}: no schema.cedarschema`);
  const policies = {};
  for (const name of readdirSync(join(abs, "policies")).sort()) {
    if (name.endsWith(".cedar")) policies[name] = read(join("policies", name));
  }
  const input = { schema: read(schemaName), policies };
  const inventory = ["inventory.yaml", "inventory.yml", "inventory.json"].find((n) => existsSync(join(abs, n)));
  if (inventory !== undefined) input.inventory = read(inventory);
  if (existsSync(join(abs, "agentauthz.toml"))) input.config = read("agentauthz.toml");
  return input;
}

/** Every vector file: the shared ones in tests/vectors/ and this binding's own. */
export function vectorFiles() {
  const dirs = ["tests/vectors", "bindings-wasm/tests/vectors"];
  const files = [];
  for (const dir of dirs) {
    const abs = join(REPO_ROOT, dir);
    if (!existsSync(abs)) continue;
    for (const name of readdirSync(abs).sort()) {
      if (name.endsWith(".json")) files.push(`${dir}/${name}`);
    }
  }
  return files;
}

/** The shared scenario files (tests/vectors/scenarios/*.json), repository-relative. */
export function scenarioFiles() {
  const dir = "tests/vectors/scenarios";
  const abs = join(REPO_ROOT, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs).filter((n) => n.endsWith(".json")).sort().map((n) => `${dir}/${n}`);
}
