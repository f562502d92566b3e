# Hand-written stub for the native module; checked by `python -m mypy.stubtest agentauthz._native`.
import datetime
import os
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn, final

from typing_extensions import Self, TypeAlias, disjoint_base

__all__ = ["Decision", "Engine", "__version__", "_panic", "_raise_error", "error_codes"]

__version__: str

#: A directory path, or the strings {"schema", "policies", "inventory"?, "config"?}.
_BundleArg: TypeAlias = str | os.PathLike[str] | Mapping[str, Any]
#: One text, a list of texts, or a dict of file name to text.
_Policies: TypeAlias = str | Sequence[str] | Mapping[str, str]
#: (type, id) or {"type": ..., "id": ...}.
_Resource: TypeAlias = tuple[str, str] | Sequence[str] | Mapping[str, str]

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
    def policy_revision(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...
    def __bool__(self) -> NoReturn: ...

@disjoint_base
class Engine:
    """In-process authorization for agents; safe to share across threads."""

    def __new__(cls, bundle: _BundleArg, /) -> Self: ...
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Self: ...
    @classmethod
    def from_strings(
        cls,
        *,
        schema: str,
        policies: _Policies,
        inventory: str | None = None,
        config: str | None = None,
    ) -> Self: ...
    def check(
        self,
        *,
        agent: str,
        action: str,
        resource: _Resource,
        task: str | None = None,
        on_behalf_of: str | None = None,
        credential: str | None = None,
        context: Mapping[str, Any] | None = None,
        now: datetime.datetime | str | None = None,
    ) -> Decision: ...
    def check_request(self, request: Mapping[str, Any]) -> Decision: ...
    def check_batch(self, requests: Sequence[Mapping[str, Any]]) -> list[Decision]: ...
    def reload(self, bundle: _BundleArg) -> None: ...
    @property
    def policy_revision(self) -> str: ...

def error_codes() -> list[dict[str, str]]: ...
def _raise_error(code: str, message: str) -> NoReturn: ...
def _panic(message: str) -> NoReturn: ...
