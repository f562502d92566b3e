"""agentauthz's exceptions: one class per error family, chosen by the core's stable code.

``ERROR_CODES`` maps every code to its class. It is built at import from the
core's own list (``agentauthz._native.error_codes()``, each code with its
family) and ``FAMILY_CLASSES``, the one hand-written table, from family to class.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from ._native import error_codes

if TYPE_CHECKING:
    from ._native import Decision

__all__ = [
    "ERROR_CODES",
    "FAMILY_CLASSES",
    "AuthzError",
    "BundleError",
    "Denied",
    "InternalError",
    "InventoryError",
    "JournalError",
    "LifecycleError",
    "LimitError",
    "LogError",
    "PolicyError",
    "RequestError",
    "SchemaError",
    "SessionError",
    "TestError",
    "TokenError",
]


class AuthzError(Exception):
    """Bad input to agentauthz (a deny is never an error: it is a Decision).

    ``code`` is the core's stable error code (e.g. ``"policy_parse"``),
    ``family`` its family, and ``details`` a list of
    ``{"message": str, "location"?: {"file": str, "line": int, "column": int}}``.
    ``str(error)`` is the core's message, with ``file:line:column`` locations.
    """

    family: ClassVar[str] = "internal"

    def __init__(
        self,
        message: str,
        *,
        code: str = "internal",
        details: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.details: list[dict[str, Any]] = (
            details if details is not None else [{"message": message}]
        )

    def __reduce__(self) -> Any:
        return (_rebuild, (type(self), self.message, self.code, self.details))


class BundleError(AuthzError):
    """A bundle could not be read, has an unexpected layout, or a bad agentauthz.toml;
    a signed bundle's archive is unsafe or malformed (``bundle_archive_invalid``),
    its signature does not verify (``bundle_signature_invalid``), or its URL could
    not be fetched with no verified copy cached (``bundle_unavailable``)."""

    family = "bundle"


class SchemaError(AuthzError):
    """The schema does not parse or is not acceptable."""

    family = "schema"


class PolicyError(AuthzError):
    """A policy does not parse, lacks or duplicates an @id, or does not validate."""

    family = "policy"


class InventoryError(AuthzError):
    """The inventory does not parse or does not conform to the schema."""

    family = "inventory"


class RequestError(AuthzError):
    """A request is malformed or does not conform to the schema."""

    family = "request"


class TestError(AuthzError):
    """A policy test file is malformed."""

    __test__ = False  # not a pytest test class
    family = "test"


class LifecycleError(AuthzError):
    """A grant or lifecycle change is not acceptable: it names an unknown agent,
    action, resource, task, user, credential or grant, has a bad window, or is
    not allowed in the agent's state (``grant_invalid``, ``lifecycle_invalid``)."""

    family = "lifecycle"


class JournalError(AuthzError):
    """The journal of run-time changes has a torn, malformed or unauthenticated
    line (``journal_corrupt``; load with ``recover=True`` to cut a torn last line
    off), or another writer holds it (``journal_locked``)."""

    family = "journal"


class LogError(AuthzError):
    """A decision-log file is held by another writer (``log_locked``), or its
    last line is torn or not a record (``log_corrupt``; load with
    ``recover=True`` to cut a torn last line off)."""

    family = "log"


class SessionError(AuthzError):
    """An agent session token or its key is not acceptable (malformed, bad
    signature, expired, revoked, unknown key)."""

    family = "session"


class TokenError(AuthzError):
    """An identity provider's token is not acceptable: malformed, an algorithm
    not accepted, a bad signature (``token_invalid``), expired or not yet valid
    (``token_expired``), for another resource (``token_audience``), from an
    issuer not configured (``issuer_unknown``), or its issuer's keys could not
    be had (``jwks_unavailable``)."""

    family = "token"


class LimitError(AuthzError):
    """An input is past a ``[limits]`` bound: nested too deep (``input_too_deep``,
    a cycle too) or too large (``input_too_large``). Refused before it is parsed."""

    family = "limit"


class InternalError(AuthzError):
    """An internal failure (a bug in agentauthz); the operation was refused."""

    family = "internal"


# The one hand-written table: each error family of the core and its class.
FAMILY_CLASSES: dict[str, type[AuthzError]] = {
    cls.family: cls
    for cls in (
        BundleError,
        SchemaError,
        PolicyError,
        InventoryError,
        RequestError,
        TestError,
        LifecycleError,
        JournalError,
        LogError,
        SessionError,
        LimitError,
        TokenError,
        InternalError,
    )
}

# Every stable core code, in the core's order, and the class raised for it. A
# family without a class here (a core newer than this table) gets AuthzError;
# the test suite fails on such drift.
ERROR_CODES: dict[str, type[AuthzError]] = {
    entry["code"]: FAMILY_CLASSES.get(entry["family"], AuthzError) for entry in error_codes()
}


def _rebuild(
    cls: type[AuthzError], message: str, code: str, details: list[dict[str, Any]]
) -> AuthzError:
    return cls(message, code=code, details=details)


def _from_native(error: dict[str, Any]) -> AuthzError:
    """The exception for the core's error JSON ``{code, family, message, details}``.

    Called by the native module. A code this table does not know yet still gets
    its family's class.
    """
    code = error["code"]
    cls = ERROR_CODES.get(code) or FAMILY_CLASSES.get(error["family"], AuthzError)
    return cls(error["message"], code=code, details=error["details"])


class Denied(PermissionError):
    """Raised by ``Engine.guard`` when the engine denies the call; ``.decision`` says why."""

    def __init__(self, decision: Decision) -> None:
        why = ", ".join(decision.reasons) or "no policy permits it"
        super().__init__(f"denied ({why}); decision_id {decision.decision_id}")
        self.decision = decision
