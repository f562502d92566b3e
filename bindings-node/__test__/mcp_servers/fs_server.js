'use strict'
// A filesystem-like MCP server (@modelcontextprotocol/sdk) for the tests: the
// same tools, arguments and answers as bindings-python/tests/mcp_servers/fs_server.py.
//
// Files live under $WORKDIR (a tool's "/workspace/a.txt" is $WORKDIR/workspace/a.txt).
// Run as a script: GUARD=1 puts agentauthz/mcp in front (fixed agent $AGENT,
// bundle $BUNDLE); GUARD=0 runs it bare (for the proxy); LOW_LEVEL=1 uses the
// low-level Server. Writing ".../CRASH" exits the process mid-call.

const fs = require('node:fs')
const path = require('node:path')
const { McpServer } = require('@modelcontextprotocol/sdk/server/mcp.js')
const { Server } = require('@modelcontextprotocol/sdk/server/index.js')
const { CallToolRequestSchema, ListToolsRequestSchema } = require('@modelcontextprotocol/sdk/types.js')
const { z } = require('zod')

function tools(workdir) {
  const real = (p) => path.join(workdir(), String(p).replace(/^\/+/, ''))
  return {
    // Async handler.
    read_file: { args: ['path'], run: async ({ path: p }) => fs.promises.readFile(real(p), 'utf8') },
    write_file: {
      args: ['path', 'content'],
      run: ({ path: p, content }) => {
        if (String(p).endsWith('CRASH')) process.exit(3)
        fs.mkdirSync(path.dirname(real(p)), { recursive: true })
        fs.writeFileSync(real(p), content)
        return `wrote ${content.length} bytes`
      },
    },
    list_directory: { args: ['path'], run: ({ path: p }) => fs.readdirSync(real(p)).sort().join('\n') },
    get_file_info: { args: ['path'], run: ({ path: p }) => String(fs.statSync(real(p)).size) },
    // Not in the bundle's schema: never listed, never callable.
    move_file: {
      args: ['source', 'destination'],
      run: ({ source, destination }) => {
        fs.renameSync(real(source), real(destination))
        return 'moved'
      },
    },
  }
}

const text = (t) => ({ content: [{ type: 'text', text: t }] })

/** The server built with `McpServer.registerTool`; `calls` records every handler run. */
function buildMcpServer(workdir, calls = []) {
  const server = new McpServer({ name: 'fs', version: '1.0.0' })
  for (const [name, tool] of Object.entries(tools(workdir))) {
    const inputSchema = Object.fromEntries(tool.args.map((a) => [a, z.string()]))
    server.registerTool(name, { description: name, inputSchema }, async (args) => {
      calls.push(name)
      return text(await tool.run(args))
    })
  }
  return server
}

/** The server built with the low-level `Server` and its tools/list and tools/call handlers. */
function buildLowLevelServer(workdir, calls = []) {
  const server = new Server({ name: 'fs', version: '1.0.0' }, { capabilities: { tools: {} } })
  const all = tools(workdir)
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: Object.entries(all).map(([name, t]) => ({
      name,
      description: name,
      inputSchema: {
        type: 'object',
        properties: Object.fromEntries(t.args.map((a) => [a, { type: 'string' }])),
        required: t.args,
      },
    })),
  }))
  server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const tool = all[request.params.name]
    if (tool === undefined) return { ...text(`Unknown tool: ${request.params.name}`), isError: true }
    calls.push(request.params.name)
    return text(await tool.run(request.params.arguments ?? {}))
  })
  return server
}

module.exports = { buildMcpServer, buildLowLevelServer }

if (require.main === module) {
  const { StdioServerTransport } = require('@modelcontextprotocol/sdk/server/stdio.js')
  const workdir = () => process.env.WORKDIR ?? '.'
  const server = process.env.LOW_LEVEL === '1' ? buildLowLevelServer(workdir) : buildMcpServer(workdir)
  if (process.env.GUARD === '1') {
    const { Engine } = require('../..')
    const { guardMcpServer, fixedAgent } = require('../../mcp')
    guardMcpServer(server, { engine: Engine.load(process.env.BUNDLE), server: 'fs', identity: fixedAgent(process.env.AGENT) })
  }
  server.connect(new StdioServerTransport()).catch((e) => {
    process.stderr.write(`${e}\n`)
    process.exit(1)
  })
}
