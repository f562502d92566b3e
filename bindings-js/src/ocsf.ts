// Decision records as OCSF 1.5.0 API Activity events: the core's one mapping
// (the one `agentauthz log export --format ocsf` and the OTLP exporter use),
// reached through the loader's native entry.

import { stringify } from "./engine.js";
import { call, codedError } from "./errors.js";
import type { DecisionRecord } from "./wire-types.js";

/** An OCSF 1.5.0 API Activity event (class_uid 6003), as JSON. */
export type OcsfEvent = { [key: string]: unknown };

/** The native entry: a record as JSON text in, its OCSF event as JSON text out. */
export type RecordToOcsf = (record: string) => string;

let native: RecordToOcsf | undefined;

/** Called by `bind`. */
export function bindOcsf(entry: RecordToOcsf): void {
  native = entry;
}

/**
 * A decision record, as a decision-log callback receives it, as its OCSF 1.5.0
 * API Activity event. Anything that is not a decision record throws a
 * `LogError` (`log_corrupt`).
 */
export function toOcsf(record: DecisionRecord): OcsfEvent {
  const entry = native;
  if (entry === undefined) throw codedError("internal", "agentauthz native module is not bound");
  if (record === null || typeof record !== "object" || Array.isArray(record)) {
    throw codedError("log_corrupt", "not a decision record: expected an object");
  }
  const text = stringify(() => record, "log_corrupt", "record");
  return JSON.parse(call(() => entry(text), "log_corrupt")) as OcsfEvent;
}
