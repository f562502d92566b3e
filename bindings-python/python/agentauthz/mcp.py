"""agentauthz for servers built with the official MCP Python SDK (``mcp`` 2.x).

    from mcp.server.mcpserver import MCPServer
    from agentauthz.mcp import AuthorizationMiddleware, FixedAgent

    engine = agentauthz.Engine.load("policies-examples/mcp-workspace")
    guard = AuthorizationMiddleware(engine, server="fs", identity=FixedAgent("dev-agent"))
    server = MCPServer("fs", middleware=[guard])

Every ``tools/call`` is checked before its handler runs: the tool ``T`` of the
server ``S`` is the action ``"S:T"`` on ``McpServer::"S"`` with the call's
arguments as ``context.input`` (``agentauthz schema from-mcp`` writes that
schema). A denied call returns a tool error result carrying the reasons and
``decision_id``; the handler never runs. ``tools/list`` shows only the tools
the caller could be allowed to call (the list-time rule: some permit can apply
and no context-free forbid always denies); listing a tool never means a call
is allowed, each call is still checked.

Identity comes from a resolver, a callable ``(ctx) -> dict | None``:
``FixedAgent`` (a stdio server run for one agent; ``_meta`` is ignored),
``SessionFromMeta`` (an agentauthz session token in the request's ``_meta``),
``AccessTokenAgent`` (the OAuth access token the SDK already verified),
``BearerToken`` (the request's bearer token, an identity provider's JWT that
agentauthz verifies itself against ``[identity.issuers]``). No identity: the
call is denied and nothing is listed.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ._engine import Engine
from ._native import Decision, mcp_denied_result
from .errors import AuthzError

__all__ = [
    "SESSION_META_KEY",
    "AccessTokenAgent",
    "AuthorizationMiddleware",
    "BearerToken",
    "FixedAgent",
    "IdentityResolver",
    "SessionFromMeta",
]

logger = logging.getLogger("agentauthz.mcp")

SESSION_META_KEY = "agentauthz/session"
"""The ``_meta`` member ``SessionFromMeta`` reads the session token from."""

IdentityResolver = Callable[[Any], "dict[str, Any] | None"]
"""``(ctx) -> {"agent": id} | {"session": {"token", "audience"}} | {"bearer": jwt} | None``."""


class FixedAgent:
    """Every request is made by one agent (a stdio server started for it).
    Whatever a request's ``_meta`` claims is ignored."""

    def __init__(self, agent: str) -> None:
        if not isinstance(agent, str) or not agent:
            raise TypeError("FixedAgent needs an agent id")
        self.agent = agent

    def __call__(self, ctx: Any) -> dict[str, Any] | None:
        return {"agent": self.agent}


def _meta_of(ctx: Any) -> Mapping[str, Any]:
    params = getattr(ctx, "params", None)
    meta = params.get("_meta") if isinstance(params, Mapping) else None
    return meta if isinstance(meta, Mapping) else {}


class SessionFromMeta:
    """The agent and task of an agentauthz session token carried in the
    request's ``_meta`` (``{"agentauthz/session": "v4.public..."}``). The
    token is verified on every call (signature, window, audience, revocation)."""

    def __init__(self, *, key: str = SESSION_META_KEY, audience: str | None = None) -> None:
        self.key = key
        self.audience = audience

    def __call__(self, ctx: Any) -> dict[str, Any] | None:
        token = _meta_of(ctx).get(self.key)
        if not isinstance(token, str) or not token:
            return None
        return {"session": {"token": token, "audience": self.audience}}


class AccessTokenAgent:
    """The agent of the OAuth access token the SDK verified for this request
    (``mcp.server.auth.middleware.auth_context.get_access_token()``): by
    default its ``client_id``, or what ``agent_of(token)`` returns. With
    ``resource``, a token issued for another resource (RFC 8707 ``resource``)
    is refused."""

    def __init__(
        self,
        *,
        agent_of: Callable[[Any], str | None] | None = None,
        resource: str | None = None,
    ) -> None:
        self.agent_of = agent_of or (lambda token: token.client_id)
        self.resource = resource

    def __call__(self, ctx: Any) -> dict[str, Any] | None:
        from mcp.server.auth.middleware.auth_context import get_access_token

        token = get_access_token()
        if token is None:
            return None
        if self.resource is not None and token.resource != self.resource:
            return None
        agent = self.agent_of(token)
        return {"agent": agent} if isinstance(agent, str) and agent else None


class BearerToken:
    """The request's bearer token (an identity provider's JWT: OAuth 2.1 /
    OIDC access token, SPIFFE JWT-SVID), verified by agentauthz on every call
    against ``[identity.issuers]``: signature, issuer, this resource as
    audience (RFC 8707), expiry. The agent, the on-behalf-of user and
    ``context.token`` come from the token. Read from the SDK's auth context
    (``get_access_token().token``), or by ``token_of(ctx)`` when given."""

    def __init__(self, *, token_of: Callable[[Any], str | None] | None = None) -> None:
        self.token_of = token_of

    def __call__(self, ctx: Any) -> dict[str, Any] | None:
        if self.token_of is not None:
            token = self.token_of(ctx)
        else:
            from mcp.server.auth.middleware.auth_context import get_access_token

            access = get_access_token()
            token = getattr(access, "token", None) if access is not None else None
        if not isinstance(token, str) or not token:
            return None
        return {"bearer": token}


def _error_result(text: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True, "_meta": meta}


def _in_wire_form(ctx: Any, result: dict[str, Any]) -> dict[str, Any]:
    """A tool error result in the wire form of the connection's protocol
    version (a middleware that answers itself owns the whole envelope)."""
    version = getattr(ctx, "protocol_version", None)
    if isinstance(version, str):
        from mcp_types import methods
        from mcp_types.version import MODERN_PROTOCOL_VERSIONS

        if version in MODERN_PROTOCOL_VERSIONS:
            result["resultType"] = "complete"
        result = methods.serialize_server_result("tools/call", version, result)
    return result


class AuthorizationMiddleware:
    """``MCPServer(middleware=[...])`` / ``Server.middleware``: checks each
    ``tools/call`` before its handler and filters ``tools/list``.

    ``on_decision(method, tool, request_id, decision_or_error)`` is called for
    every tools/call check (e.g. to log it next to the engine's decision log).
    """

    def __init__(
        self,
        engine: Engine,
        *,
        server: str,
        identity: IdentityResolver,
        namespace: str | None = None,
        on_decision: Callable[[str, Any, Any, Decision | AuthzError], None] | None = None,
    ) -> None:
        self.engine = engine
        self.server = server
        self.identity = identity
        self.namespace = namespace
        self.on_decision = on_decision

    def _report(self, tool: Any, request_id: Any, outcome: Decision | AuthzError) -> None:
        if self.on_decision is not None:
            self.on_decision("tools/call", tool, request_id, outcome)

    async def __call__(self, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        method = getattr(ctx, "method", None)
        if method == "tools/call":
            return await self._call(ctx, call_next)
        if method == "tools/list":
            return await self._list(ctx, call_next)
        return await call_next(ctx)

    async def _call(self, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        params = ctx.params if isinstance(ctx.params, Mapping) else {}
        tool = params.get("name")
        request_id = getattr(ctx, "request_id", None)
        identity = self.identity(ctx)
        if identity is None:
            text = f"agentauthz denied tool {tool!r}: no identity for this request"
            meta = {"agentauthz/error": {"code": "session_invalid"}}
            return _in_wire_form(ctx, _error_result(text, meta))
        try:
            arguments = params.get("arguments")
            decision = self.engine.mcp_check_call(
                identity=identity,
                server=self.server,
                # Not a string: an empty name, which the core refuses (request_invalid).
                tool=tool if isinstance(tool, str) else "",
                arguments=arguments,
                namespace=self.namespace,
            )
        except AuthzError as e:
            self._report(tool, request_id, e)
            text = f"agentauthz refused tool {tool!r}: [{e.code}] {e}"
            meta = {"agentauthz/error": {"code": e.code, "message": str(e)}}
            return _in_wire_form(ctx, _error_result(text, meta))
        self._report(tool, request_id, decision)
        if not decision.allowed:
            # The core's answer to a denied call: the proxy's and the TS guard's too.
            name = tool if isinstance(tool, str) else ""
            return _in_wire_form(ctx, dict(mcp_denied_result(name, decision)))
        return await call_next(ctx)

    async def _list(self, ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
        result = await call_next(ctx)
        tools = result.get("tools") if isinstance(result, dict) else None
        if not isinstance(tools, list):
            return result
        identity = self.identity(ctx)
        listed: set[str] = set()
        if identity is not None:
            names = [
                t["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)
            ]
            try:
                listed = set(
                    self.engine.mcp_listable_tools(
                        identity=identity, server=self.server, tools=names, namespace=self.namespace
                    )
                )
            except AuthzError as e:
                logger.warning("tools/list: nothing listed: [%s] %s", e.code, e)
        kept = [t for t in tools if isinstance(t, dict) and t.get("name") in listed]
        return {**result, "tools": kept}
