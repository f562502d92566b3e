// verifyBundle: what a browser that fetches bundles itself runs before it
// builds an engine from one. The fixtures are shared with the other surfaces.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const api = require("../../pkg/node/node.js");
const dir = fileURLToPath(new URL("../../../tests/vectors/bundles/", import.meta.url));
const file = (name) => new Uint8Array(readFileSync(dir + name));
const keys = { fixture: readFileSync(dir + "fixture.public.paserk", "utf8").trim() };

test("a signed archive verifies to its revision and files, and builds an engine", () => {
  const v = api.verifyBundle(file("coding-agent.tar.gz"), file("coding-agent.tar.gz.sig"), keys);
  assert.equal(v.kid, "fixture");
  assert.match(v.revision, /^sha256:[0-9a-f]{64}$/);
  const policies = Object.fromEntries(Object.entries(v.files).filter(([p]) => p.startsWith("policies/")));
  assert.ok(Object.keys(policies).length > 0);
  const engine = api.Engine.fromStrings({
    schema: v.files["schema.cedarschema"],
    policies,
    inventory: v.files["inventory.yaml"],
  });
  assert.match(engine.policyRevision, /^sha256:/);
});

test("tampered archives, signatures and keys are coded errors", () => {
  const whole = file("coding-agent.tar.gz");
  const cases = [
    [whole, file("support-agent.tar.gz.sig"), keys, "bundle_signature_invalid"],
    [whole, file("coding-agent.tar.gz.sig"), {}, "bundle_signature_invalid"],
    [whole, new Uint8Array(0), keys, "bundle_signature_invalid"],
    [whole.subarray(0, whole.length >> 1), file("coding-agent.tar.gz.sig"), keys, "bundle_archive_invalid"],
    [new TextEncoder().encode("not gzip"), file("support-agent.tar.gz.sig"), keys, "bundle_archive_invalid"],
    [whole, file("coding-agent.tar.gz.sig"), { fixture: "k4.public.AAAA" }, "key_invalid"],
    ["not bytes", file("coding-agent.tar.gz.sig"), keys, "bundle_archive_invalid"],
  ];
  for (const [archive, signature, publicKeys, code] of cases) {
    assert.throws(
      () => api.verifyBundle(archive, signature, publicKeys),
      (e) => e instanceof api.AuthzError && e.code === code,
      code,
    );
  }
});
