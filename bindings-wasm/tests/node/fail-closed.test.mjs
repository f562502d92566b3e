// Fail closed through the WASM package (issue #13): a forbid whose evaluation
// errors denies — never an allow — with the forbid as a reason and the error
// kept; `on_error = "skip"` keeps Cedar's rule; log-only paths record the
// would-be deny; load warnings and strict mode; dangling inventory references.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";

const api = createRequire(import.meta.url)("../../pkg/node/node.js");
const { Engine } = api;

const NOW = "2026-11-29T10:00:00Z";
const HUGE = 2 ** 62; // exact as a double; times 4 overflows a Cedar Long

const SCHEMA = `
entity Org;
entity Repo in [Org] { classification: String };
action "repo:read" appliesTo { principal: [Agent], resource: [Repo],
  context: { reviewer?: User } };
action "upload" appliesTo { principal: [Agent], resource: [Repo],
  context: { input: { bytes: Long, parts: Long } } };
`;
const INVENTORY = `
users: [{id: alice}]
agents: [{id: ci-bot, owner: alice}]
resources:
  - {type: Repo, id: acme/api, attrs: {classification: public}}
`;
const ALLOW = '@id("allow-all") permit (principal, action, resource);';
const RESTRICTED = '@id("no-restricted") forbid (principal, action, resource)\nwhen { resource.classification == "restricted" };';
const UPLOAD =
  '@id("upload-limit") forbid (principal, action == Action::"upload", resource)\nwhen { context.input.bytes * context.input.parts > 5368709120 };';
const REVIEWER = '@id("reviewer-active") forbid (principal, action, resource)\nwhen { context has reviewer && !context.reviewer.active };';

const engine = (policies, config, options) =>
  Engine.fromStrings({ schema: SCHEMA, policies, inventory: INVENTORY, ...(config ? { config } : {}) }, { trustCallerTime: true, ...options });
const read = (e, id, context = {}) => e.check({ agent: "ci-bot", action: "repo:read", resource: { type: "Repo", id }, context, now: NOW });
const upload = (e, bytes, parts) =>
  e.check({ agent: "ci-bot", action: "upload", resource: { type: "Repo", id: "acme/api" }, context: { input: { bytes, parts } }, now: NOW });

function assertFailClosed(d, forbid) {
  assert.equal(d.allowed, false, JSON.stringify(d));
  assert.equal(d.decision, "deny");
  assert.ok(d.reasons.includes(forbid), JSON.stringify(d));
  assert.ok(d.errors.some((e) => e.policy === forbid), JSON.stringify(d));
}

test("a forbid on a resource the inventory does not list denies", () => {
  const e = engine([ALLOW, RESTRICTED]);
  assertFailClosed(read(e, "acme/ghost"), "no-restricted");
  assert.equal(read(e, "acme/api").allowed, true);
});

test("integer overflow on tool input denies", () => {
  const e = engine([ALLOW, UPLOAD]);
  assertFailClosed(upload(e, HUGE, 4), "upload-limit");
  assert.equal(upload(e, 1024, 4).allowed, true);
});

test("an entity-typed context field naming an unknown entity denies", () => {
  const d = read(engine([ALLOW, REVIEWER]), "acme/api", { reviewer: { type: "User", id: "mallory" } });
  assert.equal(d.allowed, false);
  assert.ok(d.reasons.includes("reviewer-active") || d.reasons.some((r) => r.startsWith("baseline/unknown")), JSON.stringify(d));
});

test("a just-in-time grant loses to an erroring forbid", () => {
  const e = engine([UPLOAD]);
  e.grant({ agent: "ci-bot", actions: ["upload"], resource: { type: "Repo", id: "acme/api" }, ttlSeconds: 3600, reason: "migration", grantedBy: "alice" });
  const at = (bytes, parts) =>
    e.check({ agent: "ci-bot", action: "upload", resource: { type: "Repo", id: "acme/api" }, context: { input: { bytes, parts } } });
  assert.equal(at(1, 1).allowed, true);
  assertFailClosed(at(HUGE, 4), "upload-limit");
});

test("a long deny-list is never an allow: a deny, or a coded error", () => {
  const terms = Array.from({ length: 2000 }, (_, i) => `resource.classification == "c${i}"`).join(" || ");
  const policy = `@id("deny-list") forbid (principal, action, resource) when { ${terms} };`;
  let d;
  try {
    const e = engine([ALLOW, policy]);
    assert.ok(e.warnings().some((w) => w.policy === "deny-list" && w.kind === "depth"));
    d = read(e, "acme/api");
  } catch (err) {
    // WASM has no stack probe: Cedar's recursion runs out of the 1 MiB WASM
    // stack (at load or at check) and the trap is a coded `internal` error.
    assert.ok(err instanceof api.AuthzError && typeof err.code === "string", String(err));
    return;
  }
  assertFailClosed(d, "deny-list");
});

test("an erroring permit simply does not permit", () => {
  const d = read(engine(['@id("p") permit (principal, action, resource) when { resource.classification == "public" };']), "acme/ghost");
  assert.equal(d.allowed, false);
  assert.deepEqual(d.reasons, []);
  assert.equal(d.errors.length, 1);
});

test('on_error = "skip" keeps Cedar\'s rule', () => {
  const e = engine([ALLOW, RESTRICTED], '[engine]\non_error = "skip"\n');
  assert.equal(e.onError, "skip");
  const d = read(e, "acme/ghost");
  assert.equal(d.allowed, true);
  assert.equal(d.errors.length, 1);
  assert.equal(engine([ALLOW]).onError, "deny");
});

test("log-only paths record the would-be fail-closed deny", () => {
  const records = [];
  const logged = (policies, config) => engine(policies, config, { decisionLog: (r) => records.push(r) });
  read(logged([ALLOW, RESTRICTED]), "acme/ghost");
  assert.equal(records.at(-1).decision, "deny");
  assert.equal(records.at(-1).fail_closed, true);

  const shadow = RESTRICTED.replace('@id("no-restricted")', '@id("no-restricted") @mode("log-only")');
  assert.equal(read(logged([ALLOW, shadow]), "acme/ghost").allowed, true, "a log-only forbid does not change the decision");
  assert.equal(records.at(-1).would_decision, "deny");
  assert.deepEqual(records.at(-1).would_reasons, ["no-restricted"]);
  assert.equal(records.at(-1).fail_closed, true);

  assert.equal(read(logged([ALLOW, RESTRICTED], '[engine]\nmode = "log-only"\n'), "acme/ghost").allowed, true);
  assert.equal(records.at(-1).would_decision, "deny");
  assert.equal(records.at(-1).fail_closed, true);
});

test("warnings and strict mode", () => {
  const warnings = engine([ALLOW, RESTRICTED, UPLOAD]).warnings();
  const kinds = warnings.map((w) => `${w.policy}:${w.kind}`);
  assert.ok(kinds.includes("no-restricted:absent_entity"), kinds.join());
  assert.ok(kinds.includes("upload-limit:overflow"), kinds.join());
  assert.equal(warnings.find((w) => w.policy === "no-restricted").location.line, 2);
  assert.deepEqual(engine([ALLOW]).warnings(), []);
  assert.throws(
    () => engine([ALLOW, RESTRICTED], "[engine]\nstrict = true\n"),
    (e) => e instanceof api.PolicyError && e.code === "policy_may_error",
  );
});

test("a dangling reference in a resource attribute is inventory_invalid", () => {
  assert.throws(
    () =>
      Engine.fromStrings({
        schema: "entity Doc { reviewers: Set<User> };\naction read appliesTo { principal: [Agent], resource: [Doc] };",
        policies: '@id("p") permit (principal, action, resource);',
        inventory: "users: [{id: alice}]\nagents: [{id: ci-bot, owner: alice}]\nresources:\n  - {type: Doc, id: d1, attrs: {reviewers: [{type: User, id: ghost}]}}\n",
      }),
    (e) => e instanceof api.InventoryError && e.code === "inventory_invalid" && e.message.includes("ghost"),
  );
});
