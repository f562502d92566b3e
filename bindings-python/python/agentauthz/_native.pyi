# Hand-written stub for the native module; checked by `python -m mypy.stubtest agentauthz._native`.
import datetime
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn, final

from typing_extensions import NotRequired, Self, TypeAlias, TypedDict, disjoint_base

__all__ = [
    "Decision",
    "Engine",
    "Grant",
    "ManualClock",
    "__version__",
    "_panic",
    "_raise_error",
    "error_codes",
    "flush_decision_logs",
    "generate_session_key",
    "mcp_denied_result",
    "schema_from_mcp",
    "store_init",
    "to_ocsf",
    "verify_bundle",
]

__version__: str

#: A directory path, or the strings {"schema", "policies", "inventory"?, "config"?}.
_BundleArg: TypeAlias = str | os.PathLike[str] | Mapping[str, Any]
#: One text, a list of texts, or a dict of file name to text.
_Policies: TypeAlias = str | Sequence[str] | Mapping[str, str]
#: (type, id) or {"type": ..., "id": ...}.
_Resource: TypeAlias = tuple[str, str] | Sequence[str] | Mapping[str, str]
#: A decision-log sink: a callable receiving each record as a dict, a JSON-lines
#: file path ("-": standard output), or None.
_DecisionLog: TypeAlias = Callable[[dict[str, Any]], object] | str | os.PathLike[str] | None
#: A point in time: an aware datetime or RFC 3339 text.
_Time: TypeAlias = datetime.datetime | str

@final
class Decision:
    """The answer to one request. A deny is data, not an error."""

    @property
    def allowed(self) -> bool: ...
    @property
    def decision(self) -> str: ...
    @property
    def reasons(self) -> list[str]: ...
    @property
    def errors(self) -> list[dict[str, str]]: ...
    @property
    def decision_id(self) -> str: ...
    @property
    def requires_approval(self) -> bool: ...
    @property
    def approvers(self) -> list[str]: ...
    @property
    def request_digest(self) -> str | None: ...
    @property
    def policy_revision(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __bool__(self) -> NoReturn: ...

@final
class Grant:
    """A just-in-time grant: ``agent`` may do ``actions`` on ``resource`` (and
    anything in it) from ``starts`` until ``expires``, optionally only within ``task``."""

    @property
    def id(self) -> str: ...
    @property
    def agent(self) -> str: ...
    @property
    def actions(self) -> list[str]: ...
    @property
    def resource(self) -> tuple[str, str]: ...
    @property
    def starts(self) -> str: ...
    @property
    def expires(self) -> str: ...
    @property
    def task(self) -> str | None: ...
    @property
    def reason(self) -> str: ...
    @property
    def granted_by(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __eq__(self, value: object, /) -> bool: ...
    def __ne__(self, value: object, /) -> bool: ...
    __hash__: None  # type: ignore[assignment]

@final
class ManualClock:
    """A clock that reads what it was last set to (tests): pass it as ``Engine(..., clock=...)``."""

    def __new__(cls, start: str | datetime.datetime) -> Self: ...
    def set(self, at: str | datetime.datetime) -> None: ...
    def advance(self, seconds: float | datetime.timedelta) -> None: ...
    @property
    def now(self) -> str: ...

@disjoint_base
class Engine:
    """In-process authorization for agents; safe to share across threads."""

    def __new__(
        cls,
        bundle: _BundleArg,
        /,
        *,
        decision_log: _DecisionLog = None,
        max_bytes: int | None = None,
        journal: str | os.PathLike[str] | None = None,
        recover: bool | None = None,
        trust_caller_time: bool | None = None,
        clock: ManualClock | None = None,
        store: str | None = None,
        max_staleness_seconds: int | None = None,
    ) -> Self: ...
    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        *,
        decision_log: _DecisionLog = None,
        max_bytes: int | None = None,
        journal: str | os.PathLike[str] | None = None,
        recover: bool | None = None,
        trust_caller_time: bool | None = None,
        clock: ManualClock | None = None,
        store: str | None = None,
        max_staleness_seconds: int | None = None,
    ) -> Self: ...
    @classmethod
    def from_strings(
        cls,
        *,
        schema: str,
        policies: _Policies,
        inventory: str | None = None,
        config: str | None = None,
        decision_log: _DecisionLog = None,
        max_bytes: int | None = None,
        trust_caller_time: bool | None = None,
        clock: ManualClock | None = None,
    ) -> Self: ...
    def check(
        self,
        *,
        agent: str | None = None,
        action: str,
        resource: _Resource,
        task: str | None = None,
        on_behalf_of: str | None = None,
        credential: str | None = None,
        context: Mapping[str, Any] | None = None,
        now: datetime.datetime | str | None = None,
        session: str | None = None,
        audience: str | None = None,
        token: str | None = None,
    ) -> Decision: ...
    def check_request(self, request: Mapping[str, Any]) -> Decision: ...
    def check_tool_call(
        self,
        *,
        tool: str,
        action: str | None,
        resource: _Resource,
        input: Any = None,
        agent: str | None = None,
        session: str | None = None,
        audience: str | None = None,
        context: Mapping[str, Any] | None = None,
        task: str | None = None,
        on_behalf_of: str | None = None,
        credential: str | None = None,
        now: datetime.datetime | str | None = None,
        token: str | None = None,
    ) -> Decision: ...
    def check_batch(self, requests: Sequence[Mapping[str, Any]]) -> list[Decision]: ...
    def reload(self, bundle: _BundleArg) -> None: ...
    @property
    def policy_revision(self) -> str: ...
    def set_decision_log(self, sink: _DecisionLog, /, *, max_bytes: int | None = None) -> None: ...
    def flush_decision_log(self) -> None: ...
    @property
    def decision_log_head(self) -> dict[str, Any] | None: ...
    @property
    def decision_log_stats(self) -> dict[str, Any] | None: ...
    @property
    def mode(self) -> str: ...
    @property
    def on_error(self) -> str: ...
    def warnings(self) -> list[dict[str, Any]]: ...
    def mcp_check_call(
        self,
        *,
        identity: dict[str, Any],
        server: str,
        tool: str,
        arguments: dict[str, Any] | None = None,
        namespace: str | None = None,
    ) -> Decision: ...
    def mcp_listable_tools(
        self,
        *,
        identity: dict[str, Any],
        server: str,
        tools: list[str],
        namespace: str | None = None,
    ) -> list[str]: ...
    def grant(
        self,
        *,
        agent: str,
        actions: Sequence[str],
        resource: _Resource,
        ttl: int | datetime.timedelta | None = None,
        until: _Time | None = None,
        starts: _Time | None = None,
        task: str | None = None,
        reason: str,
        granted_by: str,
    ) -> Grant: ...
    def revoke(self, grant_id: str, /, *, by: str) -> None: ...
    def grants(self, agent: str | None = None) -> list[Grant]: ...
    def grant_policy_text(self, grant_id: str) -> str | None: ...
    def lockdown(self, reason: str, /, *, by: str) -> None: ...
    def lift_lockdown(self, *, by: str) -> None: ...
    def lockdown_status(self) -> _LockdownStatus | None: ...
    def metrics(self) -> _EngineMetrics: ...
    def record_usage(self, agent: str, units: int | float, kind: str) -> None: ...
    def usage(self, agent: str, action: str | None = None) -> _Usage: ...
    def approve(
        self,
        decision_id: str | Decision | None = None,
        /,
        *,
        request: Mapping[str, Any] | None = None,
        by: str,
        uses: int | None = None,
        ttl: int | datetime.timedelta | None = None,
    ) -> dict[str, Any]: ...
    def reject(
        self,
        decision_id: str | Decision | None = None,
        /,
        *,
        request: Mapping[str, Any] | None = None,
        by: str,
    ) -> dict[str, Any]: ...
    def approvals(self, agent: str | None = None) -> list[dict[str, Any]]: ...
    def on_approval_request(
        self, callback: Callable[[dict[str, Any]], object] | None, /
    ) -> None: ...
    def suspend(self, agent: str, /, *, by: str) -> None: ...
    def reactivate(self, agent: str, /, *, by: str) -> None: ...
    def offboard(self, agent: str, /, *, by: str) -> None: ...
    def rotate_credential(self, credential: str, /, *, expires: _Time, by: str) -> None: ...
    def transfer_owner(self, agent: str, /, *, owner: str, by: str) -> None: ...
    def add_task(
        self,
        *,
        id: str,
        agent: str,
        not_before: _Time,
        not_after: _Time,
        purpose: str | None = None,
        on_behalf_of: str | None = None,
        by: str,
    ) -> None: ...
    def apply(self, change: Mapping[str, Any], /, *, by: str) -> dict[str, Any]: ...
    @property
    def journal_path(self) -> str | None: ...
    def store_status(self) -> dict[str, Any]: ...
    def state_hash(self) -> str: ...
    def skipped_changes(self) -> list[str]: ...
    def bundle_status(self) -> dict[str, Any] | None: ...
    def poll_bundle(self) -> dict[str, Any]: ...
    # --- sessions
    def issue_session(
        self,
        agent: str,
        /,
        *,
        task: str | None = None,
        ttl: int | datetime.timedelta | None = None,
        audience: str | None = None,
    ) -> tuple[str, _SessionClaims]: ...
    def verify_session(self, token: str, /, *, audience: str | None = None) -> _SessionClaims: ...
    def revoke_session(self, session_id: str, /, *, by: str) -> None: ...
    def verify_token(self, token: str, /) -> dict[str, Any]: ...
    def set_issuer_jwks(self, issuer: str, jwks: str, /) -> None: ...
    def set_session_keys(
        self,
        *,
        signing: _SigningKey | None = None,
        verifying: Mapping[str, str] | None = None,
    ) -> None: ...
    def session_public_keys(self) -> dict[str, str]: ...
    # --- engine state
    def state(self) -> str: ...
    @classmethod
    def restore(
        cls,
        state: str,
        /,
        *,
        decision_log: _DecisionLog = None,
        max_bytes: int | None = None,
    ) -> Self: ...

class _DecisionCount(TypedDict):
    decision: str
    action: str
    reason: str
    count: int

class _CheckLatency(TypedDict):
    bounds_us: list[int]
    counts: list[int]
    count: int
    sum_us: float

class _EngineMetrics(TypedDict):
    decisions: list[_DecisionCount]
    check_latency: _CheckLatency
    log_queue_depth: NotRequired[int]
    spool_bytes: NotRequired[int]
    store_staleness_seconds: NotRequired[float]

# --- sessions
class _LockdownStatus(TypedDict):
    reason: str
    since: str
    by: str

class _Calls(TypedDict):
    calls_1m: int
    calls_1h: int
    calls_1d: int

class _Units(TypedDict):
    tokens: int
    usd_cents: int

class _Usage(TypedDict):
    """What ``context.usage`` holds for the agent's next check."""

    calls_1m: int
    calls_1h: int
    calls_1d: int
    action: _Calls
    units_1h: _Units
    units_1d: _Units

class _SessionClaims(TypedDict):
    """The claims of a verified session token; times in ms since the epoch."""

    session_id: str
    agent: str
    task: NotRequired[str]
    audience: str
    issuer: NotRequired[str]
    issued_at: int
    not_before: int
    expires_at: int

class _SigningKey(TypedDict):
    kid: str
    key: str

class _SessionKeyPair(TypedDict):
    kid: str
    secret: str
    public: str

def generate_session_key(kid: str) -> _SessionKeyPair: ...
def store_init(url: str, *, sslmode: str | None = None, ca_file: str | None = None) -> str: ...
def to_ocsf(record: Mapping[str, Any]) -> dict[str, Any]: ...
def verify_bundle(
    archive: bytes, signature: bytes, public_keys: Mapping[str, str]
) -> dict[str, Any]: ...
def error_codes() -> list[dict[str, str]]: ...
def flush_decision_logs() -> None: ...
def mcp_denied_result(tool: str, decision: Decision) -> dict[str, Any]: ...
def schema_from_mcp(
    tools: Any, /, *, server: str | None = None, namespace: str | None = None
) -> dict[str, Any]: ...
def _raise_error(code: str, message: str) -> NoReturn: ...
def _panic(message: str) -> NoReturn: ...
