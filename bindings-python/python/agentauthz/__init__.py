"""agentauthz: identity-based, in-process authorization for AI agents, on Cedar.

    import agentauthz

    engine = agentauthz.Engine.load("policies-examples/coding-agent")
    decision = engine.check(agent="ci-bot", action="github:push", resource=("Repo", "acme/api"))
    if not decision.allowed:
        print(decision.reasons)

LangChain / LangGraph integration lives in ``agentauthz.langchain`` (imported on demand).
"""

from __future__ import annotations

import atexit

from ._engine import Engine
from ._native import (
    Decision,
    Grant,
    ManualClock,
    __version__,
    error_codes,
    flush_decision_logs,
    generate_session_key,
    store_init,
    to_ocsf,
    verify_bundle,
)
from .errors import (
    ERROR_CODES,
    AuthzError,
    BundleError,
    Denied,
    InternalError,
    InventoryError,
    JournalError,
    LifecycleError,
    LimitError,
    LogError,
    PolicyError,
    RequestError,
    SchemaError,
    SessionError,
    TestError,
    TokenError,
)

# Decision-log files are buffered; write them out when the interpreter exits,
# whether or not the engines holding them were collected.
atexit.register(flush_decision_logs)

__all__ = [
    "ERROR_CODES",
    "AuthzError",
    "BundleError",
    "Decision",
    "Denied",
    "Engine",
    "Grant",
    "InternalError",
    "InventoryError",
    "JournalError",
    "LifecycleError",
    "LimitError",
    "LogError",
    "ManualClock",
    "PolicyError",
    "RequestError",
    "SchemaError",
    "SessionError",
    "TestError",
    "TokenError",
    "__version__",
    "error_codes",
    "flush_decision_logs",
    "generate_session_key",
    "store_init",
    "to_ocsf",
    "verify_bundle",
]
