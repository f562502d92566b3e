'use strict'
// The LangChain.js middleware, written once over the `langchain` exports it
// needs, so that langchain.js (CommonJS) and langchain.mjs (ESM) each bind it
// to the build of `langchain` their caller uses.

const { Engine } = require('../index.js')

const DEFAULT_NAME = 'AgentauthzMiddleware'

/** A fixed value, or a function of (toolCall, request) that computes it. */
function resolve(option, toolCall, request) {
  return typeof option === 'function' ? option(toolCall, request) : option
}

function actionFor(option, toolCall, request) {
  if (option === undefined) return toolCall.name
  if (typeof option === 'function') return option(toolCall, request)
  // An object maps tool names to actions; a tool it does not list keeps its name.
  return Object.prototype.hasOwnProperty.call(option, toolCall.name) ? option[toolCall.name] : toolCall.name
}

function describe(action, resource) {
  const where = resource && typeof resource === 'object' ? ` on ${resource.type}::${JSON.stringify(resource.id)}` : ''
  return `${JSON.stringify(action)}${where}`
}

function build({ createMiddleware, ToolMessage }) {
  /**
   * A LangChain.js agent middleware that asks agentauthz before every tool call.
   * The tool name is the action (or `options.action` maps it), the tool call's
   * arguments are `context.input`. On a deny, or when the request cannot be
   * decided at all, the tool does not run: the model gets an error ToolMessage
   * that names the reasons.
   */
  function authorizationMiddleware(options) {
    if (options === null || typeof options !== 'object') throw new TypeError('authorizationMiddleware(options): options must be an object')
    const { engine, agent, resource } = options
    if (!(engine instanceof Engine)) throw new TypeError('authorizationMiddleware: `engine` must be an agentauthz Engine')
    if (agent === undefined) throw new TypeError('authorizationMiddleware: `agent` is required (the agent id, or a function of the tool call)')
    if (resource === undefined) throw new TypeError('authorizationMiddleware: `resource` is required ({type, id}, or a function of the tool call)')

    function requestFor(toolCall, request) {
      const context = { ...(resolve(options.context, toolCall, request) ?? {}) }
      const input = options.input === undefined ? toolCall.args : resolve(options.input, toolCall, request)
      if (input !== undefined) context.input = input
      const now = options.now === undefined ? undefined : resolve(options.now, toolCall, request)
      return {
        agent: resolve(agent, toolCall, request),
        action: actionFor(options.action, toolCall, request),
        resource: resolve(resource, toolCall, request),
        task: resolve(options.task, toolCall, request),
        onBehalfOf: resolve(options.onBehalfOf, toolCall, request),
        credential: resolve(options.credential, toolCall, request),
        context,
        now,
      }
    }

    function refuse(toolCall, content, artifact) {
      return new ToolMessage({
        content,
        tool_call_id: toolCall.id ?? '',
        name: toolCall.name,
        status: 'error',
        artifact,
      })
    }

    return createMiddleware({
      name: options.name ?? DEFAULT_NAME,
      wrapToolCall: async (request, handler) => {
        const toolCall = request.toolCall
        let checkRequest
        let decision
        try {
          checkRequest = requestFor(toolCall, request)
          decision = options.engine.check(checkRequest)
        } catch (error) {
          // Never fail open: a request that cannot be decided does not run.
          const what = checkRequest ? describe(checkRequest.action, checkRequest.resource) : JSON.stringify(toolCall.name)
          const code = error && error.code ? `${error.code}: ` : ''
          options.onError?.(error, toolCall)
          return refuse(toolCall, `Not authorized: agentauthz could not decide ${what} (${code}${error && error.message}).`, {
            agentauthz: { error: { code: error && error.code, message: error && error.message } },
          })
        }
        options.onDecision?.(decision, toolCall)
        if (decision.allowed) return handler(request)
        const why = decision.reasons.length > 0 ? `denied by ${decision.reasons.join(', ')}` : 'no policy permits it'
        return refuse(
          toolCall,
          `Not authorized: ${describe(checkRequest.action, checkRequest.resource)} was refused (${why}; decision ${decision.decisionId}).`,
          { agentauthz: decision.toJSON() },
        )
      },
    })
  }

  return { authorizationMiddleware }
}

module.exports = { build, DEFAULT_NAME }
