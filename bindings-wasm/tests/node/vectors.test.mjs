// The shared vectors under Node, through the WASM package's nodejs build.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { api } from "../lib/package.mjs";
import { REPO_ROOT, readBundleDir, vectorFiles } from "../lib/bundle.mjs";
import { runVectorFile } from "../lib/vectors.mjs";


const files = vectorFiles();

test("there are vector files", () => {
  assert.ok(files.length > 0);
});

for (const path of files) {
  const file = JSON.parse(readFileSync(join(REPO_ROOT, path), "utf8"));
  test(path, async (t) => {
    const results = await runVectorFile(api, file, (spec) => (typeof spec === "string" ? readBundleDir(spec) : spec));
    assert.equal(results.length, file.vectors.length);
    for (const r of results) {
      await t.test(r.name, () => assert.ok(r.ok, r.message));
    }
  });
}
