"""THE Hybrid Runner tables: endpoints, metadata keys, defaults, retry statuses.

Client, emulator and tests all read these, so a path or a key is spelled once.
Facts come from /work/shared/spec/hybrid-runner.md (read from cspark 0.3.3).
"""
from __future__ import annotations

import sys

# ---- configuration defaults (same values as the reference) -------------------------------
DEFAULT_RUNNER_URL = "http://localhost:3000"
ENV_RUNNER_URL = "CSPARK_RUNNER_URL"
ENV_API_KEY = "CSPARK_API_KEY"
ENV_BEARER_TOKEN = "CSPARK_BEARER_TOKEN"
DEFAULT_TIMEOUT_MS = 60_000          # the reference counts timeouts in milliseconds
DEFAULT_MAX_RETRIES = 2
DEFAULT_RETRY_INTERVAL = 1.0         # seconds
RETRY_RANDOMIZATION = 1.5            # backoff = 2**k * interval * U(0,1) * 1.5
MAX_RETRY_DELAY = 30.0               # cap on one backoff sleep (and on Retry-After)
SOURCE_SYSTEM = "Spark Python SDK"   # what the reference sends; kept so bodies are equal
COMPILER_TYPES = ("neuron", "type3", "type2", "type1", "xconnector")

# Statuses retried by polycodec (the reference retries 408 and 429 only).
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})

# ---- endpoints: {B} base URL (scheme://host[:port]), {T} tenant ---------------------------
PATH_HEALTH = "/healthcheck"
PATH_VERSION = "/version"
PATH_STATUS = "/status"
PATH_UPLOAD = "/api/v3/upload"                 # tenant travels in the header only
PATH_V4_EXECUTE = "/{tenant}/api/v4/execute"
PATH_V4_PUBLIC_EXECUTE = "/{tenant}/api/v4/public/execute"
PATH_VALIDATION = "/{tenant}/api/v3/validation"
PATH_METADATA = "/{tenant}/api/v3/metadata"
# v3 single execute, by locator kind (the `public` flag inserts "/public" after api/v3)
PATH_V3_FOLDER = "/{tenant}/api/v3{public}/folders/{folder}/services/{service}/execute"
PATH_V3_VERSION_ID = "/{tenant}/api/v3{public}/version/{version_id}"
PATH_V3_SERVICE_ID = "/{tenant}/api/v3{public}/service/{service_id}"
PATH_V3_PROXY = "/{tenant}/api/v3{public}/proxy/{proxy}"

# ---- headers ------------------------------------------------------------------------------
H_USER_AGENT = "User-Agent"
H_SPARK_UA = "x-spark-ua"
H_REQUEST_ID = "x-request-id"
H_TENANT = "x-tenant-name"
H_API_KEY = "x-synthetic-key"
H_AUTH = "Authorization"

PY_VERSION = "Python/{}.{}.{}".format(*sys.version_info[:3])

# ---- execute metadata ---------------------------------------------------------------------
# (body key, source) in the reference's key order; source names an execute() parameter or a
# locator field ("uri.<field>"). Keys whose value is None are dropped, False is kept.
V3_META = (
    ("service_id", "uri.service_id"),
    ("version_id", "uri.version_id"),
    ("version", "uri.version"),
    ("transaction_date", "active_since"),
    ("call_purpose", "call_purpose"),
    ("source_system", "source_system"),
    ("correlation_id", "correlation_id"),
    ("array_outputs", "tables_as_array"),
    ("compiler_type", "compiler_type"),
    ("debug_solve", "debug_solve"),
    ("excel_file", "downloadable"),
    ("requested_output", "selected_outputs"),
    ("requested_output_regex", "outputs_filter"),
    ("response_data_inputs", "echo_inputs"),
    ("service_category", "subservices"),
)
V4_META = (
    ("service", "uri.service_locator"),
    ("version_id", "uri.version_id"),
    ("version_by_timestamp", "active_since"),
    ("subservice", "subservices"),
    ("output", "selected_outputs"),
    ("call_purpose", "call_purpose"),
    ("source_system", "source_system"),
    ("correlation_id", "correlation_id"),
)
# Options a v4 body cannot carry (the reference drops them silently), with the values that
# mean "not set" (passing one of those is not a loss, so it does not warn).
V4_UNSUPPORTED = {
    "tables_as_array": (None,),
    "outputs_filter": (None,),
    "echo_inputs": (None, False),
    "debug_solve": (None, False),
    "compiler_type": (None,),
    "downloadable": (None, False),
}
JOINED_OPTIONS = ("subservices", "tables_as_array", "selected_outputs")   # list -> "a,b"
CALL_PURPOSE_SINGLE = "Single Execution"
CALL_PURPOSE_BATCH = "Sync Batch Execution"

# `response_format='alike'`: v3 response -> v4-like shape. (key, section, field, wrap in list)
ALIKE_SHAPE = (
    ("outputs", "response_data", "outputs", True),
    ("process_time", "response_meta", "process_time", True),
    ("warnings", "response_data", "warnings", True),
    ("errors", "response_data", "errors", True),
    ("service_chain", "response_meta", "service_chain", True),
    ("service_id", "response_meta", "service_id", False),
    ("version_id", "response_meta", "version_id", False),
    ("version", "response_meta", "version", False),
    ("call_id", "response_meta", "call_id", False),
    ("compiler_version", "response_meta", "compiler_version", False),
    ("correlation_id", "response_meta", "correlation_id", False),
    ("request_timestamp", "response_meta", "request_timestamp", False),
)
# per-record lists of a v4 response that batching merges
V4_PER_RECORD = ("outputs", "process_time", "warnings", "errors", "service_chain")

# ---- batching defaults ----------------------------------------------------------------------
DEFAULT_BATCH_SIZE = 1000
DEFAULT_CONCURRENCY = 4
