// Node drivers of `make bench`: agentauthz's Node addon, agentauthz's WASM
// package (under Node) and @cedar-policy/cedar-wasm's stateful API.
//
//   node node_bench.mjs --workload DIR --impl IMPL [--module PATH] [--seconds S] [--min-calls N] [--out FILE]
//
// IMPL is one of
//   agentauthz-node   Engine.load(bundle).check(request)            --module bindings-node
//   agentauthz-wasm   Engine.fromStrings({...}).check(request)      --module bindings-wasm/pkg/node/node.js
//                     (both: --form agent|cedar|cedar-plain picks requests.jsonl, requests-cedar.jsonl
//                     with __extn/__entity escapes, or requests-cedar-plain.jsonl with plain strings)
//   agentauthz-node-threads  decisions/s with 1 and 2 worker_threads, each with its own
//                     Engine.load of the bundle                     --module bindings-node
//   cedar-wasm        statefulIsAuthorized with a preparsed policy set and schema; the
//                     entities go in on every call (the API has no entity handle)
//
// The timing loop is the one of bench/src/measure.rs: warm up, one pass over the
// requests in order timing each call and recording its decision, then further
// passes until the time budget is spent. Output: one JSON object (bench/README.md).
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker, isMainThread, parentPort, workerData } from "node:worker_threads";

const HERE = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : fallback;
};
const workload = resolve(opt("workload", ""));
const impl = opt("impl", "");
const seconds = Number(opt("seconds", "5"));
const minCalls = Number(opt("min-calls", "3"));
const out = opt("out", undefined);
const form = opt("form", "agent");
const FORMS = {
  agent: ["requests.jsonl", "", ""],
  cedar: ["requests-cedar.jsonl", "-cedar", ", Cedar form (__extn)"],
  "cedar-plain": ["requests-cedar-plain.jsonl", "-cedar-plain", ", Cedar form (plain strings)"],
};
if (!FORMS[form]) {
  console.error(`unknown --form ${form}`);
  process.exit(2);
}

const read = (...parts) => readFileSync(join(...parts), "utf8");
const lines = (path) =>
  read(path)
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l));

function decisionKey(allow, reasons) {
  return `${allow ? "allow" : "deny"}|${[...reasons].sort().join(",")}`;
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  const rank = Math.min(Math.max(Math.ceil(p * sorted.length), 1), sorted.length);
  return sorted[rank - 1];
}

function measure(n, call, key) {
  const budget = BigInt(Math.round(seconds * 1e9));
  const clock = process.hrtime.bigint;
  const warmStart = clock();
  for (let i = 0; i < Math.min(n, 50); i++) {
    call(i);
    if (clock() - warmStart > budget / 10n) break;
  }
  const samples = [];
  const decisions = [];
  let errors = 0;
  let spent = 0n;
  for (let i = 0; !(spent >= budget && samples.length >= minCalls); i++) {
    const idx = i % n;
    let result;
    let failed = false;
    const t0 = clock();
    try {
      result = call(idx);
    } catch {
      failed = true;
    }
    const dt = clock() - t0;
    spent += dt;
    samples.push(Number(dt));
    if (i < n) {
      if (failed) {
        errors++;
        decisions.push("error|");
      } else {
        decisions.push(key(result));
      }
    }
  }
  return { samples, decisions, errors };
}

function summary(name, label, setupMs, { samples, decisions, errors }) {
  const sorted = Float64Array.from(samples).sort();
  const total = samples.reduce((a, b) => a + b, 0);
  return {
    impl: name,
    label,
    workload: basename(workload),
    setup_ms: setupMs,
    calls: samples.length,
    p50_ns: percentile(sorted, 0.5),
    p99_ns: percentile(sorted, 0.99),
    mean_ns: samples.length ? total / samples.length : 0,
    per_sec: total ? (samples.length * 1e9) / total : 0,
    errors,
    decisions,
  };
}

/** The bundle as `fromStrings` input: schema, policies/*.cedar by name, inventory. */
function bundleStrings(dir) {
  const policies = {};
  for (const name of readdirSync(join(dir, "policies")).sort()) {
    if (name.endsWith(".cedar")) policies[name] = read(dir, "policies", name);
  }
  const input = { schema: read(dir, "schema.cedarschema"), policies };
  for (const name of ["inventory.yaml", "inventory.yml", "inventory.json"]) {
    if (existsSync(join(dir, name))) input.inventory = read(dir, name);
  }
  if (existsSync(join(dir, "agentauthz.toml"))) input.config = read(dir, "agentauthz.toml");
  return input;
}

function runAgentauthz() {
  const module = require(resolve(opt("module", "")));
  const bundleDir = join(workload, "bundle");
  const t0 = performance.now();
  const engine =
    impl === "agentauthz-node"
      ? module.Engine.load(bundleDir, { trustCallerTime: true })
      : module.Engine.fromStrings(bundleStrings(bundleDir), { trustCallerTime: true });
  const setupMs = performance.now() - t0;
  const [file, suffix, labelSuffix] = FORMS[form];
  const requests = lines(join(workload, file));
  const m = measure(
    requests.length,
    (i) => engine.check(requests[i]),
    (d) => decisionKey(d.allowed, d.reasons),
  );
  const label =
    impl === "agentauthz-node"
      ? "agentauthz Node Engine.check (napi addon)"
      : "agentauthz WASM Engine.check (under Node)";
  return summary(impl + suffix, label + labelSuffix, setupMs, m);
}

// A worker of agentauthz-node-threads: loads its own engine, says so, waits
// for the common start, then checks until the stop flag is set.
function threadWorker() {
  const { module: path, bundleDir, flags } = workerData;
  const module = require(path);
  const engine = module.Engine.load(bundleDir, { trustCallerTime: true });
  const requests = lines(join(workload, "requests.jsonl"));
  const n = requests.length;
  const state = new Int32Array(flags);
  for (let i = 0; i < Math.min(n, 50); i++) engine.check(requests[i]);
  Atomics.add(state, 1, 1);
  Atomics.notify(state, 1);
  Atomics.wait(state, 0, 0);
  let i = workerData.offset;
  let calls = 0;
  let errors = 0;
  while (Atomics.load(state, 0) === 1) {
    try {
      engine.check(requests[i % n]);
    } catch {
      errors++;
    }
    calls++;
    i++;
  }
  parentPort.postMessage({ calls, errors });
}

async function runThreads() {
  const path = resolve(opt("module", ""));
  const bundleDir = join(workload, "bundle");
  const n = lines(join(workload, "requests.jsonl")).length;
  const results = [];
  let setupMs = 0;
  for (const threads of [1, 2]) {
    const flags = new SharedArrayBuffer(8);
    const state = new Int32Array(flags);
    const t0 = performance.now();
    const workers = [];
    const done = [];
    for (let t = 0; t < threads; t++) {
      const w = new Worker(fileURLToPath(import.meta.url), {
        argv: process.argv.slice(2),
        workerData: { module: path, bundleDir, flags, offset: Math.floor((t * n) / threads) },
      });
      done.push(
        new Promise((ok, fail) => {
          w.once("message", ok);
          w.once("error", fail);
        }),
      );
      workers.push(w);
    }
    while (Atomics.load(state, 1) < threads) await new Promise((r) => setTimeout(r, 5));
    setupMs = Math.max(setupMs, performance.now() - t0);
    const start = performance.now();
    Atomics.store(state, 0, 1);
    Atomics.notify(state, 0);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    Atomics.store(state, 0, 2);
    const counts = await Promise.all(done);
    const secs = (performance.now() - start) / 1000;
    const calls = counts.reduce((a, c) => a + c.calls, 0);
    const errors = counts.reduce((a, c) => a + c.errors, 0);
    results.push({ threads, calls, seconds: secs, per_sec: calls / secs, errors });
    await Promise.all(workers.map((w) => w.terminate()));
  }
  return {
    impl: "agentauthz-node-threads",
    kind: "threads",
    label: "agentauthz Node Engine.check, one engine per worker thread",
    workload: basename(workload),
    setup_ms: setupMs,
    results,
  };
}

function runCedarWasm() {
  const cedar = require(join(HERE, "..", "node_modules", "@cedar-policy", "cedar-wasm", "nodejs", "cedar_wasm.js"));
  const dir = join(workload, "cedar");
  const t0 = performance.now();
  const parts = cedar.policySetTextToParts(read(dir, "policies.cedar"));
  if (parts.type !== "success") throw new Error(JSON.stringify(parts.errors));
  // One entry per policy, named by its @id, so the reasons are the same ids.
  const staticPolicies = {};
  for (const text of parts.policies) {
    const m = /@id\("([^"]*)"\)/.exec(text);
    if (!m) throw new Error(`policy without @id: ${text.slice(0, 80)}`);
    staticPolicies[m[1]] = text;
  }
  const ps = cedar.preparsePolicySet("bench", { staticPolicies });
  if (ps.type !== "success") throw new Error(JSON.stringify(ps.errors));
  const sc = cedar.preparseSchema("bench", read(dir, "schema.cedarschema"));
  if (sc.type !== "success") throw new Error(JSON.stringify(sc.errors));
  const entities = JSON.parse(read(dir, "entities.json"));
  const setupMs = performance.now() - t0;
  const requests = lines(join(workload, "requests-cedar.jsonl"));
  const m = measure(
    requests.length,
    (i) => {
      const r = requests[i];
      const answer = cedar.statefulIsAuthorized({
        principal: r.principal,
        action: r.action,
        resource: r.resource,
        context: r.context,
        preparsedSchemaName: "bench",
        validateRequest: true,
        preparsedPolicySetId: "bench",
        entities,
      });
      if (answer.type !== "success") throw new Error(JSON.stringify(answer.errors));
      return answer.response;
    },
    (r) => decisionKey(r.decision === "allow", r.diagnostics.reason),
  );
  return summary(
    "cedar-wasm",
    "@cedar-policy/cedar-wasm statefulIsAuthorized (preparsed policies + schema)",
    setupMs,
    m,
  );
}

let result;
if (!isMainThread) {
  threadWorker();
  process.exit(0);
} else if (impl === "agentauthz-node-threads") {
  result = await runThreads();
} else if (impl === "agentauthz-node" || impl === "agentauthz-wasm") {
  result = runAgentauthz();
} else if (impl === "cedar-wasm") {
  result = runCedarWasm();
} else {
  console.error(`unknown --impl ${impl}`);
  process.exit(2);
}
const text = JSON.stringify(result);
if (out) writeFileSync(out, text);
else console.log(text);
