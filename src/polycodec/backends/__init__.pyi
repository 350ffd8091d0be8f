# polycodec.backends' public API (classes typed in their modules; functions typed here).
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from . import spec as spec
from .cells import RunCell as RunCell, RunResult as RunResult
from .client import BackendClient as BackendClient
from .errors import (
    BackendHTTPError as BackendHTTPError,
    BackendsError as BackendsError,
    CellError as CellError,
    PayloadError as PayloadError,
    ResponseTooLarge as ResponseTooLarge,
)
from .install import (
    BackendModule as BackendModule,
    InstalledBackend as InstalledBackend,
    InstallRequest as InstallRequest,
)

def encode_id(name: str) -> str: ...
def decode_id(asset_id: str) -> str: ...
def install_request(
    modules: Iterable[str | Mapping[str, Any] | BackendModule],
    configurations: Mapping[str, Mapping[str, Any]] | None = None,
    partition: str | None = None,
) -> dict[str, Any]: ...
def parse_install_response(payload: Mapping[str, Any]) -> list[InstalledBackend]: ...
def to_json_safe(
    value: object,
    *,
    nonfinite: Literal["error", "null"] = "error",
    max_depth: int = 256,
    path: str = "$",
) -> Any: ...

__all__ = ["spec", "RunCell", "RunResult", "BackendClient", "BackendHTTPError", "BackendsError",
           "CellError", "PayloadError", "ResponseTooLarge", "BackendModule", "InstallRequest",
           "InstalledBackend", "decode_id", "encode_id", "install_request",
           "parse_install_response", "to_json_safe"]
