// Per-call `check` timing: Node-WASM (the package API, the raw JSON export,
// the raw serde-wasm-bindgen export) versus the native core, same bundle and
// same request. Reports the median over rounds of the mean per call.
//
//   node bench/check.mjs [--native PATH_TO_native_check] [--rounds N] [--calls N]
//                        [--vectors FILE] [--name VECTOR_NAME]
//
// The bundle and request come from a vector file (default: the shared
// tests/vectors/coding-agent.json): the named vector, or the first agent-form
// vector expected to be allowed. `make bench` builds the native example and passes it.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, readBundleDir } from "../tests/lib/bundle.mjs";
import { toApiRequest } from "../tests/lib/vectors.mjs";

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const ROUNDS = Number(opt("rounds", 21));
const CALLS = Number(opt("calls", 500));
const shared = "tests/vectors/coding-agent.json";
const vectorsPath = opt("vectors", existsSync(join(REPO_ROOT, shared)) ? shared : "bindings-wasm/tests/vectors/repo.json");
const nativeBin = opt("native", undefined);

const require = createRequire(import.meta.url);
const api = require("../pkg/node/node.js");
const raw = require("../pkg/node/agentauthz_wasm.js");

const file = JSON.parse(readFileSync(join(REPO_ROOT, vectorsPath), "utf8"));
const wanted = opt("name", undefined);
const vector = file.vectors.find((v) =>
  wanted !== undefined ? v.name === wanted : v.expect.decision === "allow" && v.request?.agent !== undefined && v.bundle === undefined,
);
if (vector === undefined) throw new Error(`${vectorsPath}: no matching vector`);
const spec = vector.bundle ?? file.bundle;
const bundle = typeof spec === "string" ? readBundleDir(spec) : spec;
const wire = vector.request;
const wireText = JSON.stringify(wire);
const request = toApiRequest(wire);

const engine = api.Engine.fromStrings(bundle, { trustCallerTime: true });
const first = engine.check(request);
if (first.decision !== vector.expect.decision) throw new Error(`unexpected decision ${JSON.stringify(first)}`);
const rawEngine = raw.WasmEngine.fromStringsJson(JSON.stringify(bundle), true);
const BATCH = 100;
const batch = Array.from({ length: BATCH }, () => request);

// [name, one call, decisions per call]
const variants = [
  ["wasm: engine.check (package API)", () => engine.check(request), 1],
  [`wasm: engine.checkBatch x${BATCH}, per decision`, () => engine.checkBatch(batch), BATCH],
  ["wasm raw: checkJson (JSON text in/out)", () => rawEngine.checkJson(wireText), 1],
  ["wasm raw: checkValue (serde-wasm-bindgen)", () => rawEngine.checkValue(wire), 1],
];

// Rounds interleave the variants, so machine noise hits them alike.
const samples = variants.map(() => []);
for (let r = -1; r < ROUNDS; r++) {
  variants.forEach(([, f, per], v) => {
    const calls = Math.max(1, Math.round(CALLS / per));
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) f();
    const ns = Number(process.hrtime.bigint() - t0) / (calls * per);
    if (r >= 0) samples[v].push(ns); // round -1 warms up (JIT tiers, caches)
  });
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = Object.fromEntries(variants.map(([name], v) => [name, median(samples[v])]));

if (nativeBin !== undefined) {
  const dir = mkdtempSync(join(tmpdir(), "agentauthz-bench-"));
  try {
    writeFileSync(join(dir, "bundle.json"), JSON.stringify(bundle));
    writeFileSync(join(dir, "request.json"), wireText);
    const out = JSON.parse(
      execFileSync(nativeBin, [join(dir, "bundle.json"), join(dir, "request.json"), String(ROUNDS), String(CALLS)], {
        encoding: "utf8",
      }),
    );
    if (out.decision.decision !== first.decision || JSON.stringify(out.decision.reasons) !== JSON.stringify(first.reasons)) {
      throw new Error(`native and WASM disagree: ${JSON.stringify(out.decision)} vs ${JSON.stringify(first)}`);
    }
    results["native: ffi::check_json"] = out.check_json_ns;
    results["native: Engine::check (typed)"] = out.check_typed_ns;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

console.log(`check timing: ${vectorsPath} "${vector.name}", median of ${ROUNDS} rounds x ${CALLS} calls (node ${process.version})`);
console.log(`request: ${wireText}`);
console.log(`decision: ${first.decision} ${JSON.stringify(first.reasons)}`);
const base = results["native: Engine::check (typed)"];
for (const [name, ns] of Object.entries(results)) {
  const ratio = base ? `  (${(ns / base).toFixed(2)}x native typed)` : "";
  console.log(`  ${name.padEnd(46)} ${(ns / 1000).toFixed(2).padStart(8)} µs${ratio}`);
}
