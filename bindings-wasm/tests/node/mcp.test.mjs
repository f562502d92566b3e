// The MCP functions in the WASM package: the same core functions as Node's
// (schemaFromMcp, engine.mcpCheckCall, engine.mcpListableTools).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { REPO_ROOT, readBundleDir } from "../lib/bundle.mjs";

const require = createRequire(import.meta.url);
const { Engine, schemaFromMcp, RequestError, SchemaError } = require("../../pkg/node/node.js");

const WORKSPACE = "policies-examples/mcp-workspace";
const engine = Engine.fromStrings(readBundleDir(WORKSPACE));
const dev = { agent: "dev-agent" };

test("mcpCheckCall decides on the tool and its arguments", () => {
  const call = (args) => engine.mcpCheckCall({ identity: dev, server: "fs", tool: "write_file", arguments: args });
  assert.equal(call({ path: "/workspace/a", content: "" }).decision, "allow");
  const denied = call({ path: "/workspace/../etc/passwd", content: "" });
  assert.equal(denied.decision, "deny");
  assert.ok(denied.reasons.includes("mcp/fs-no-parent-segments"));
  assert.throws(() => engine.mcpCheckCall({ identity: dev, server: "fs", tool: 'x"y' }), RequestError);
  assert.throws(() => engine.mcpCheckCall({ identity: dev, server: "a:b", tool: "read_file" }), RequestError);
});

test("mcpListableTools lists what some request could be allowed for", () => {
  const tools = ["write_file", "read_file", "move_file", "bad name"];
  assert.deepEqual(engine.mcpListableTools({ identity: { agent: "review-agent" }, server: "fs", tools }), ["read_file"]);
  assert.deepEqual(engine.mcpListableTools({ identity: dev, server: "fs", tools }), ["write_file", "read_file"]);
  assert.deepEqual(engine.mcpListableTools({ identity: { agent: "paused-agent" }, server: "fs", tools }), []);
});

test("schemaFromMcp writes the schema fragment of a tools/list result", () => {
  const tools = JSON.parse(readFileSync(join(REPO_ROOT, WORKSPACE, "mcp", "fs.tools.json"), "utf8"));
  const schema = schemaFromMcp({ tools, server: "fs" });
  assert.ok(schema.actions.includes("fs:write_file"));
  assert.match(schema.text, /action "fs:write_file"/);
  assert.throws(() => schemaFromMcp({ tools: 7 }), SchemaError);
});
