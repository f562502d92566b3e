// The real browser test: Debian's Chromium, driven by playwright-core, runs
// the vectors in a page served from 127.0.0.1, then drives the playground.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { REPO_ROOT } from "../lib/bundle.mjs";
import { startServer } from "../lib/server.mjs";

const ARTIFACTS = process.env.AGENTAUTHZ_ARTIFACTS ?? join(REPO_ROOT, "target", "wasm-test");
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

let server;
let context;
let userDataDir;
const pageErrors = [];

before(async () => {
  server = await startServer(0);
  userDataDir = mkdtempSync(join(tmpdir(), "agentauthz-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
});

after(async () => {
  await context?.close();
  await server?.close();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

async function openPage(path) {
  const page = await context.newPage();
  page.on("pageerror", (e) => pageErrors.push(`${path}: ${e}`));
  page.on("console", (m) => {
    if (m.type() === "error") pageErrors.push(`${path}: console: ${m.text()}`);
  });
  await page.goto(`${server.origin}${path}`);
  return page;
}

test("vectors in Chromium", async (t) => {
  const page = await openPage("/bindings-wasm/tests/browser/");
  const r = await page.evaluate(() => window.__agentauthzResults);
  assert.equal(r.fatal, undefined, r.fatal);
  assert.match(r.userAgent, /Chrome\//);
  assert.ok(r.files.length > 0, "no vector files ran");
  for (const file of r.files) {
    assert.equal(file.results.length, file.count, `${file.path}: not every vector ran`);
    await t.test(file.path, async (ft) => {
      for (const v of file.results) await ft.test(v.name, () => assert.ok(v.ok, v.message));
    });
  }
  await t.test("the shared scenarios", async (st) => {
    assert.ok(r.scenarios.length >= 8, `${r.scenarios.length} scenarios`);
    for (const s of r.scenarios) await st.test(s.path, () => assert.deepEqual(s.failures, []));
  });
  await t.test("the JS clock decides requests without now", () => {
    assert.deepEqual(r.clock.current, ["anyone-can-read"]);
    assert.deepEqual(r.clock.past, ["baseline/task-window"]);
  });
  await t.test("a panic is an InternalError and the engine recovers", () => {
    assert.deepEqual(r.panic && { isInternal: r.panic.isInternal, code: r.panic.code }, { isInternal: true, code: "internal" });
    assert.match(r.panic.message, /browser boom/);
    assert.deepEqual(r.afterPanic, ["anyone-can-read"]);
  });
  await t.test("grants and lifecycle operations", () => {
    const l = r.lifecycle;
    assert.deepEqual(l.listed, [l.grantId]);
    assert.deepEqual(l.before, []);
    assert.deepEqual(l.inside, [`grant/${l.grantId}`]);
    assert.deepEqual(l.after, []);
    assert.deepEqual(l.forbid, ["no-big-uploads"]);
    assert.ok(l.offboarded.includes("baseline/task-revoked"), l.offboarded);
    assert.equal(l.listedAfter, 0);
  });
  await t.test("bad input is a coded error and the engine stays usable", () => {
    assert.equal(r.badCode, "request_invalid");
    assert.deepEqual(r.afterBad, ["anyone-can-read"]);
  });
  await page.close();
});

test("the playground shows decisions live", async () => {
  const page = await openPage("/bindings-wasm/playground/");
  await page.waitForSelector('#status[data-state="ready"]', { timeout: 30000 });
  const decision = page.locator("#decision");
  // The example request is allowed.
  await page.waitForFunction(() => document.getElementById("decision").textContent === "allow");

  // Type a request by hand: the ownerless agent is denied by the baseline.
  const request = page.locator("#request");
  await request.fill("");
  await request.pressSequentially(
    '{"agent": "orphan-bot", "action": "github:push", "resource": {"type": "Repo", "id": "acme/api"}, ' +
      '"context": {"source_ip": "10.9.9.9"}, "now": "2026-11-29T10:00:00Z"}',
  );
  await page.waitForFunction(() => document.getElementById("reasons").dataset.ids === '["baseline/owner-required"]');
  assert.equal(await decision.textContent(), "deny");

  // Edit a policy: forbid everything from one agent.
  await request.fill(
    '{"agent": "ci-bot", "action": "github:push", "resource": {"type": "Repo", "id": "acme/api"}, ' +
      '"context": {"source_ip": "10.9.9.9"}, "now": "2026-11-29T10:00:00Z"}',
  );
  await page.waitForFunction(() => document.getElementById("decision").textContent === "allow");
  await page.locator("#policies").press("End");
  await page.locator("#policies").evaluate((el) => {
    el.value += '\n@id("freeze-ci")\nforbid (principal == Agent::"ci-bot", action, resource);\n';
    el.dispatchEvent(new Event("input"));
  });
  await page.waitForFunction(() => document.getElementById("reasons").dataset.ids === '["freeze-ci"]');
  assert.equal(await decision.textContent(), "deny");

  // A bad request shows the error code; fixing it brings the decision back.
  await request.fill('{"agent": "ci-bot", "action": "github:push", "resource": {"type": "Repo", "id": "acme/api"}, "context": {"source_ip": "nope"}}');
  await page.waitForSelector("#error:not([hidden])");
  assert.equal(await page.locator("#error-code").textContent(), "request_invalid");

  // A broken policy shows its location.
  await page.locator("#policies").evaluate((el) => {
    el.value += "\npermit (principal, action";
    el.dispatchEvent(new Event("input"));
  });
  await page.waitForFunction(() => document.getElementById("error-code").textContent === "policy_parse");
  assert.match(await page.locator("#error-details").textContent(), /policies\.cedar:\d+:\d+/);

  // Restore the example policies and the typed request for the screenshot.
  await page.locator("#policies").evaluate((el) => {
    el.value = el.value.slice(0, el.value.lastIndexOf("\npermit (principal, action"));
    el.dispatchEvent(new Event("input"));
  });
  await request.fill("");
  await request.pressSequentially(
    '{\n  "agent": "ci-bot",\n  "action": "github:push",\n  "resource": {"type": "Repo", "id": "acme/prod"},\n' +
      '  "context": {"source_ip": "10.1.2.3"},\n  "now": "2026-11-29T10:00:00Z"\n}',
  );
  await page.waitForFunction(() => document.getElementById("reasons").dataset.ids === '["freeze-ci","no-push-to-prod"]');
  assert.equal(await decision.textContent(), "deny");
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, "playground.png"), fullPage: true });
  await page.close();
});

// --- sessions
test("agent sessions in Chromium", async () => {
  const page = await openPage("/bindings-wasm/tests/browser/");
  const s = await page.evaluate(() => window.__agentauthzSessions);
  assert.deepEqual(s, {
    publicKey: true,
    agent: "etl",
    reasons: ["read-public"],
    expired: "session_expired",
    tampered: "session_invalid",
    verifierIssues: "key_invalid",
    revoked: "session_revoked",
  });
  await page.close();
});

test("agentauthz-wasm/ai-sdk in Chromium", async () => {
  const page = await openPage("/bindings-wasm/tests/browser/");
  const r = await page.evaluate(() => window.__agentauthzAiSdk);
  assert.equal(r.fatal, undefined, r.fatal);
  assert.equal(r.allowed, "ok");
  assert.ok(r.refused, r.message);
  assert.match(r.message, /^Tool call 'refund' was denied by authorization policy \(.*decision_id: \w{26}\)/);
  assert.deepEqual(r.ran, [25]);
  await page.close();
});

test("no page errors", () => {
  assert.deepEqual(pageErrors, []);
});
