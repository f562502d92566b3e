// The identity-provider token suite, shared by the Node addon's and the WASM
// package's tests: tokens signed here with node:crypto and the locally
// generated keys of core/tests/identity/; every hostile class must be the
// right coded error (a TokenError) or a deny, never an allow.
import { createPrivateKey, createHmac, sign as cryptoSign } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const KEYS = fileURLToPath(new URL("../../core/tests/identity/", import.meta.url));
const key = (name) => readFileSync(KEYS + name, "utf8");
export const ISS = "https://idp.test";
export const AUD = "https://tools.test/mcp";
const T0 = 1_795_946_400; // 2026-11-29T10:00:00Z

export const SCHEMA = `
entity Tool;
type TokenInfo = {
  issuer: String, subject?: String, client_id?: String, jti?: String,
  scopes: Set<String>, actors: Set<String>
};
action "tools:call" appliesTo {
  principal: [Agent], resource: [Tool], context: { token?: TokenInfo }
};
`;
export const POLICIES = `
@id("call-with-scope")
permit (principal, action == Action::"tools:call", resource)
when { context has token && context.token.scopes.contains("tools.call") };
`;
export const INVENTORY = `
users:
  - {id: alice}
  - {id: bob, active: false}
agents:
  - {id: ci-bot, owner: alice}
  - {id: bobs-bot, owner: bob}
`;

export function config() {
  const jwks = key("jwks.json").replace(/\n/g, "");
  return `[identity]\naudience = "${AUD}"\n[identity.issuers.corp]\nissuer = "${ISS}"\njwks = '${jwks}'\n`;
}

const b64 = (buf) => Buffer.from(buf).toString("base64url");

export function claims(client = "ci-bot", changes = {}) {
  const c = {
    iss: ISS, aud: AUD, client_id: client, sub: client,
    iat: T0 - 10, exp: T0 + 300, jti: `jti-${client}`, scope: "tools.call", ...changes,
  };
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return c;
}

export function sign(c, { alg = "RS256", kid = "rsa-1", pem = "rsa1.pem" } = {}) {
  const input = `${b64(JSON.stringify({ alg, kid, typ: "JWT" }))}.${b64(JSON.stringify(c))}`;
  const k = createPrivateKey(key(pem));
  let sig;
  if (alg === "RS256") sig = cryptoSign("sha256", Buffer.from(input), k);
  else if (alg === "PS256") sig = cryptoSign("sha256", Buffer.from(input), { key: k, padding: 6, saltLength: 32 });
  else if (alg === "ES256") sig = cryptoSign("sha256", Buffer.from(input), { key: k, dsaEncoding: "ieee-p1363" });
  else if (alg === "EdDSA") sig = cryptoSign(null, Buffer.from(input), k);
  else throw new Error(alg);
  return `${input}.${b64(sig)}`;
}

/** Registers the suite: `make(options)` builds an engine on the manual clock. */
export function suite({ test, assert, Engine, ManualClock, TokenError, RequestError }) {
  const engine = (extra = {}) =>
    Engine.fromStrings(
      { schema: SCHEMA, policies: POLICIES, inventory: INVENTORY, config: config() },
      { clock: new ManualClock("2026-11-29T10:00:00Z"), ...extra },
    );
  const check = (e, token, more = {}) => e.check({ token, action: "tools:call", resource: { type: "Tool", id: "s" }, ...more });
  const code = (e, token) => {
    try {
      check(e, token);
    } catch (err) {
      assert.ok(err instanceof TokenError, `${err}`);
      return err.code;
    }
    assert.fail("no error");
  };

  test("idp tokens: a valid token is allowed by its scope, with every algorithm", () => {
    const e = engine();
    const d = check(e, sign(claims()));
    assert.equal(d.allowed, true);
    assert.deepEqual(d.reasons, ["call-with-scope"]);
    assert.equal(check(e, sign(claims("ci-bot", { scope: "openid" }))).allowed, false);
    for (const [alg, kid, pem] of [["PS256", "rsa-1", "rsa1.pem"], ["ES256", "ec-1", "ec1.pem"], ["EdDSA", "ed-1", "ed1.pem"]]) {
      assert.equal(check(e, sign(claims(), { alg, kid, pem })).allowed, true, alg);
    }
  });

  test("idp tokens: hostile classes are refused with their codes", () => {
    const e = engine();
    assert.equal(code(e, sign(claims("ci-bot", { aud: "https://other.test" }))), "token_audience");
    assert.equal(code(e, sign(claims("ci-bot", { iss: "https://evil.test" }))), "issuer_unknown");
    assert.equal(code(e, sign(claims("ci-bot", { exp: T0 - 120 }))), "token_expired");
    assert.equal(code(e, sign(claims("ci-bot", { nbf: T0 + 600 }))), "token_expired");
    const body = b64(JSON.stringify(claims()));
    const none = b64(JSON.stringify({ alg: "none" }));
    assert.equal(code(e, `${none}.${body}.`), "token_invalid");
    assert.equal(code(e, `${none}.${body}.AAAA`), "token_invalid");
    const hs = b64(JSON.stringify({ alg: "HS256", kid: "rsa-1" }));
    const mac = createHmac("sha256", key("rsa1.pub.pem")).update(`${hs}.${body}`).digest();
    assert.equal(code(e, `${hs}.${body}.${b64(mac)}`), "token_invalid");
    assert.equal(code(e, sign(claims(), { kid: "rsa-2", pem: "rsa2.pem" })), "token_invalid");
    for (const t of ["", "x", "a.b.c", "a".repeat(20000)]) assert.equal(code(e, t), "token_invalid");
  });

  test("idp tokens: unknown and deprovisioned agents are denied", () => {
    const e = engine();
    const d = check(e, sign(claims("stranger")));
    assert.equal(d.allowed, false);
    assert.deepEqual(d.reasons, ["baseline/unknown-agent"]);
    assert.ok(check(e, sign(claims("bobs-bot"))).reasons.includes("baseline/owner-required"));
  });

  test("idp tokens: keys given as data, delegation, no forged context", () => {
    const e = engine();
    const rotated = sign(claims(), { kid: "rsa-2", pem: "rsa2.pem" });
    assert.equal(code(e, rotated), "token_invalid");
    e.setIssuerJwks(ISS, JSON.parse(key("jwks-rotated.json")));
    assert.equal(check(e, rotated).allowed, true);
    const delegated = sign(claims("x", { sub: "alice", client_id: undefined, act: { client_id: "ci-bot", sub: "ci-bot", act: { sub: "gw" } } }));
    const c = e.verifyToken(delegated);
    assert.equal(c.agent, "ci-bot");
    assert.equal(c.on_behalf_of, "alice");
    assert.deepEqual(c.actors, ["ci-bot", "gw"]);
    assert.throws(
      () => check(e, sign(claims("ci-bot", { scope: "openid" })), { context: { token: { issuer: ISS, scopes: ["tools.call"], actors: [] } } }),
      (err) => err instanceof RequestError,
    );
    assert.throws(() => check(e, sign(claims()), { agent: "ci-bot" }), (err) => err instanceof RequestError);
  });

  test("idp tokens: records carry provenance, never the token", () => {
    const records = [];
    const e = engine({ decisionLog: (r) => records.push(r) });
    const good = sign(claims());
    const bad = sign(claims("ci-bot", { aud: "https://other.test" }));
    assert.equal(check(e, good).allowed, true);
    assert.throws(() => check(e, bad));
    assert.equal(records.length, 2);
    assert.equal(records[0].context.token.issuer, ISS);
    assert.deepEqual(records[1].principal, { type: "Token", id: "unverified" });
    const text = JSON.stringify(records);
    for (const t of [good, bad]) for (const part of t.split(".")) assert.ok(!text.includes(part));
    const d = e.checkToolCall({ tool: "search", action: "tools:call", resource: { type: "Tool", id: "s" }, token: good });
    assert.equal(d.allowed, true);
  });
}
