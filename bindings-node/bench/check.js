#!/usr/bin/env node
'use strict'
// Per-call `check` from Node against the same call in Rust, in one run.
//
//   node bench/check.js [--bundle DIR] [--request FILE] [--samples N] [--batch N] [--rounds N] [--json]
//
// Defaults: the support-agent example bundle and an `email:send` request with
// tool input, on-behalf-of user, task and credential. Each figure is the median,
// over SAMPLES samples, of the mean time of one call in a batch of BATCH calls.
// The Rust side is the `check-bench` example of this crate (bench/check.rs),
// built with the shared target dir. Rust and Node alternate for ROUNDS rounds
// (machine load drifts); the report gives the median of the rounds.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { Engine } = require('..')

const PACKAGE_DIR = path.resolve(__dirname, '..')
const REPO_ROOT = path.resolve(PACKAGE_DIR, '..')

function parseArgs(argv) {
  const opts = {
    bundle: path.join(REPO_ROOT, 'policies-examples', 'support-agent'),
    request: null,
    samples: 100,
    batch: 200,
    rounds: 3,
    json: false,
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--json') opts.json = true
    else if (['--bundle', '--request', '--samples', '--batch', '--rounds'].includes(a)) opts[a.slice(2)] = argv[++i]
    else throw new Error(`unknown argument ${a}`)
  }
  opts.samples = Number(opts.samples)
  opts.batch = Number(opts.batch)
  opts.rounds = Number(opts.rounds)
  return opts
}

const DEFAULT_REQUEST = {
  agent: 'helpdesk-assistant',
  action: 'email:send',
  resource: { type: 'Customer', id: 'c-1001' },
  task: 'CASE-5512',
  on_behalf_of: 'sam',
  credential: 'helpdesk-oauth',
  context: { input: { to: 'billing@northwind.example', subject: 'Your refund', body: 'We refunded the duplicate charge.' } },
  now: '2026-11-29T10:00:00Z',
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]

/** The mean time of one call in a batch of `batch`, over `samples` batches, in ns:
 * the median and the minimum batch (the least disturbed on a busy machine). */
function timeNs(samples, batch, f) {
  for (let i = 0; i < batch * 10; i++) f()
  const means = []
  for (let s = 0; s < samples; s++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < batch; i++) f()
    means.push(Number(process.hrtime.bigint() - start) / batch)
  }
  means.sort((a, b) => a - b)
  return { median: means[means.length >> 1], min: means[0] }
}

/** Builds the Rust half and returns a function that runs one round of it. */
function rustBench(opts, requestFile) {
  const host = /host: (\S+)/.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))[1]
  const env = {
    ...process.env,
    CARGO_TARGET_DIR: process.env.CARGO_TARGET_DIR ?? path.join(REPO_ROOT, 'target'),
    CARGO_BUILD_TARGET: process.env.CARGO_BUILD_TARGET ?? host,
  }
  execFileSync('cargo', ['build', '--release', '-p', 'agentauthz-node', '--example', 'check-bench'], {
    cwd: PACKAGE_DIR,
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const bin = path.join(env.CARGO_TARGET_DIR, env.CARGO_BUILD_TARGET, 'release', 'examples', 'check-bench')
  return () => JSON.parse(execFileSync(bin, [opts.bundle, requestFile, String(opts.samples), String(opts.batch)], { encoding: 'utf8' }))
}

function main() {
  const opts = parseArgs(process.argv.slice(2))
  const wire = opts.request ? JSON.parse(fs.readFileSync(opts.request, 'utf8')) : DEFAULT_REQUEST
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'agentauthz-bench-'))
  const requestFile = path.join(tmp, 'request.json')
  fs.writeFileSync(requestFile, JSON.stringify(wire))
  try {
    const runRust = rustBench(opts, requestFile)

    const engine = Engine.load(opts.bundle, { trustCallerTime: true })
    // The JS spelling of the same request, as an app would write it.
    const js = { ...wire }
    if ('on_behalf_of' in js) {
      js.onBehalfOf = js.on_behalf_of
      delete js.on_behalf_of
    }
    const text = JSON.stringify(wire)
    const decision = engine.check(js)

    const rounds = []
    for (let r = 0; r < opts.rounds; r++) {
      const rust = runRust()
      if (decision.decision !== rust.decision || JSON.stringify(decision.reasons) !== JSON.stringify(rust.reasons)) {
        throw new Error(`Node and Rust disagree: ${JSON.stringify(decision)} vs ${JSON.stringify(rust)}`)
      }
      const nodeJson = timeNs(opts.samples, opts.batch, () => engine.checkJson(text))
      const nodeCheck = timeNs(opts.samples, opts.batch, () => engine.check(js))
      rounds.push({
        rust_check_typed_us: rust.check_typed_ns / 1000,
        rust_check_json_us: rust.check_json_ns / 1000,
        node_check_json_us: nodeJson.median / 1000,
        node_check_us: nodeCheck.median / 1000,
        min_rust_check_typed_us: rust.check_typed_min_ns / 1000,
        min_rust_check_json_us: rust.check_json_min_ns / 1000,
        min_node_check_json_us: nodeJson.min / 1000,
        min_node_check_us: nodeCheck.min / 1000,
      })
    }
    const pick = (k) => median(rounds.map((r) => r[k]))
    const result = {
      bundle: path.relative(REPO_ROOT, opts.bundle) || opts.bundle,
      action: typeof wire.action === 'string' ? wire.action : wire.action?.id,
      decision: decision.decision,
      reasons: decision.reasons,
      samples: opts.samples,
      batch: opts.batch,
      rounds,
      rust_check_typed_us: pick('rust_check_typed_us'),
      rust_check_json_us: pick('rust_check_json_us'),
      node_check_json_us: pick('node_check_json_us'),
      node_check_us: pick('node_check_us'),
      node_over_rust_us: median(rounds.map((r) => r.node_check_us - r.rust_check_json_us)),
      min_rust_check_typed_us: Math.min(...rounds.map((r) => r.min_rust_check_typed_us)),
      min_rust_check_json_us: Math.min(...rounds.map((r) => r.min_rust_check_json_us)),
      min_node_check_json_us: Math.min(...rounds.map((r) => r.min_node_check_json_us)),
      min_node_check_us: Math.min(...rounds.map((r) => r.min_node_check_us)),
    }
    if (opts.json) {
      console.log(JSON.stringify(result))
    } else {
      const f = (x) => `${x.toFixed(2).padStart(8)} µs`
      console.log(`check on ${result.bundle} (${result.action} → ${result.decision} ${result.reasons.join(', ')})`)
      console.log(`one call, mean over batches of ${opts.batch}: median / fastest of ${opts.samples} batches, median of ${opts.rounds} alternating rounds`)
      const row = (label, k) => console.log(`  ${label.padEnd(52)} ${f(result[k])} ${f(result[`min_${k}`])}`)
      row('Rust  engine.check(&Request), request pre-parsed', 'rust_check_typed_us')
      row('Rust  ffi::check_json(&str) (what the addon calls)', 'rust_check_json_us')
      row('Node  engine.checkJson(text)  (native boundary)', 'node_check_json_us')
      row('Node  engine.check({...})     (the JS API)', 'node_check_us')
      console.log(`  ${'Node engine.check − Rust ffi::check_json (median)'.padEnd(52)} ${f(result.node_over_rust_us)}`)
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

main()
