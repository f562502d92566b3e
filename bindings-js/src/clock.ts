// `ManualClock`: a clock for tests over the native one. An engine built with
// `{clock}` judges every check, change and session at the clock's time.

import { call, codedError } from "./errors.js";
import { timeText } from "./names.js";

/** A binding's native manual clock (RFC 3339 text in and out). */
export interface NativeClock {
  set(at: string): void;
  advance(seconds: number): void;
  readonly now: string;
}

/** How a loader makes native clocks: `create` on the live instance; `epoch`
 * changes when the instance was replaced (WASM), so a clock is made again at
 * the time it last read. */
export interface ClockFactory {
  create(start: string): NativeClock;
  epoch?(): number;
}

let factory: ClockFactory | undefined;

/** Binds the loader's native clocks; once, at import. */
export function bindClock(f: ClockFactory): void {
  factory = f;
}

function bound(): ClockFactory {
  if (factory === undefined) throw codedError("internal", "agentauthz has no native clock bound");
  return factory;
}

function timeArg(value: unknown): string {
  const t = timeText(value);
  if (typeof t !== "string") throw codedError("request_invalid", "a time must be RFC 3339 text or a Date");
  return t;
}

/** A clock that reads what it was last set to (tests): pass it as `{clock}`
 * when building an engine; every check, change and session is judged at its
 * time. Bad input throws `RequestError` (`request_invalid`). */
export class ManualClock {
  #native: NativeClock;
  #epoch: number;
  /** The time last read, to make the clock again after an instance reset. */
  #now: string;

  /** A clock at `start` (RFC 3339 text or a Date). */
  constructor(start: string | Date) {
    const text = timeArg(start);
    const f = bound();
    this.#native = call(() => f.create(text), "request_invalid");
    this.#epoch = f.epoch?.() ?? 0;
    this.#now = this.#native.now;
  }

  /** Sets the clock to `at` (RFC 3339 text or a Date; earlier is allowed). */
  set(at: string | Date): void {
    const text = timeArg(at);
    const clock = ManualClock.nativeOf(this);
    call(() => clock.set(text), "request_invalid");
    this.#now = clock.now;
  }

  /** Moves the clock by `seconds` (fractions to the millisecond; negative moves it back). */
  advance(seconds: number): void {
    if (typeof seconds !== "number") throw codedError("request_invalid", "seconds must be a number");
    const clock = ManualClock.nativeOf(this);
    call(() => clock.advance(seconds), "request_invalid");
    this.#now = clock.now;
  }

  /** The clock's time, RFC 3339 (`2026-11-29T10:00:00.000Z`). */
  get now(): string {
    return this.#now;
  }

  /** The native clock on the live instance (made again at the last time after a reset). */
  static nativeOf(clock: ManualClock): NativeClock {
    const f = bound();
    const epoch = f.epoch?.() ?? 0;
    if (clock.#epoch !== epoch) {
      const now = clock.#now;
      clock.#native = call(() => f.create(now), "request_invalid");
      clock.#epoch = epoch;
    }
    return clock.#native;
  }

  /** `options.clock` of an engine constructor: a ManualClock, or null without one. */
  static option(value: unknown): ManualClock | null {
    if (value === undefined || value === null) return null;
    if (value instanceof ManualClock) return value;
    throw codedError("bundle_invalid", "`clock` must be a ManualClock");
  }
}
