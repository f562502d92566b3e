// Identity-provider tokens through the Node addon (the suite shared with the
// WASM package: tests/idp/suite.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { suite } from "../../tests/idp/suite.mjs";

const require = createRequire(import.meta.url);
const { Engine, ManualClock, TokenError, RequestError } = require("..");

suite({ test, assert, Engine, ManualClock, TokenError, RequestError });
