// Typed usage of the session API, checked with `tsc --noEmit` against the
// generated declarations. The lines marked with ts-expect-error must fail to type-check.
import * as node from "../../pkg/node/node.js";
import type { IssuedSession, SessionClaims, SessionKeyPair, SessionRequest } from "../../pkg/node/node.js";

const engine = node.Engine.fromStrings({ schema: "", policies: "" });
const key: SessionKeyPair = node.generateSessionKey("k1");
engine.setSessionKeys({ signing: { kid: key.kid, key: key.secret } });
const issued: IssuedSession = engine.issueSession({ agent: "etl", ttlSeconds: 60 });
const claims: SessionClaims = engine.verifySession(issued.token, { audience: "tools" });
const expires: number = claims.expiresAt;
const request: SessionRequest = { session: issued.token, action: "a", resource: { type: "T", id: "1" } };
const d: node.Decision = engine.check(request);
engine.revokeSession(claims.sessionId, { by: "alice" });
const publicKeys: Record<string, string> = engine.sessionPublicKeys();
// @ts-expect-error: revoking needs {by}
engine.revokeSession(claims.sessionId);
// @ts-expect-error: an agent is required
engine.issueSession({ ttlSeconds: 60 });
void [expires, d, publicKeys];
