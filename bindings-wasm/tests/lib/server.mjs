// A tiny static file server on 127.0.0.1 for the browser tests and the
// playground. Serves the repository read-only, plus two JSON endpoints:
//   /api/vectors          the vector file paths (repository-relative)
//   /api/scenarios        the shared scenario file paths (repository-relative)
//   /api/bundle?dir=DIR   a bundle directory as fromStrings input
// Run `node tests/lib/server.mjs [port]` to open the playground by hand.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { extname, join, normalize, sep } from "node:path";
import { REPO_ROOT, readBundleDir, scenarioFiles, vectorFiles } from "./bundle.mjs";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".ts": "text/plain; charset=utf-8",
  ".cedar": "text/plain; charset=utf-8",
  ".cedarschema": "text/plain; charset=utf-8",
  ".yaml": "text/plain; charset=utf-8",
  ".toml": "text/plain; charset=utf-8",
};

function send(res, status, type, body) {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

async function handle(req, res) {
  const url = new URL(req.url, "http://127.0.0.1");
  if (url.pathname === "/api/vectors") {
    return send(res, 200, TYPES[".json"], JSON.stringify(vectorFiles()));
  }
  if (url.pathname === "/api/scenarios") {
    return send(res, 200, TYPES[".json"], JSON.stringify(scenarioFiles()));
  }
  if (url.pathname === "/api/bundle") {
    try {
      return send(res, 200, TYPES[".json"], JSON.stringify(readBundleDir(url.searchParams.get("dir") ?? "")));
    } catch (e) {
      return send(res, 404, "text/plain", String(e));
    }
  }
  let path = normalize(join(REPO_ROOT, decodeURIComponent(url.pathname)));
  if (path !== REPO_ROOT && !path.startsWith(REPO_ROOT + sep)) return send(res, 403, "text/plain", "forbidden");
  if (url.pathname.endsWith("/")) path = join(path, "index.html");
  try {
    const body = await readFile(path);
    return send(res, 200, TYPES[extname(path)] ?? "application/octet-stream", body);
  } catch {
    return send(res, 404, "text/plain", "not found");
  }
}

/** Starts the server on 127.0.0.1 (`port` 0: any free port). */
export function startServer(port = 0) {
  const server = createServer((req, res) => {
    handle(req, res).catch((e) => send(res, 500, "text/plain", String(e)));
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      const { port: actual } = server.address();
      resolve({
        origin: `http://127.0.0.1:${actual}`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const { origin } = await startServer(Number(process.argv[2] ?? 8377));
  console.log(`playground: ${origin}/bindings-wasm/playground/`);
}
