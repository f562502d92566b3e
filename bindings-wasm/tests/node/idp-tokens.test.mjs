// Identity-provider tokens in the WASM package under Node, the JWKS given as
// data (the suite shared with the Node addon: tests/idp/suite.mjs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { suite } from "../../../tests/idp/suite.mjs";

const require = createRequire(import.meta.url);
const { Engine, ManualClock, TokenError, RequestError } = require("../../pkg/node/node.js");

suite({ test, assert, Engine, ManualClock, TokenError, RequestError });
