"""The uploaded services of an emulator, per tenant."""
from __future__ import annotations

import re
import threading

from .errors import HttpError


class Registry:
    """Services per tenant, findable by id, version id, or folder/service[version]."""

    def __init__(self):
        self.lock = threading.Lock()
        self.services: list = []

    def add(self, svc):
        with self.lock:
            self.services.append(svc)
        return svc

    def find(self, tenant, *, service_id=None, version_id=None, folder=None, service=None,
             version=None):
        with self.lock:
            cands = [s for s in self.services if s.tenant == tenant]
        if version_id:
            cands = [s for s in cands if s.version_id == version_id]
        elif service_id:
            cands = [s for s in cands if s.service_id == service_id]
        elif folder and service:
            cands = [s for s in cands if s.folder == folder and s.service == service]
            if version:
                cands = [s for s in cands if s.version == version]
        else:
            raise HttpError(400, "MISSING_LOCATOR", "no service locator (service, service_id "
                            "or version_id) in the request")
        if not cands:
            raise HttpError(404, "NOT_FOUND", "service not found in tenant "
                            f"{tenant!r}: {version_id or service_id or f'{folder}/{service}'}")
        return cands[-1]                               # latest upload wins

    def find_v4(self, tenant, body):
        locator, version_id = body.get("service"), body.get("version_id")
        if version_id:
            return self.find(tenant, version_id=version_id)
        if isinstance(locator, str) and locator:
            m = re.match(r"^([^/]+)/([^[]+)(?:\[(.*?)\])?$", locator)
            if m:
                folder, service, version = m.groups()
                return self.find(tenant, folder=folder, service=service, version=version or None)
            return self.find(tenant, service_id=locator)
        raise HttpError(400, "MISSING_LOCATOR", "a v4 body needs 'service' or 'version_id'")
