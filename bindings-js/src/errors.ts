// Errors: one `AuthzError` subclass per family. Only the family → class map is
// written here; which code belongs to which family comes from the core's
// `errorCodes()`, handed over by the loader when it binds the native module.

import type { ErrorCode, ErrorFamily } from "./generated/codes.js";
import type { Detail } from "./generated/Detail";
import type { Location } from "./generated/Location";
import { describe } from "./wire.js";

export type { ErrorCode, ErrorFamily } from "./generated/codes.js";

/** The `code` and `family` of a stable error code. */
export interface ErrorCodeInfo {
  code: ErrorCode;
  family: ErrorFamily;
}

/** Where in a bundle file a problem was found (1-based). */
export type ErrorLocation = Location;

/** One problem of an error, located where the core knows the place. */
export type ErrorDetail = Detail;

/** Every error agentauthz throws: a stable `code`, its `family`, and located details. */
export class AuthzError extends Error {
  /** The core's stable code, e.g. `"policy_parse"`. */
  readonly code: ErrorCode;
  readonly family: ErrorFamily;
  /** One entry per problem, located where the core knows the place. */
  readonly details: ErrorDetail[];

  constructor(message: string, info: { code?: ErrorCode; family?: ErrorFamily; details?: ErrorDetail[] } = {}) {
    super(message);
    this.name = new.target.name;
    this.code = info.code ?? "internal";
    this.family = info.family ?? familyOf(this.code) ?? "internal";
    this.details = info.details ?? [{ message }];
  }
}

/** `io`, `bundle_invalid`, `config_invalid`; signed bundles:
 * `bundle_archive_invalid`, `bundle_signature_invalid`, `bundle_unavailable`. */
export class BundleError extends AuthzError {}
/** `schema_parse`, `schema_invalid`. */
export class SchemaError extends AuthzError {}
/** `policy_parse`, `policy_id_missing`, `policy_id_duplicate`, `policy_invalid`, `policy_may_error`. */
export class PolicyError extends AuthzError {}
/** `inventory_parse`, `inventory_invalid`. */
export class InventoryError extends AuthzError {}
/** `request_parse`, `request_invalid`. */
export class RequestError extends AuthzError {}
/** `test_invalid`. */
export class TestError extends AuthzError {}
/** `grant_invalid`, `lifecycle_invalid`: a grant or lifecycle change names
 * something unknown, has a bad window, or is not allowed in the agent's state. */
export class LifecycleError extends AuthzError {}
/** `journal_corrupt`, `journal_locked`. */
export class JournalError extends AuthzError {}
/** `log_locked`, `log_corrupt`. */
export class LogError extends AuthzError {}
/** `session_invalid`, `session_expired`, `session_revoked`, `key_invalid`. */
export class SessionError extends AuthzError {}
/** `token_invalid`, `token_expired`, `token_audience`, `issuer_unknown`, `jwks_unavailable`: an identity provider's token is not acceptable. */
export class TokenError extends AuthzError {}
/** `input_too_deep` (a cycle too), `input_too_large`: an input past a `[limits]` bound, refused before it was parsed. */
export class LimitError extends AuthzError {}
/** `internal`: a bug; the operation was refused. */
export class InternalError extends AuthzError {}

/** The one hand-written table: each family's class. */
const FAMILY_CLASSES: Record<ErrorFamily, typeof AuthzError> = {
  bundle: BundleError,
  schema: SchemaError,
  policy: PolicyError,
  inventory: InventoryError,
  request: RequestError,
  test: TestError,
  lifecycle: LifecycleError,
  journal: JournalError,
  log: LogError,
  session: SessionError,
  limit: LimitError,
  token: TokenError,
  internal: InternalError,
};

/** code → family, from the core (set by `bindCodes`). */
let FAMILIES = new Map<string, ErrorFamily>();

/** The JS table of error codes; it equals the core's `errorCodes()` (filled in place by `bindCodes`). */
export const ERROR_CODES: ErrorCodeInfo[] = [];

/** Builds the code table from the core's list; a family without a class is an internal error (fail loudly at import). */
export function bindCodes(codes: readonly { code: string; family: string }[]): void {
  // A loader evaluated again (a module registry reset) binds the same table.
  if (Object.isFrozen(ERROR_CODES)) return;
  const families = new Map<string, ErrorFamily>();
  const table: ErrorCodeInfo[] = [];
  for (const { code, family } of codes) {
    if (!Object.hasOwn(FAMILY_CLASSES, family)) {
      throw new InternalError(`[internal] error family ${JSON.stringify(family)} of ${code} has no class`, { code: "internal" });
    }
    families.set(code, family as ErrorFamily);
    table.push(Object.freeze({ code: code as ErrorCode, family: family as ErrorFamily }));
  }
  FAMILIES = families;
  ERROR_CODES.splice(0, ERROR_CODES.length, ...table);
  Object.freeze(ERROR_CODES);
}

function familyOf(code: string): ErrorFamily | undefined {
  return FAMILIES.get(code);
}

export function isKnownCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && FAMILIES.has(code);
}

/** The `AuthzError` subclass for a code (`AuthzError` for an unknown one). */
export function errorClassFor(code: string): typeof AuthzError {
  const family = familyOf(code);
  return family === undefined ? AuthzError : FAMILY_CLASSES[family];
}

/** An AuthzError made here, for bad arguments the core never sees. */
export function codedError(code: string, message: string, cause?: unknown): AuthzError {
  if (cause instanceof AuthzError) return cause;
  const known: ErrorCode = isKnownCode(code) ? code : "internal";
  const error = new (errorClassFor(known))(`[${known}] ${message}`, { code: known, details: [{ message }] });
  if (cause !== undefined) Object.defineProperty(error, "cause", { value: cause, configurable: true, writable: true });
  return error;
}

/** What a loader does with a thrown value that is not a core error (napi
 * refusing an argument, a WASM trap): `[code, message]` of the AuthzError. */
export type ForeignError = (e: unknown, code: ErrorCode) => [ErrorCode, string];

let foreign: ForeignError = (e, code) => [code, `invalid argument: ${describe(e)}`];
let onPanic: () => void = () => {};

/** Sets how a loader's non-core failures and core panics are handled. */
export function bindFailures(hooks: { foreign?: ForeignError; onPanic?: () => void }): void {
  if (hooks.foreign !== undefined) foreign = hooks.foreign;
  if (hooks.onPanic !== undefined) onPanic = hooks.onPanic;
}

/**
 * The thrown value of a native call as an AuthzError. A core error carries
 * `code` and either the core's error JSON as its message (napi) or the message
 * and `details` (wasm-bindgen, with `panic` after a caught panic).
 */
export function fromNative(e: unknown, code: ErrorCode = "internal"): AuthzError {
  if (e instanceof AuthzError) return e;
  const thrown = e as { code?: unknown; message?: unknown; details?: unknown; panic?: unknown };
  if (e instanceof Error && isKnownCode(thrown.code)) {
    const known = thrown.code;
    if (e.message.startsWith("{")) {
      let info: { code?: unknown; family?: ErrorFamily; message?: string; details?: ErrorDetail[] } | null = null;
      try {
        info = JSON.parse(e.message);
      } catch {
        info = null;
      }
      if (info !== null && info.code === known) {
        return new (errorClassFor(known))(String(info.message), { code: known, family: info.family, details: info.details ?? [] });
      }
    } else {
      if (thrown.panic === true) onPanic();
      const details = Array.isArray(thrown.details) ? (thrown.details as ErrorDetail[]) : [];
      return new (errorClassFor(known))(e.message, { code: known, details });
    }
  }
  const [why, message] = foreign(e, code);
  const error = codedError(why, message);
  Object.defineProperty(error, "cause", { value: e, configurable: true, writable: true });
  return error;
}

/** Runs a native call; anything it throws becomes an AuthzError (`code` unless the core gave its own). */
export function call<T>(f: () => T, code: ErrorCode = "internal"): T {
  try {
    return f();
  } catch (e) {
    throw fromNative(e, code);
  }
}

/** Runs `f` (which reads the caller's arguments: getters, Proxies); anything it throws becomes a `code` error. */
export function readArgs<T>(code: ErrorCode, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw codedError(code, `reading the arguments threw ${describe(e)}`, e);
  }
}

/** `value` if it is a string, else a `code` error (JS would coerce it on the way in). */
export function text(value: unknown, code: ErrorCode, what: string): string {
  if (typeof value !== "string") throw codedError(code, `${what} must be a string, not ${typeof value}`);
  return value;
}
