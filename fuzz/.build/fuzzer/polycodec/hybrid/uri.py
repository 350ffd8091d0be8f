"""Service locators: `folder/service[version]`, `version/<id>`, `service/<id>`, `proxy/<path>`."""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Optional

from . import tables
from .errors import HybridSdkError

_LOCATOR = re.compile(r"^([^/]+)/([^[]+)(?:\[(.*?)\])?$")


@dataclass(frozen=True)
class UriParams:
    """Same fields as cspark's UriParams, so either can be passed."""

    folder: Optional[str] = None
    service: Optional[str] = None
    service_id: Optional[str] = None
    version: Optional[str] = None
    version_id: Optional[str] = None
    proxy: Optional[str] = None
    public: Optional[bool] = False

    @property
    def service_uri(self) -> str:
        return self.encode(long=False)

    @property
    def service_locator(self) -> Optional[str]:
        """What a v4 body names in "service": the service id, else folder/service[version]."""
        if self.service_id:
            return self.service_id
        if self.folder and self.service:
            return f"{self.folder}/{self.service}" + (f"[{self.version}]" if self.version else "")
        return None

    def encode(self, long: bool = True) -> str:
        if self.proxy:
            return f"proxy/{self.proxy}"
        if self.version_id:
            return f"version/{self.version_id}"
        if self.service_id:
            return f"service/{self.service_id}"
        if self.folder and self.service:
            version = f"[{self.version}]" if self.version else ""
            if long:
                return f"folders/{self.folder}/services/{self.service}{version}"
            return f"{self.folder}/{self.service}{version}"
        return ""


def _sanitize(uri: str) -> str:
    return re.sub(r"/{2,}", "/", uri).strip("/")


def decode(uri: str) -> UriParams:
    uri = _sanitize(uri).replace("folders/", "").replace("services/", "")
    match = _LOCATOR.match(uri)
    if not match:
        return UriParams()
    folder, service, version = match.groups()
    if folder == "version":
        return UriParams(version_id=service)
    if folder == "service":
        return UriParams(service_id=service)
    if folder == "proxy":
        return UriParams(proxy=service)
    version = version if version and version.strip() else None
    return UriParams(folder=folder, service=service, version=version)


def to_params(uri) -> UriParams:
    """A string, our UriParams, or any object with the same fields (e.g. cspark's)."""
    if uri is None:
        return UriParams()
    if isinstance(uri, str):
        return decode(uri)
    if isinstance(uri, UriParams):
        return uri
    try:
        return UriParams(**{f.name: getattr(uri, f.name, None) for f in fields(UriParams)})
    except Exception as exc:
        raise HybridSdkError(f"uri must be a string or UriParams, not {type(uri).__name__}") from exc


def validate(uri) -> UriParams:
    params = to_params(uri)
    if not params.service_uri:
        if params.folder and not params.service:
            msg = "service name is missing"
        elif params.service and not params.folder:
            msg = "folder name is missing"
        else:
            msg = "service uri locator is required"
        raise HybridSdkError(
            msg + ' :: a uri needs to be of these formats: "folder/service[version]", '
            '"service/<service_id>", "version/<version_id>" or "proxy/<endpoint>"', uri)
    return params


def v3_path(params: UriParams, tenant: str) -> str:
    public = "/public" if params.public else ""
    if params.version_id:
        return tables.PATH_V3_VERSION_ID.format(tenant=tenant, public=public,
                                                version_id=params.version_id)
    if params.service_id:
        return tables.PATH_V3_SERVICE_ID.format(tenant=tenant, public=public,
                                                service_id=params.service_id)
    if params.folder and params.service:
        return tables.PATH_V3_FOLDER.format(tenant=tenant, public=public, folder=params.folder,
                                            service=params.service)
    if params.proxy:
        return tables.PATH_V3_PROXY.format(tenant=tenant, public=public,
                                           proxy=_sanitize(params.proxy))
    raise HybridSdkError("service uri locator is required", params)


def v4_path(params: UriParams, tenant: str) -> str:
    if params.public:
        return tables.PATH_V4_PUBLIC_EXECUTE.format(tenant=tenant)
    return tables.PATH_V4_EXECUTE.format(tenant=tenant)
