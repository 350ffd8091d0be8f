"""The base-URL rule the HTTP clients share: http or https, a host, a valid port."""
from __future__ import annotations

from urllib.parse import urlsplit


def http_url_problem(url) -> str | None:
    """Why `url` cannot be a client's base URL, or None when it can."""
    if not isinstance(url, str):
        return f"must be an http(s) URL string, not {type(url).__name__}"
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"must be an http(s) URL with a host, like 'https://example.com', not {url!r}"
    try:
        parts.port
    except ValueError:
        return f"has an invalid port: {url!r}"
    if parts.query or parts.fragment:
        return f"must not carry a query or fragment: {url!r}"
    return None
