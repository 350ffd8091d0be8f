"""Coherent Spark Hybrid Runner client (call-compatible with `cspark.wasm`), execute
batching, and a local runner emulator. See docs/hybrid.md.

    import polycodec.hybrid as Hybrid
    hybrid = Hybrid.Client(base_url='http://localhost:3000', tenant='my-tenant', token='open')
"""
from .batching import BatchOutcome, BatchResult, RecordResult
from .client import AsyncClient, AsyncServices, Client, ServiceExecuted, Services
from .errors import BatchError, HybridApiError, HybridError, HybridSdkError
from .transport import Config, HybridResponse
from .uri import UriParams

__all__ = [
    "Client", "AsyncClient", "Services", "AsyncServices", "ServiceExecuted", "HybridResponse",
    "Config", "UriParams", "BatchResult", "BatchOutcome", "RecordResult", "HybridError",
    "HybridSdkError", "HybridApiError", "BatchError",
]
