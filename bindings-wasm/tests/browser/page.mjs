// Runs inside Chromium: loads the web build, runs every vector file (bundles
// fetched as strings from the test server), and checks panic recovery and the
// JS clock. The Node side reads window.__agentauthzResults.
import init, * as api from "../../pkg/web/web.js";
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
  const engine = api.Engine.fromStrings(clockBundle);
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

  return { files, clock, panic, afterPanic, badCode, afterBad, userAgent: navigator.userAgent };
}

window.__agentauthzResults = run().then(
  (r) => {
    document.getElementById("out").textContent = JSON.stringify(r, null, 1);
    return r;
  },
  (e) => ({ fatal: `${e && e.stack ? e.stack : e}` }),
);
