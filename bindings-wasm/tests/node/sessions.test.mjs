// Agent sessions in the WASM package under Node: issue and verify in WASM, a
// verifier with only the issuer's public keys, check({session}), expiry
// against the engine clock (`Date.now()`, replaced here for the test),
// tampering, audience, revocation, suspension, and keys and revocations kept
// across an instance reset. The same scenario is in
// bindings-python/tests/test_sessions.py and bindings-node/__test__/sessions.test.js.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const api = require("../../pkg/node/node.js");
const { Engine, AuthzError, generateSessionKey } = api;

const SCHEMA = `
entity Bucket;
entity Object in [Bucket];
action "s3:GetObject" appliesTo { principal: [Agent], resource: [Object, Bucket] };
`;
const POLICIES = `
@id("read-public")
permit (principal, action == Action::"s3:GetObject", resource in Bucket::"public");
`;
const INVENTORY = `
users:
  - {id: alice}
agents:
  - {id: etl, owner: alice}
  - {id: other, owner: alice}
tasks:
  - {id: T1, agent: etl, not_before: "2020-01-01T00:00:00Z", not_after: "2100-01-01T00:00:00Z"}
resources:
  - {type: Bucket, id: public}
  - {type: Object, id: public/readme, parents: [{type: Bucket, id: public}]}
`;
const CONFIG = '[sessions]\naudience = "tools"\nallowed_audiences = ["billing"]\nmax_ttl_seconds = 600\n';
const README = { type: "Object", id: "public/readme" };

const makeEngine = (inventory = INVENTORY) =>
  Engine.fromStrings({ schema: SCHEMA, policies: POLICIES, inventory, config: CONFIG }, { trustCallerTime: true });

function issuer() {
  const engine = makeEngine();
  engine.setSessionKeys({ signing: { kid: "k1", key: generateSessionKey("k1").secret } });
  return engine;
}

const read = (engine, session, extra = {}) =>
  engine.check({ session, action: "s3:GetObject", resource: README, ...extra });

function throwsCode(fn, code) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof AuthzError, `${e}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

/** Runs `fn` with the engine clock (`Date.now()`) reading `ms`. */
function at(ms, fn) {
  const real = Date.now;
  Date.now = () => ms;
  try {
    return fn();
  } finally {
    Date.now = real;
  }
}

test("round trip: issued in WASM, the token names the agent", () => {
  const engine = issuer();
  const { token, claims } = engine.issueSession({ agent: "etl", task: "T1", ttlSeconds: 300 });
  assert.match(token, /^v4\.public\./);
  assert.equal(claims.agent, "etl");
  assert.equal(claims.task, "T1");
  assert.equal(claims.audience, "tools");
  assert.equal(claims.expiresAt - claims.issuedAt, 300_000);
  assert.deepEqual(engine.verifySession(token), claims);
  const d = read(engine, token);
  assert.equal(d.allowed, true);
  assert.deepEqual(d.reasons, ["read-public"]);
});

test("a token expires on the engine clock (Date.now), not the request's now", () => {
  const engine = issuer();
  const t0 = Date.UTC(2026, 10, 29, 10, 0, 0);
  const { token, claims } = at(t0, () => engine.issueSession({ agent: "etl", ttlSeconds: 60 }));
  assert.equal(claims.issuedAt, t0);
  assert.equal(claims.expiresAt, t0 + 60_000);
  assert.equal(at(t0 + 59_000, () => read(engine, token)).allowed, true);
  throwsCode(() => at(t0 + 60_000, () => read(engine, token)), "session_expired");
  throwsCode(() => at(t0 + 60_000, () => engine.verifySession(token)), "session_expired");
  // A `now` inside the lifetime does not revive it: a session check refuses `now`.
  throwsCode(() => at(t0 + 59_000, () => read(engine, token, { now: new Date(t0) })), "request_invalid");
  // Not yet valid before it was issued (the core reports this as session_expired too).
  throwsCode(() => at(t0 - 3_600_000, () => read(engine, token)), "session_expired");
});

test("a tampered token and a wrong audience are session_invalid", () => {
  const engine = issuer();
  const { token } = engine.issueSession({ agent: "etl" });
  const i = Math.floor(token.length / 2);
  const tampered = token.slice(0, i) + (token[i] === "A" ? "B" : "A") + token.slice(i + 1);
  throwsCode(() => read(engine, tampered), "session_invalid");
  throwsCode(() => read(engine, token, { audience: "billing" }), "session_invalid");
  const billing = engine.issueSession({ agent: "etl", audience: "billing" }).token;
  assert.equal(engine.verifySession(billing, { audience: "billing" }).agent, "etl");
  throwsCode(() => engine.verifySession(billing), "session_invalid");
});

test("revoked sessions and suspended agents are session_revoked", () => {
  const engine = issuer();
  const { token, claims } = engine.issueSession({ agent: "etl" });
  const other = engine.issueSession({ agent: "other" }).token;
  engine.revokeSession(claims.sessionId, { by: "alice" });
  throwsCode(() => read(engine, token), "session_revoked");
  assert.equal(read(engine, other).allowed, true);
  engine.suspend("other", { by: "alice" });
  throwsCode(() => read(engine, other), "session_revoked");
  throwsCode(() => engine.issueSession({ agent: "other" }), "lifecycle_invalid");
  engine.reactivate("other", { by: "alice" });
  assert.equal(read(engine, other).allowed, true);
  throwsCode(() => engine.issueSession({ agent: "ghost" }), "lifecycle_invalid");
  throwsCode(() => engine.issueSession({ agent: "other", task: "T1" }), "lifecycle_invalid");
});


// Drift fixed by the shared JS layer (issue 16): the change record of a
// revocation reached a function sink only with the next call.
test("the record of a session revocation reaches a function sink at once", () => {
  const engine = makeEngine();
  engine.setSessionKeys({ signing: { kid: "k1", key: generateSessionKey("k1").secret } });
  const records = [];
  engine.setDecisionLog((r) => records.push(r));
  const { claims } = engine.issueSession({ agent: "etl" });
  engine.revokeSession(claims.sessionId, { by: "alice" });
  assert.deepEqual(
    records.map((r) => [r.action, r.principal.id, r.reasons]),
    [["agentauthz:revoke_session", "alice", ["lifecycle/revoke_session"]]],
  );
  assert.equal(records[0].context.session, claims.sessionId);
  // The next check brings its own record only.
  engine.check({ session: engine.issueSession({ agent: "other" }).token, action: "s3:GetObject", resource: README });
  assert.deepEqual(
    records.map((r) => r.action),
    ["agentauthz:revoke_session", "s3:GetObject"],
  );
});
test("a verifier with only the public keys accepts the issuer's tokens", () => {
  const engine = issuer();
  const publicKeys = engine.sessionPublicKeys();
  assert.deepEqual(Object.keys(publicKeys), ["k1"]);
  assert.match(publicKeys.k1, /^k4\.public\./);
  const verifier = makeEngine();
  verifier.setSessionKeys({ verifying: publicKeys });
  const { token, claims } = engine.issueSession({ agent: "etl" });
  assert.deepEqual(verifier.verifySession(token), claims);
  assert.deepEqual(read(verifier, token).reasons, ["read-public"]);
  throwsCode(() => verifier.issueSession({ agent: "etl" }), "key_invalid");
  const stranger = issuer();
  throwsCode(() => read(verifier, stranger.issueSession({ agent: "etl" }).token), "session_invalid");
  throwsCode(() => verifier.setSessionKeys({ verifying: { k1: "k4.public.nope" } }), "key_invalid");
});

test("session keys and revocations survive an instance reset after a panic", () => {
  const engine = issuer();
  const verifier = makeEngine();
  verifier.setSessionKeys({ verifying: engine.sessionPublicKeys() });
  const { token, claims } = engine.issueSession({ agent: "etl" });
  const other = engine.issueSession({ agent: "other" }).token;
  verifier.revokeSession(claims.sessionId, { by: "alice" });
  assert.throws(() => api.__debugPanic("reset"), (err) => err.code === "internal");
  assert.equal(read(verifier, other).allowed, true);
  throwsCode(() => read(verifier, token), "session_revoked");
  assert.equal(engine.verifySession(other).agent, "other");
  assert.equal(read(engine, engine.issueSession({ agent: "etl" }).token).allowed, true);
});

test("a session request takes a session or an agent, not both", () => {
  const engine = issuer();
  const { token } = engine.issueSession({ agent: "etl" });
  throwsCode(() => read(engine, token, { agent: "etl" }), "request_invalid");
  throwsCode(() => read(engine, token, { task: "T1" }), "request_parse");
});
