"use strict";
// JS values to the core's JSON text, every failure a coded error.
//
// JSON.stringify is the fast path. When it throws (a cycle, a BigInt, a getter,
// `toJSON` or Proxy trap that throws, nesting past the JS stack, a text past
// the engine's string limit) a walk without recursion, bounded in depth and
// size, finds out why, so the caller gets an AuthzError with a code, never a
// RangeError or TypeError. Depth and size of a value that does serialize are
// the core's to judge (it refuses them before any recursive parser sees them).
Object.defineProperty(exports, "__esModule", { value: true });
exports.describe = describe;
exports.wireText = wireText;
/** Deepest nesting the walk follows (the core's request limit is lower). */
const MAX_DEPTH = 128;
/** Most values the walk visits before it calls the input too large. */
const MAX_VALUES = 1_000_000;
function describe(e) {
    if (e instanceof Error)
        return `${e.name}: ${e.message}`;
    try {
        return String(e);
    }
    catch {
        return typeof e;
    }
}
/** Why `value` has no JSON text: `[code, message]`. Runs the same user code
 * JSON.stringify ran (getters, `toJSON`, Proxy traps); what it throws is the reason. */
function diagnose(value, thrown) {
    try {
        const stack = [{ value, key: "", depth: 0, exit: false }];
        const path = new Set();
        let visited = 0;
        while (stack.length > 0) {
            const frame = stack.pop();
            if (frame.exit) {
                path.delete(frame.value);
                continue;
            }
            let v = frame.value;
            if (v !== null && (typeof v === "object" || typeof v === "bigint")) {
                const toJSON = v.toJSON;
                if (typeof toJSON === "function")
                    v = toJSON.call(v, frame.key);
            }
            if (typeof v === "bigint")
                return ["request_parse", "a BigInt has no JSON form: pass a number or a string"];
            if (v === null || typeof v !== "object")
                continue;
            if (path.has(v))
                return ["input_too_deep", "it contains itself (a cycle), so it has no JSON form"];
            if (frame.depth >= MAX_DEPTH)
                return ["input_too_deep", `it is nested deeper than ${MAX_DEPTH} levels`];
            const keys = Array.isArray(v) ? null : Object.keys(v);
            const count = keys === null ? v.length : keys.length;
            visited += 1 + count;
            if (visited > MAX_VALUES)
                return ["input_too_large", `it holds more than ${MAX_VALUES} values`];
            path.add(v);
            stack.push({ value: v, key: "", depth: frame.depth, exit: true });
            for (let i = 0; i < count; i++) {
                const key = keys === null ? String(i) : keys[i];
                stack.push({ value: v[key], key, depth: frame.depth + 1, exit: false });
            }
        }
    }
    catch (e) {
        return ["request_parse", `reading it threw ${describe(e)}`];
    }
    // Nothing the walk can name: a string past the JS engine's limit, or user
    // code that threw only the first time.
    if (thrown instanceof RangeError)
        return ["input_too_large", `it is too large to serialize (${describe(thrown)})`];
    return ["request_parse", `it cannot be serialized as JSON (${describe(thrown)})`];
}
/**
 * The JSON text of `make()` (the wire form of an argument, built from the
 * caller's value). Any failure, in `make` or in serializing, throws
 * `errorFor(code, message, cause)`: `code` is the argument's parse code,
 * unless the value is too deep (`input_too_deep`, cycles too) or too large.
 */
function wireText(make, code, what, errorFor) {
    let value;
    let made = false;
    try {
        value = make();
        made = true;
        return JSON.stringify(value) ?? "null";
    }
    catch (e) {
        if (!made)
            throw errorFor(code, `${what}: reading it threw ${describe(e)}`, e);
        const [why, message] = diagnose(value, e);
        throw errorFor(why === "request_parse" ? code : why, `${what}: ${message}`, e);
    }
}
