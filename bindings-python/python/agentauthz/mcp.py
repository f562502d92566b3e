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

Human approval: a call whose decision is ``needs_approval`` does not run; it
returns a tool error result saying approval is pending, with the decision id,
request digest and approvers (``_meta["agentauthz/approval"]``; never a
token). A human approves with ``engine.approve(decision_id, by=user)`` (the
engine checks that ``user`` may, with the action ``agentauthz:approve``) and
the client calls the tool again with the same arguments; it then runs once.

When the client declared the elicitation capability (form mode), the guard
also asks the client's user through MCP elicitation while the call waits (a
server-to-client request; on 2026-07-28 connections an ``input_required``
result that the client answers by retrying the call).
Answering it is not an approval by itself: the MCP client is the agent's
side, and whoever answers is unauthenticated. The guard only lets the
engine decide. Without ``approver``, the elicitation merely notifies; after
it is answered the call is checked once more (an approval recorded through
the application's own channel meanwhile lets it run). With
``approver=lambda ctx: user_id``, the server names the human it has
authenticated for this connection (e.g. the OAuth token's subject); an
accepted elicitation then asks ``engine.approve(..., by=user_id)``, which
refuses anyone the policies do not let approve. ``elicit=False`` turns
elicitation off.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

from ._engine import Engine
from ._native import Decision, mcp_denied_result
from .errors import AuthzError

__all__ = [
    "APPROVAL_META_KEY",
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

APPROVAL_META_KEY = "agentauthz/approval"
"""The ``_meta`` member of a pending-approval result: status, decision id, digest, approvers."""

# The form shown by an approving elicitation: one yes/no field.
_APPROVE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"approve": {"type": "boolean", "title": "Approve this call"}},
    "required": ["approve"],
}
# A notifying elicitation asks nothing: the answer cannot approve.
_NOTIFY_SCHEMA: dict[str, Any] = {"type": "object", "properties": {}}

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


def _short_json(value: Any, limit: int = 300) -> str:
    try:
        text = json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


_INPUT_KEY = "agentauthz/approval"


def _is_modern(ctx: Any) -> bool:
    from mcp_types.version import MODERN_PROTOCOL_VERSIONS

    return getattr(ctx, "protocol_version", None) in MODERN_PROTOCOL_VERSIONS


def _input_required(message: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A 2026-07-28 ``input_required`` result carrying one form elicitation."""
    from mcp_types import ElicitRequest, ElicitRequestFormParams, InputRequiredResult

    request = ElicitRequest(
        params=ElicitRequestFormParams(message=message, requested_schema=cast(Any, schema))
    )
    result = InputRequiredResult(input_requests={_INPUT_KEY: request})
    return result.model_dump(by_alias=True, exclude_none=True, mode="json")


def _can_elicit(ctx: Any) -> bool:
    """The client declared form elicitation (an empty ``elicitation: {}`` means form)."""
    session = getattr(ctx, "session", None)
    try:
        from mcp_types import ClientCapabilities, ElicitationCapability

        return bool(
            session is not None
            and session.check_client_capability(
                ClientCapabilities(elicitation=ElicitationCapability())
            )
        )
    except Exception:  # an SDK without this API: no elicitation
        return False


def _pending_result(tool: Any, decision: Decision) -> dict[str, Any]:
    """The core's result for a call that did not run (the Decision under
    ``_meta``), saying that approval is pending."""
    name = tool if isinstance(tool, str) else ""
    result = dict(mcp_denied_result(name, decision))
    text = (
        f"agentauthz: tool {name!r} needs approval by {', '.join(decision.approvers)} "
        f"(reasons {list(decision.reasons)}, decision_id {decision.decision_id}, "
        f"request_digest {decision.request_digest}). It did not run; call it again "
        "with the same arguments once it is approved."
    )
    result["content"] = [{"type": "text", "text": text}]
    meta = dict(result.get("_meta") or {})
    meta[APPROVAL_META_KEY] = {
        "status": "pending",
        "decision_id": decision.decision_id,
        "request_digest": decision.request_digest,
        "approvers": list(decision.approvers),
        "reasons": list(decision.reasons),
    }
    result["_meta"] = meta
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
        elicit: bool = True,
        approver: Callable[[Any], str | None] | None = None,
    ) -> None:
        self.engine = engine
        self.server = server
        self.identity = identity
        self.namespace = namespace
        self.on_decision = on_decision
        self.elicit = elicit
        self.approver = approver

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
        arguments = params.get("arguments")
        try:
            decision = self._check(identity, tool, arguments)
        except AuthzError as e:
            return self._refused(ctx, tool, request_id, e)
        self._report(tool, request_id, decision)
        if decision.requires_approval:
            waited = await self._wait_for_approval(ctx, tool, arguments, decision)
            if isinstance(waited, dict):  # 2026-07-28: ask within the tools/call result
                return waited
            if waited is not None:
                # Checked again: only an approval the engine recorded lets it run.
                try:
                    decision = self._check(identity, tool, arguments)
                except AuthzError as e:
                    return self._refused(ctx, tool, request_id, e)
                self._report(tool, request_id, decision)
            if decision.requires_approval:
                return _in_wire_form(ctx, _pending_result(tool, decision))
        if not decision.allowed:
            # The core's answer to a denied call: the proxy's and the TS guard's too.
            name = tool if isinstance(tool, str) else ""
            return _in_wire_form(ctx, dict(mcp_denied_result(name, decision)))
        return await call_next(ctx)

    def _check(self, identity: dict[str, Any], tool: Any, arguments: Any) -> Decision:
        return self.engine.mcp_check_call(
            identity=identity,
            server=self.server,
            # Not a string: an empty name, which the core refuses (request_invalid).
            tool=tool if isinstance(tool, str) else "",
            arguments=arguments,
            namespace=self.namespace,
        )

    def _refused(self, ctx: Any, tool: Any, request_id: Any, e: AuthzError) -> Any:
        self._report(tool, request_id, e)
        text = f"agentauthz refused tool {tool!r}: [{e.code}] {e}"
        meta = {"agentauthz/error": {"code": e.code, "message": str(e)}}
        return _in_wire_form(ctx, _error_result(text, meta))

    async def _wait_for_approval(
        self, ctx: Any, tool: Any, arguments: Any, decision: Decision
    ) -> str | dict[str, Any] | None:
        """Asks the client's user by elicitation when the client can answer one.
        Returns the elicitation's action (``None``: none was sent or it failed), or,
        on 2026-07-28 connections, the ``input_required`` result that asks (the
        client retries the call with the answer). An accepted approving form
        becomes ``engine.approve`` by the user the server trusts (``approver``);
        the engine refuses non-approvers."""
        if not self.elicit or not _can_elicit(ctx):
            return None
        approving = self.approver is not None
        message = (
            f"The agent wants to call tool {tool!r} with arguments {_short_json(arguments)}. "
            f"It needs approval by {', '.join(decision.approvers)} "
            f"(policy {', '.join(decision.reasons)}; decision {decision.decision_id}; "
            f"request {decision.request_digest})."
        )
        if not approving:
            message += " An approver must approve it in the application; this form only notifies."
        schema = _APPROVE_SCHEMA if approving else _NOTIFY_SCHEMA
        answer: Any
        if _is_modern(ctx):
            # Multi-round-trip: the answer comes back in the retried call's params.
            responses = (
                ctx.params.get("inputResponses") if isinstance(ctx.params, Mapping) else None
            )
            answer = responses.get(_INPUT_KEY) if isinstance(responses, Mapping) else None
            if answer is None:
                return _input_required(message, schema)
            action = answer.get("action") if isinstance(answer, Mapping) else None
            content = answer.get("content") if isinstance(answer, Mapping) else None
        else:
            try:
                answer = await ctx.session.elicit_form(
                    message, schema, related_request_id=getattr(ctx, "request_id", None)
                )
            except Exception as e:  # a client that fails to answer: the call stays pending
                logger.warning(
                    "approval elicitation for %r failed: %s: %s", tool, type(e).__name__, e
                )
                return None
            action = getattr(answer, "action", None)
            content = getattr(answer, "content", None)
        content = content if isinstance(content, Mapping) else {}
        if approving and action == "accept" and content.get("approve") is True:
            try:
                user = self.approver(ctx) if self.approver is not None else None
                if isinstance(user, str) and user:
                    self.engine.approve(decision, by=user)
                else:
                    logger.warning("approval elicitation for %r: no approving user", tool)
            except Exception as e:  # approval_refused, or a failing resolver: still pending
                code = getattr(e, "code", type(e).__name__)
                logger.warning("approval of %r by elicitation refused: [%s] %s", tool, code, e)
        return action if isinstance(action, str) else "unknown"

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
