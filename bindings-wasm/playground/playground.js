// The policy playground: every edit rebuilds the engine (bundle fields) or
// re-checks the request, and shows the decision, its reasons and any error.
import init, { Engine, AuthzError, coreVersion } from "../pkg/web/web.js";
import { example } from "./example.js";

const $ = (id) => document.getElementById(id);
const fields = ["schema", "policies", "inventory", "config", "request"];
const status = $("status");

let engine = null;
let engineKey = null;
let engineError = null;

function bundleInput() {
  const input = { schema: $("schema").value, policies: { "policies.cedar": $("policies").value } };
  if ($("inventory").value.trim() !== "") input.inventory = $("inventory").value;
  if ($("config").value.trim() !== "") input.config = $("config").value;
  return input;
}

/** The engine for the current bundle texts (rebuilt only when they change). */
function currentEngine() {
  const input = bundleInput();
  const key = JSON.stringify(input);
  if (key !== engineKey) {
    engine?.free();
    engine = null;
    engineError = null;
    engineKey = key;
    try {
      // A playground asks what-if questions: a request may set its own `now`.
      engine = Engine.fromStrings(input, { trustCallerTime: true });
    } catch (e) {
      engineError = e;
    }
  }
  return engine;
}

function list(ul, items) {
  ul.replaceChildren(
    ...items.map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }),
  );
}

function showError(e, where) {
  const code = e instanceof AuthzError ? e.code : "request_parse";
  $("error").hidden = false;
  $("error-code").textContent = code;
  $("error-where").textContent = where;
  const details = e instanceof AuthzError && e.details.length > 0
    ? e.details.map((d) => (d.location ? `${d.location.file}:${d.location.line}:${d.location.column}: ${d.message}` : d.message))
    : [e.message];
  list($("error-details"), details);
  $("decision").className = "decision none";
  $("decision").textContent = "error";
  list($("reasons"), []);
  $("policy-errors-box").hidden = true;
  $("meta").textContent = "";
}

function evaluate() {
  const current = currentEngine();
  if (current === null) return showError(engineError, "loading the bundle");
  let request;
  try {
    request = JSON.parse($("request").value);
  } catch (e) {
    return showError(e, "request JSON");
  }
  let decision;
  const t0 = performance.now();
  try {
    decision = current.check(request);
  } catch (e) {
    return showError(e, "checking the request");
  }
  const micros = Math.round((performance.now() - t0) * 1000);
  $("error").hidden = true;
  $("decision").className = `decision ${decision.decision}`;
  $("decision").textContent = decision.decision;
  list($("reasons"), decision.reasons.length > 0 ? decision.reasons : ["(no policy matched: default deny)"]);
  $("reasons").dataset.ids = JSON.stringify(decision.reasons);
  $("policy-errors-box").hidden = decision.errors.length === 0;
  list($("policy-errors"), decision.errors.map((e) => `${e.policy}: ${e.message}`));
  $("meta").textContent = `decision_id ${decision.decisionId} · ${decision.policyRevision} · ${micros} µs`;
}

let timer = null;
function schedule() {
  clearTimeout(timer);
  timer = setTimeout(evaluate, 120);
}

for (const name of fields) {
  $(name).value = example[name];
  $(name).addEventListener("input", schedule);
}

try {
  await init();
  status.textContent = `agentauthz ${coreVersion()} (WASM) · edits are evaluated live`;
  status.dataset.state = "ready";
  evaluate();
} catch (e) {
  status.textContent = `failed to load the WASM module: ${e}`;
  status.dataset.state = "failed";
}
