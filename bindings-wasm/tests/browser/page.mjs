// Runs inside Chromium: loads the web build, runs every vector file (bundles
// fetched as strings from the test server), and checks panic recovery and the
// JS clock. The Node side reads window.__agentauthzResults.
import init, * as api from "../../pkg/web/web.js";
import { authorizeTools, ToolCallRefused } from "../../pkg/web/ai-sdk.js";
import { runScenario, scenarioBundles } from "../lib/scenarios.mjs";
import { runVectorFile } from "../lib/vectors.mjs";

async function getJson(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function run() {
  await init();
  const loadBundle = (spec) => (typeof spec === "string" ? getJson(`/api/bundle?dir=${encodeURIComponent(spec)}`) : spec);
  const files = [];
  for (const path of await getJson("/api/vectors")) {
    const file = await getJson(`/${path}`);
    files.push({ path, count: file.vectors.length, results: await runVectorFile(api, file, loadBundle) });
  }

  // The shared scenarios, each on an engine with a ManualClock.
  const scenarios = [];
  for (const path of await getJson("/api/scenarios")) {
    const scenario = await getJson(`/${path}`);
    const bundles = {};
    for (const dir of scenarioBundles(scenario)) bundles[dir] = await loadBundle(dir);
    scenarios.push({ path, failures: runScenario(api, path, scenario, bundles) });
  }

  // No `now`: the engine reads Date.now() (the core's SystemClock would panic here).
  const hour = 3600000;
  const iso = (ms) => new Date(ms).toISOString();
  const t = Date.now();
  const bundle = await getJson("/api/bundle?dir=bindings-wasm/tests/vectors/repo-bundle");
  const clockBundle = {
    ...bundle,
    inventory: JSON.stringify({
      users: [{ id: "alice" }],
      agents: [{ id: "bot", owner: "alice" }],
      tasks: [
        { id: "current", agent: "bot", not_before: iso(t - hour), not_after: iso(t + hour) },
        { id: "past", agent: "bot", not_before: iso(t - 3 * hour), not_after: iso(t - 2 * hour) },
      ],
    }),
  };
  const engine = api.Engine.fromStrings(clockBundle, { trustCallerTime: true });
  const req = (task) => ({ agent: "bot", action: "github:read", resource: { type: "Repo", id: "r" }, task });
  const clock = { current: engine.check(req("current")).reasons, past: engine.check(req("past")).reasons };

  // A panic is an InternalError and the engine keeps working on a fresh instance.
  let panic = null;
  try {
    api.__debugPanic("browser boom");
  } catch (e) {
    panic = { isInternal: e instanceof api.InternalError, code: e.code, message: e.message };
  }
  const afterPanic = engine.check(req("current")).reasons;

  // Bad input leaves the engine usable.
  let badCode = null;
  try {
    engine.check({ agent: "bot", action: "github:read", resource: { type: "Repo", id: "r" }, context: { source_ip: 1 } });
  } catch (e) {
    badCode = e.code;
  }
  const afterBad = engine.check(req("current")).reasons;

  return { files, scenarios, clock, panic, afterPanic, badCode, afterBad, lifecycle: lifecycle(), userAgent: navigator.userAgent };
}

// Grants and lifecycle operations in the browser (in memory; the scenario of tests/node/lifecycle.test.mjs).
function lifecycle() {
  const engine = api.Engine.fromStrings({
    schema: `entity Bucket;
entity Object in [Bucket];
action "s3:PutObject" appliesTo { principal: [Agent], resource: [Object, Bucket], context: { bytes?: Long } };`,
    policies: `@id("no-big-uploads")
forbid (principal, action == Action::"s3:PutObject", resource) when { context has bytes && context.bytes > 1000 };`,
    inventory: JSON.stringify({
      users: [{ id: "alice" }],
      agents: [{ id: "etl", owner: "alice" }],
      tasks: [{ id: "T1", agent: "etl", not_before: "2020-01-01T00:00:00Z", not_after: "2100-01-01T00:00:00Z" }],
      resources: [
        { type: "Bucket", id: "reports" },
        { type: "Object", id: "reports/q3.csv", parents: [{ type: "Bucket", id: "reports" }] },
      ],
    }),
  }, { trustCallerTime: true });
  const second = 1000;
  const starts = new Date(Math.floor(Date.now() / second) * second + 24 * 3600 * second);
  const until = new Date(starts.getTime() + 3600 * second);
  const grant = engine.grant({
    agent: "etl",
    actions: ["s3:PutObject"],
    resource: { type: "Bucket", id: "reports" },
    starts,
    until,
    task: "T1",
    reason: "quarterly export",
    grantedBy: "alice",
  });
  const put = (now, extra = {}) =>
    engine.check({ agent: "etl", action: "s3:PutObject", resource: { type: "Object", id: "reports/q3.csv" }, task: "T1", now, ...extra })
      .reasons;
  const at = (ms) => new Date(ms);
  const out = {
    grantId: grant.id,
    listed: engine.grants("etl").map((g) => g.id),
    before: put(at(starts.getTime() - second)),
    inside: put(starts),
    after: put(at(until.getTime() + second)),
    forbid: put(starts, { context: { bytes: 5000 } }),
  };
  engine.offboard("etl", { by: "alice" });
  out.offboarded = put(starts);
  out.listedAfter = engine.grants().length;
  return out;
}

window.__agentauthzResults = run().then(
  (r) => {
    document.getElementById("out").textContent = JSON.stringify(r, null, 1);
    return r;
  },
  (e) => ({ fatal: `${e && e.stack ? e.stack : e}` }),
);

// --- sessions
// Agent sessions in the browser: a key pair and a token made in WASM (signing
// draws on the browser's crypto.getRandomValues), a verifier with only the
// public keys, check({session}), expiry on the engine clock (Date.now, replaced
// for the call), revocation. The scenario of tests/node/sessions.test.mjs.
function sessions() {
  const bundle = {
    schema: `entity Bucket;
entity Object in [Bucket];
action "s3:GetObject" appliesTo { principal: [Agent], resource: [Object, Bucket] };`,
    policies: `@id("read-public")
permit (principal, action == Action::"s3:GetObject", resource in Bucket::"public");`,
    inventory: JSON.stringify({
      users: [{ id: "alice" }],
      agents: [{ id: "etl", owner: "alice" }],
      resources: [
        { type: "Bucket", id: "public" },
        { type: "Object", id: "public/readme", parents: [{ type: "Bucket", id: "public" }] },
      ],
    }),
    config: '[sessions]\naudience = "tools"\n',
  };
  const codeOf = (f) => {
    try {
      f();
      return null;
    } catch (e) {
      return e instanceof api.AuthzError ? e.code : `not an AuthzError: ${e}`;
    }
  };
  const issuer = api.Engine.fromStrings(bundle, { trustCallerTime: true });
  const key = api.generateSessionKey("k1");
  issuer.setSessionKeys({ signing: { kid: "k1", key: key.secret } });
  const { token, claims } = issuer.issueSession({ agent: "etl", ttlSeconds: 60 });
  const verifier = api.Engine.fromStrings(bundle, { trustCallerTime: true });
  verifier.setSessionKeys({ verifying: issuer.sessionPublicKeys() });
  const read = (t) => verifier.check({ session: t, action: "s3:GetObject", resource: { type: "Object", id: "public/readme" } });
  const realNow = Date.now;
  let expired;
  try {
    Date.now = () => claims.expiresAt;
    expired = codeOf(() => read(token));
  } finally {
    Date.now = realNow;
  }
  const i = Math.floor(token.length / 2);
  const tampered = token.slice(0, i) + (token[i] === "A" ? "B" : "A") + token.slice(i + 1);
  const out = {
    publicKey: key.public.startsWith("k4.public."),
    agent: verifier.verifySession(token).agent,
    reasons: read(token).reasons,
    expired,
    tampered: codeOf(() => read(tampered)),
    verifierIssues: codeOf(() => verifier.issueSession({ agent: "etl" })),
  };
  verifier.revokeSession(claims.sessionId, { by: "alice" });
  out.revoked = codeOf(() => read(token));
  return out;
}

window.__agentauthzSessions = window.__agentauthzResults.then(() => sessions()).catch((e) => ({ fatal: `${e && e.stack ? e.stack : e}` }));

// agentauthz-wasm/ai-sdk in the browser: a wrapped tool runs when allowed, never when denied.
async function aiSdk() {
  const engine = api.Engine.fromStrings({
    schema: `entity Order;
      action "billing:refund" appliesTo { principal: [Agent], resource: [Order], context: { input: { amount: decimal } } };`,
    policies: {
      "refunds.cedar": `@id("refunds") permit (principal == Agent::"support-bot", action == Action::"billing:refund", resource)
        when { context.input.amount.lessThanOrEqual(decimal("100.0")) };`,
    },
    inventory: "users: [{id: dana}]\nagents: [{id: support-bot, owner: dana}]\nresources: [{type: Order, id: o-1}]\n",
  });
  const ran = [];
  const tools = authorizeTools(
    { refund: { execute: async ({ amount }) => (ran.push(amount), "ok") } },
    { engine, agent: "support-bot", action: { refund: "billing:refund" }, resource: { type: "Order", id: "o-1" } },
  );
  const allowed = await tools.refund.execute({ amount: 25 }, { toolCallId: "a", messages: [] });
  const denied = await tools.refund.execute({ amount: 250 }, { toolCallId: "b", messages: [] }).catch((e) => e);
  return { allowed, refused: denied instanceof ToolCallRefused, message: String(denied && denied.message), ran };
}

window.__agentauthzAiSdk = window.__agentauthzResults.then(() => aiSdk()).catch((e) => ({ fatal: `${e && e.stack ? e.stack : e}` }));
