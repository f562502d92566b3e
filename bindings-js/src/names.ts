// Name mapping between the JS API (camelCase, Dates) and the core's wire
// format (snake_case, RFC 3339 text), one table per argument. A field may be
// given in its JS or its wire spelling, never both: the two can never both
// reach the core, or one silently win.

import { codedError, type ErrorCode } from "./errors.js";
import type { Grant, SessionClaims } from "./types.js";
import type { GrantWire, SessionClaimsWire } from "./wire-types.js";

type Renames = Readonly<Record<string, string>>;

export const REQUEST_KEYS: Renames = { onBehalfOf: "on_behalf_of" };
export const GRANT_KEYS: Renames = { ttlSeconds: "ttl_seconds", grantedBy: "granted_by" };
export const TASK_KEYS: Renames = { notBefore: "not_before", notAfter: "not_after", onBehalfOf: "on_behalf_of" };
export const SESSION_INPUT_KEYS: Renames = { ttlSeconds: "ttl_seconds" };

/** A Date as RFC 3339 text (an invalid Date as text, which the core rejects). */
export function timeText(value: unknown): unknown {
  if (!(value instanceof Date)) return value;
  return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
}

/**
 * `object` with its JS key spellings renamed to the wire's, Dates as RFC 3339
 * text and undefined members left out; other keys pass through (the core
 * rejects unknown ones). A field given in both spellings is a `code` error.
 */
export function renamed(object: unknown, renames: Renames, code: ErrorCode, what: string): unknown {
  if (object === null || typeof object !== "object" || Array.isArray(object)) {
    return object === undefined ? null : object;
  }
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(object as Record<string, unknown>)) {
    if (value === undefined) continue;
    const wire = renames[key] ?? key;
    if (Object.hasOwn(out, wire)) {
      const js = Object.keys(renames).find((k) => renames[k] === wire);
      throw codedError(code, `${what}: give \`${js}\` or \`${wire}\`, not both`);
    }
    out[wire] = timeText(value);
  }
  return out;
}

/**
 * The wire form of a request (agent, Cedar or session form): `onBehalfOf` →
 * `on_behalf_of`, `now` as RFC 3339 text. The request itself when nothing
 * needs renaming (the fast path: no copy; the wire spelling passes as is).
 */
export function requestToWire(request: unknown): unknown {
  if (request === null || typeof request !== "object" || Array.isArray(request)) {
    return request === undefined ? null : request;
  }
  const r = request as Record<string, unknown>;
  if (r.onBehalfOf === undefined && !(r.now instanceof Date)) return request;
  return renamed(request, REQUEST_KEYS, "request_parse", "request");
}

/** A wire grant (`granted_by`) in its JS spelling (`grantedBy`). */
export function grantFromWire(wire: GrantWire): Grant {
  const { granted_by: grantedBy, ...rest } = wire;
  return { ...rest, grantedBy } as Grant;
}

/** Wire claims (snake_case) in their JS spelling; times stay ms since the epoch. */
export function claimsFromWire(c: SessionClaimsWire): SessionClaims {
  const claims: SessionClaims = {
    sessionId: c.session_id,
    agent: c.agent,
    audience: c.audience,
    issuedAt: c.issued_at,
    notBefore: c.not_before,
    expiresAt: c.expires_at,
  };
  if (c.task !== undefined && c.task !== null) claims.task = c.task;
  if (c.issuer !== undefined && c.issuer !== null) claims.issuer = c.issuer;
  return claims;
}
