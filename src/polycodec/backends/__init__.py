"""YouWol backends from Python: install bodies, a partition-aware client, pyrun cells.

- `install_request(...)` / `InstallRequest`: the body webpm-client POSTs to py-youwol.
- `BackendClient`: fetch / fetch_json / fetch_text (and async twins) on
  `/backends/{name}/{version}/...`, always with the `x-backends-partition` header.
- `RunCell` / `RunResult`: pyrun_backend `/run` payloads; numpy values become nested lists.
- `python -m polycodec.backends.pyrun`: a local pyrun-compatible backend (runs code
  unsandboxed; binds 127.0.0.1).
Facts live in `polycodec.backends.spec`.
"""
from . import spec
from .cells import RunCell, RunResult
from .client import BackendClient
from .errors import BackendHTTPError, BackendsError, CellError, PayloadError, ResponseTooLarge
from .install import (BackendModule, InstallRequest, InstalledBackend, decode_id, encode_id,
                      install_request, parse_install_response)
from .jsonsafe import to_json_safe

__all__ = ["spec", "RunCell", "RunResult", "BackendClient", "BackendHTTPError", "BackendsError",
           "CellError", "PayloadError", "ResponseTooLarge", "BackendModule", "InstallRequest",
           "InstalledBackend", "decode_id", "encode_id", "install_request",
           "parse_install_response", "to_json_safe"]
