// A real identity provider: `oidc-provider` (a certified OpenID Provider,
// pinned in package.json) on 127.0.0.1 issues client-credentials JWT access
// tokens for this resource (RFC 8707); the engine fetches its JWKS from
// `jwks_uri`. Then the provider rotates its signing key (restarted with a new
// key first) while checks run: after the one refresh no allowed request fails.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { spawn } from "node:child_process";

const require = createRequire(import.meta.url);
const { Engine, ManualClock, TokenError } = require("..");

const OP = fileURLToPath(new URL("./fixtures/oidc-op.mjs", import.meta.url));
const AUD = "https://tools.test/mcp";

const CLIENTS = ["ci-bot", "report-bot", "stranger-bot", "bobs-bot"].map((id) => ({
  client_id: id,
  client_secret: `secret-of-${id}-0123456789abcdef`,
  grant_types: ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
  redirect_uris: [],
  response_types: [],
  token_endpoint_auth_method: "client_secret_basic",
}));

const SCHEMA = `
entity Tool;
type TokenInfo = { issuer: String, client_id?: String, scopes: Set<String>, actors: Set<String> };
action "tools:call" appliesTo { principal: [Agent], resource: [Tool], context: { token?: TokenInfo } };
`;
const POLICIES = `
@id("call-with-scope")
permit (principal, action == Action::"tools:call", resource)
when { context has token && context.token.scopes.contains("tools.call") };
`;
const INVENTORY = `
users:
  - {id: alice}
  - {id: bob, active: false}
agents:
  - {id: ci-bot, owner: alice}
  - {id: report-bot, owner: alice}
  - {id: bobs-bot, owner: bob}
`;

/** Starts the provider (__test__/fixtures/oidc-op.mjs) in its own process --
 * the engine fetches the JWKS synchronously, so the provider may not share
 * this event loop -- for `issuer` ("" : http://127.0.0.1:<port>) on `port`
 * (0: any) with the keys `files` ("rsa2.pem:rsa-2,..."). Resolves {child, port}. */
function start(issuer, port, files) {
  const child = spawn(process.execPath, [OP, issuer, String(port), files], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = /listening (\d+)/.exec(out);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.once("exit", (code) => reject(new Error(`oidc-op exited ${code}`)));
  });
}

function stop(op) {
  return new Promise((resolve) => {
    if (op.child.exitCode !== null) return resolve();
    op.child.once("exit", () => resolve());
    op.child.kill();
  });
}

async function token(issuer, client, resource = AUD) {
  const c = CLIENTS.find((x) => x.client_id === client);
  const res = await fetch(`${issuer}/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ grant_type: "client_credentials", scope: "tools.call", resource }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.access_token;
}

test("oidc-provider: client-credentials tokens, hostile classes, key rotation", async () => {
  let op = await start("", 0, "rsa1.pem:rsa-1");
  const port = op.port;
  const issuer = `http://127.0.0.1:${port}`;
  try {
    const clock = new ManualClock(new Date());
    const config = `[identity]\naudience = "${AUD}"\n[identity.issuers.op]\nissuer = "${issuer}"\njwks_url = "${issuer}/jwks"\nrefresh_min_seconds = 30\n`;
    const engine = Engine.fromStrings({ schema: SCHEMA, policies: POLICIES, inventory: INVENTORY, config }, { clock });
    const check = (t) => engine.check({ token: t, action: "tools:call", resource: { type: "Tool", id: "search" } });
    const codeOf = (t) => {
      try {
        check(t);
      } catch (e) {
        assert.ok(e instanceof TokenError, String(e));
        return e.code;
      }
      return "no error";
    };

    // Two agents, each allowed by its scope.
    const ci = await token(issuer, "ci-bot");
    const report = await token(issuer, "report-bot");
    assert.equal(check(ci).allowed, true);
    assert.equal(check(report).allowed, true);
    assert.equal(engine.verifyToken(ci).agent, "ci-bot");
    // Not in the inventory; owner deprovisioned.
    assert.deepEqual(check(await token(issuer, "stranger-bot")).reasons, ["baseline/unknown-agent"]);
    assert.ok(check(await token(issuer, "bobs-bot")).reasons.includes("baseline/owner-required"));
    // Another resource's token.
    assert.equal(codeOf(await token(issuer, "ci-bot", "https://other.test/")), "token_audience");
    // Expired and not yet valid, by the engine clock.
    clock.advance(700);
    assert.equal(codeOf(ci), "token_expired");
    clock.set(new Date(Date.now() - 3_600_000));
    assert.equal(codeOf(ci), "token_expired");
    clock.set(new Date());

    // Rotation: the provider restarts signing with rsa-2 (rsa-1 still published).
    await stop(op);
    op = await start(issuer, port, "rsa2.pem:rsa-2,rsa1.pem:rsa-1");
    const rotated = await token(issuer, "ci-bot");
    const header = JSON.parse(Buffer.from(rotated.split(".")[0], "base64url").toString());
    assert.equal(header.kid, "rsa-2");
    // Within the refresh interval the unknown kid is refused without a fetch;
    // once it has passed, one refresh, and no allowed request fails after it.
    assert.equal(codeOf(rotated), "token_invalid");
    clock.advance(31);
    for (let i = 0; i < 50; i++) {
      assert.equal(check(rotated).allowed, true, `rotated #${i}`);
      assert.equal(check(ci).allowed, true, `old #${i}`);
    }
    // Another provider's token (another `iss`) is from an unknown issuer.
    const other = await start("", 0, "rsa1.pem:rsa-1");
    try {
      const foreign = await token(`http://127.0.0.1:${other.port}`, "ci-bot");
      assert.equal(codeOf(foreign), "issuer_unknown");
    } finally {
      await stop(other);
    }
  } finally {
    await stop(op);
  }
});

/** A delegated token (RFC 8693 token exchange): `client` acting for `user`. */
async function exchanged(issuer, client, user) {
  const c = CLIENTS.find((x) => x.client_id === client);
  const res = await fetch(`${issuer}/token`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${c.client_id}:${c.client_secret}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({
      grant_type: "urn:ietf:params:oauth:grant-type:token-exchange",
      subject_token: user,
      subject_token_type: "urn:ietf:params:oauth:token-type:access_token",
      resource: AUD,
    }),
  });
  const body = await res.json();
  assert.equal(res.status, 200, JSON.stringify(body));
  return body.access_token;
}

test("oidc-provider: a delegated token (token exchange) acts for its user", async () => {
  const op = await start("", 0, "rsa1.pem:rsa-1");
  const issuer = `http://127.0.0.1:${op.port}`;
  try {
    const config = `[identity]\naudience = "${AUD}"\n[identity.issuers.op]\nissuer = "${issuer}"\njwks_url = "${issuer}/jwks"\n`;
    const engine = Engine.fromStrings({ schema: SCHEMA, policies: POLICIES, inventory: INVENTORY, config });
    const records = [];
    engine.setDecisionLog((r) => records.push(r));
    const check = (t) => engine.check({ token: t, action: "tools:call", resource: { type: "Tool", id: "search" } });

    const forAlice = await exchanged(issuer, "ci-bot", "alice");
    const payload = JSON.parse(Buffer.from(forAlice.split(".")[1], "base64url").toString());
    assert.equal(payload.sub, "alice");
    assert.deepEqual(payload.act, { sub: "ci-bot" });
    const claims = engine.verifyToken(forAlice);
    assert.equal(claims.agent, "ci-bot");
    assert.equal(claims.on_behalf_of, "alice");
    assert.deepEqual(claims.actors, ["ci-bot"]);
    assert.equal(check(forAlice).allowed, true);
    const r = records.at(-1);
    assert.equal(r.agent, "ci-bot");
    assert.equal(r.on_behalf_of, "alice");
    assert.ok(!JSON.stringify(r).includes(forAlice.split(".")[2]), "the record never holds the token");

    // Acting for a deprovisioned user, or one the inventory does not know: denied.
    assert.equal(check(await exchanged(issuer, "ci-bot", "bob")).allowed, false);
    assert.deepEqual(check(await exchanged(issuer, "ci-bot", "mallory")).reasons, ["baseline/unknown-on-behalf-of"]);
    // An agent outside the inventory acting for alice: unknown agent.
    assert.deepEqual(check(await exchanged(issuer, "stranger-bot", "alice")).reasons, ["baseline/unknown-agent"]);
  } finally {
    await stop(op);
  }
});
