'use strict'
// Real servers for the fleet tests, as core/tests/fleet.rs, core/tests/common/nginx.rs
// and bindings-python/tests/test_fleet.py start them: Debian's `postgresql`
// (initdb in a temp dir, pg_ctl on a free port of 127.0.0.1, as the
// `postgres` user when run as root) and `nginx` (foreground, no master
// process, a temp prefix, ETags on). Without the binaries a test skips loudly,
// unless AGENTAUTHZ_REQUIRE_SERVERS is set (CI), where that is a failure.

const assert = require('node:assert/strict')
const { execFileSync, spawn } = require('node:child_process')
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

/** Skips `t` (or, for a script, returns) after a loud message; fails under AGENTAUTHZ_REQUIRE_SERVERS. */
function missing(t, message) {
  if (process.env.AGENTAUTHZ_REQUIRE_SERVERS) assert.fail(`${message} and AGENTAUTHZ_REQUIRE_SERVERS is set`)
  console.error(`\n!!!!!!!! SKIPPED: ${message} !!!!!!!!`)
  t?.skip(message)
  return null
}

function pgBin() {
  const root = '/usr/lib/postgresql'
  if (!fs.existsSync(root)) return null
  const found = fs
    .readdirSync(root)
    .map((v) => path.join(root, v, 'bin'))
    .filter((b) => fs.existsSync(path.join(b, 'pg_ctl')) && fs.existsSync(path.join(b, 'initdb')))
    .sort()
  return found.pop() ?? null
}

/**
 * A running PostgreSQL `{url, stop, close}` (stop: an immediate shutdown;
 * close: that and the temp dir removed, registered with `t.after`), or null
 * when it is not installed.
 */
async function startPostgres(t) {
  const bin = pgBin()
  if (bin === null) return missing(t, 'PostgreSQL is not installed (Debian package postgresql; `make test-deps`)')
  const root = process.getuid?.() === 0
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentauthz-pg-'))
  fs.chmodSync(dir, 0o755)
  if (root) execFileSync('chown', ['postgres:postgres', dir])
  const run = (tool, args) => {
    const exe = path.join(bin, tool)
    const [cmd, argv] = root ? ['runuser', ['-u', 'postgres', '--', exe, ...args]] : [exe, args]
    execFileSync(cmd, argv, { cwd: dir, stdio: 'pipe' })
  }
  const data = path.join(dir, 'data')
  const port = await freePort()
  run('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync'])
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off`
  run('pg_ctl', ['-D', data, '-l', path.join(dir, 'log'), '-o', options, '-w', 'start'])
  let stopped = false
  const stop = () => {
    if (stopped) return
    stopped = true
    try {
      run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
    } catch {
      // Already down.
    }
  }
  const close = () => {
    stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  t?.after(close)
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, stop, close }
}

/**
 * A running nginx serving `root` (`{url(name), publish(name, bytes, mtime),
 * fail(on), served(status), close}`), or null when it is not installed.
 * While `fail(true)` every request answers 500.
 */
async function startNginx(t) {
  const bin = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p))
  if (bin === undefined) return missing(t, 'nginx is not installed (Debian package nginx; `make test-deps`)')
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'agentauthz-nginx-'))
  const root = path.join(dir, 'www')
  fs.mkdirSync(root)
  fs.mkdirSync(path.join(dir, 'logs'))
  const port = await freePort()
  const conf = `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log ${dir}/logs/access.log;
  client_body_temp_path ${dir}/tmp-body;
  proxy_temp_path ${dir}/tmp-proxy;
  fastcgi_temp_path ${dir}/tmp-fcgi;
  uwsgi_temp_path ${dir}/tmp-uwsgi;
  scgi_temp_path ${dir}/tmp-scgi;
  server {
    listen 127.0.0.1:${port};
    root ${root};
    etag on;
    if (-f ${dir}/fail) { return 500; }
  }
}
`
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf)
  const child = spawn(bin, ['-p', dir, '-e', path.join(dir, 'logs/error.log'), '-c', path.join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const close = () => {
    child.kill('SIGKILL')
    fs.rmSync(dir, { recursive: true, force: true })
  }
  t?.after(close)
  const deadline = Date.now() + 10_000
  for (;;) {
    const up = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end()
        resolve(true)
      })
      s.on('error', () => resolve(false))
    })
    if (up) break
    assert.ok(Date.now() < deadline && child.exitCode === null, `nginx did not start on ${port}`)
    await new Promise((r) => setTimeout(r, 20))
  }
  let clock = Math.floor(Date.now() / 1000)
  return {
    url: (name) => `http://127.0.0.1:${port}/${name}`,
    /** Replaces a served file atomically (a rename, as a deploy would), with a new mtime so its ETag moves. */
    publish(name, bytes) {
      const tmp = path.join(root, `.${name}.tmp`)
      fs.writeFileSync(tmp, bytes)
      clock += 10
      fs.utimesSync(tmp, clock, clock)
      fs.renameSync(tmp, path.join(root, name))
    },
    fail(on) {
      const flag = path.join(dir, 'fail')
      if (on) fs.writeFileSync(flag, '')
      else fs.rmSync(flag, { force: true })
    },
    /** Requests answered so far with `status` (from the access log). */
    served(status) {
      const log = path.join(dir, 'logs/access.log')
      if (!fs.existsSync(log)) return 0
      return fs
        .readFileSync(log, 'utf8')
        .split('\n')
        .filter((l) => l.includes(`" ${status} `)).length
    },
    close,
  }
}

module.exports = { freePort, startPostgres, startNginx }
