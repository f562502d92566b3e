// Runs shared test vectors (tests/vectors/*.json) against the WASM package's
// API. Used by the Node suite and, unchanged, inside Chromium.

/** The wire request (snake_case, as in the vector files) in the JS API's camelCase. */
export function toApiRequest(wire) {
  if (wire === null || typeof wire !== "object" || Array.isArray(wire)) return wire;
  const out = {};
  for (const [key, value] of Object.entries(wire)) {
    out[key === "on_behalf_of" ? "onBehalfOf" : key] = value;
  }
  return out;
}

function sorted(list) {
  return [...list].sort();
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * Runs one vector file. `api` is the package (Engine, AuthzError); `loadBundle(spec)`
 * turns a bundle spec (directory string or strings object) into fromStrings input.
 * Returns one result per vector: {name, ok, message}.
 */
export async function runVectorFile(api, file, loadBundle) {
  const engines = new Map();
  const engineFor = async (spec) => {
    const key = typeof spec === "string" ? `dir:${spec}` : JSON.stringify(spec);
    if (!engines.has(key)) {
      let entry;
      try {
        entry = { engine: api.Engine.fromStrings(await loadBundle(spec), { trustCallerTime: true }) };
      } catch (error) {
        entry = { error };
      }
      engines.set(key, entry);
    }
    return engines.get(key);
  };
  const codeOf = (error) =>
    error instanceof api.AuthzError ? error.code : `not an AuthzError: ${error && error.stack ? error.stack : error}`;

  const results = [];
  const batches = new Map();
  for (const vector of file.vectors) {
    const expect = vector.expect;
    const result = { name: vector.name, ok: false, message: "" };
    results.push(result);
    const loaded = await engineFor(vector.bundle ?? file.bundle);
    if (loaded.error !== undefined) {
      const code = codeOf(loaded.error);
      result.ok = expect.error === code;
      result.message = result.ok ? "" : `loading the bundle: got error ${code} (${loaded.error.message}), expected ${JSON.stringify(expect)}`;
      continue;
    }
    if (vector.request === undefined) {
      result.message = `the bundle loaded, expected error ${expect.error}`;
      continue;
    }
    const request = toApiRequest(vector.request);
    let decision;
    try {
      decision = loaded.engine.check(request);
    } catch (error) {
      const code = codeOf(error);
      result.ok = expect.error === code;
      result.message = result.ok ? "" : `check threw ${code} (${error.message}), expected ${JSON.stringify(expect)}`;
      continue;
    }
    if (expect.error !== undefined) {
      result.message = `expected error ${expect.error}, got ${JSON.stringify(decision)}`;
      continue;
    }
    const problems = [];
    if (decision.decision !== expect.decision) problems.push(`decision ${decision.decision}, expected ${expect.decision}`);
    if (decision.allowed !== (expect.decision === "allow")) problems.push(`allowed is ${decision.allowed}`);
    if (!same(sorted(decision.reasons), sorted(expect.reasons))) {
      problems.push(`reasons ${JSON.stringify(decision.reasons)}, expected ${JSON.stringify(sorted(expect.reasons))}`);
    }
    if (!same(decision.reasons, sorted(decision.reasons))) problems.push("reasons are not sorted");
    if (decision.policyRevision !== loaded.engine.policyRevision) problems.push("policyRevision differs from the engine's");
    if (!/^[0-9A-HJKMNP-TV-Z]{26}$/.test(decision.decisionId)) problems.push(`decisionId ${decision.decisionId} is not a ULID`);
    result.ok = problems.length === 0;
    result.message = problems.join("; ");
    if (!batches.has(loaded)) batches.set(loaded, []);
    batches.get(loaded).push({ request, decision, result });
  }
  // checkBatch must agree with check, request by request.
  for (const [loaded, items] of batches) {
    const decisions = loaded.engine.checkBatch(items.map((i) => i.request));
    items.forEach((item, i) => {
      const d = decisions[i];
      if (d.decision !== item.decision.decision || !same(d.reasons, item.decision.reasons)) {
        item.result.ok = false;
        item.result.message += `checkBatch disagrees: ${JSON.stringify(d)}`;
      }
    });
  }
  for (const { engine } of engines.values()) engine?.free();
  return results;
}
