'use strict'
// Shared by the test files: paths, and a bundle loader for the vector format.

const fs = require('node:fs')
const path = require('node:path')
const { createRequire } = require('node:module')

// The package under test: this directory's build, or, in the install check
// (scripts/install-check.sh), the `agentauthz` installed from its tarball into
// the project AGENTAUTHZ_NODE_PROJECT.
const project = process.env.AGENTAUTHZ_NODE_PROJECT
const agentauthz = project ? createRequire(path.join(project, 'package.json'))('agentauthz') : require('..')
const { Engine } = agentauthz

const PACKAGE_DIR = path.resolve(__dirname, '..')
const REPO_ROOT = path.resolve(PACKAGE_DIR, '..')
const FIXTURES = path.join(__dirname, 'fixtures')

/** A vector file's `bundle`: a directory relative to the repo root, or texts. */
function loadBundle(bundle) {
  return typeof bundle === 'string' ? Engine.load(path.join(REPO_ROOT, bundle), { trustCallerTime: true }) : Engine.fromStrings(bundle, { trustCallerTime: true })
}

function jsonFiles(dir) {
  if (!fs.existsSync(dir)) return []
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(dir, f))
}

module.exports = { agentauthz, PACKAGE_DIR, REPO_ROOT, FIXTURES, loadBundle, jsonFiles }
