"""The runner's endpoints and the `/_emulator/*` control endpoints, as handler methods."""
from __future__ import annotations

import base64
import email.parser
import email.policy

import orjson

from .. import tables
from . import execute, services
from .errors import HttpError

EMULATOR_VERSION = "1.31.2"


class Endpoints:
    """Mixed into the Handler: each `_<route>(body, **groups)` returns (status, payload)."""

    def _health(self, body):
        return 200, {"msg": "ok"}

    def _version(self, body):
        return 200, {"lastPullDate": "2024-05-07T03:43:46.333Z",
                     "filehash": "polycodec-emulator", "version": EMULATOR_VERSION}

    def _status(self, body):
        services = self.emu.registry.services
        tenants = sorted({s.tenant for s in services})
        return 200, {"status": "ok", "emulator": True, "services": len(services),
                     "tenants": tenants}

    def _upload(self, body):
        tenant = self._tenant_header()
        if not tenant:
            raise HttpError(400, "MISSING_TENANT", "the x-tenant-name header is required")
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            raise HttpError(400, "INVALID_PACKAGE", "upload must be multipart/form-data")
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + body)
        files = [p for p in msg.iter_parts() if p.get_param("name", header="content-disposition")
                 == "file"] if msg.is_multipart() else []
        if not files:
            raise HttpError(400, "INVALID_PACKAGE", "no multipart part named 'file'")
        try:
            svc = self.emu.upload_zip(tenant, files[0].get_payload(decode=True) or b"")
        except services.DefinitionError as exc:
            raise HttpError(400, "INVALID_PACKAGE", str(exc)) from exc
        return 200, {"status": "Success", "response_data": [
            {"tenant": tenant, "services": [services.upload_entry(svc)]}]}

    def _v3(self, body, tenant, folder=None, service=None, version_id=None, service_id=None):
        data = self._json(body)
        req, meta = data.get("request_data"), data.get("request_meta") or {}
        if not isinstance(req, dict) or not isinstance(req.get("inputs"), dict):
            raise HttpError(400, "INVALID_INPUTS", "request_data.inputs must be an object")
        if not isinstance(meta, dict):
            raise HttpError(400, "INVALID_BODY", "request_meta must be an object")
        svc = self.emu.registry.find(
            tenant, version_id=version_id or meta.get("version_id"),
            service_id=service_id or meta.get("service_id"), folder=folder, service=service,
            version=meta.get("version"))
        inputs = req["inputs"]
        keep = execute.filter_outputs(meta.get("requested_output"), meta.get("requested_output_regex"))
        outs, errors, ms = execute.run(svc, [svc.extractor()(inputs)], keep)
        self._records = 1
        response_data = {"outputs": outs[0] if outs[0] is not None else {},
                         "warnings": [], "errors": errors[0], "service_chain": []}
        if meta.get("response_data_inputs"):
            response_data["inputs"] = inputs
        return 200, {"status": "Success", "response_data": response_data,
                     "response_meta": {**execute.meta(svc, meta.get("correlation_id")),
                                       "process_time": round(ms, 3),
                                       "call_purpose": meta.get("call_purpose")},
                     "error": None}

    def _v4(self, body, tenant):
        data = self._json(body)
        inputs = data.get("inputs")
        if not isinstance(inputs, list):
            raise HttpError(400, "INVALID_INPUTS", "inputs must be a list of records or a "
                            "table (header row, then rows)")
        svc = self.emu.registry.find_v4(tenant, data)
        if inputs and isinstance(inputs[0], list):
            rows = execute.rows_from_table(svc, inputs)
        else:
            rows = execute.rows_from_records(svc, inputs)
        n = len(rows)
        if self.emu.max_records and n > self.emu.max_records:
            raise HttpError(413, "TOO_MANY_RECORDS", f"{n} records exceed the limit of "
                            f"{self.emu.max_records} per request")
        outs, errors, ms = execute.run(svc, rows, execute.filter_outputs(data.get("output"), None))
        self._records = n
        per = round(ms / n, 4) if n else 0
        return 200, {"outputs": outs, "process_time": [per] * n, "warnings": [[]] * n,
                     "errors": errors, "service_chain": [[]] * n,
                     **execute.meta(svc, data.get("correlation_id"))}

    def _service_from_meta(self, tenant, data):
        meta = data.get("request_meta")
        if not isinstance(meta, dict):
            raise HttpError(400, "INVALID_BODY", "request_meta must be an object")
        if not meta.get("service_id") and not meta.get("version_id"):
            raise HttpError(400, "MISSING_LOCATOR", "request_meta needs service_id or version_id")
        return self.emu.registry.find(tenant, service_id=meta.get("service_id"),
                                      version_id=meta.get("version_id")), meta

    def _validation(self, body, tenant):
        data = self._json(body)
        svc, meta = self._service_from_meta(tenant, data)
        kind = "dynamic" if meta.get("validation_type") == "dynamic" else "static"
        outputs = {}
        for inp in svc.inputs:
            allow = "List" if inp["options"] else {"number": "Decimal", "integer": "WholeNumber",
                                                   "string": "Text", "boolean": "List"}.get(
                inp["type"], "Any")
            outputs[inp["name"]] = {"validation_allow": allow, "validation_type": kind,
                                    "dependent_inputs": None, "min": inp["min"],
                                    "max": inp["max"], "options": inp["options"]}
        return 200, {"status": "Success", "response_data": {
            "outputs": outputs, "warnings": None, "errors": None, "service_chain": None},
            "response_meta": execute.meta(svc), "error": None}

    def _metadata(self, body, tenant):
        data = self._json(body)
        svc, _ = self._service_from_meta(tenant, data)
        outputs = {f"Metadata.{k}": v for k, v in svc.metadata.items()}
        outputs.update({"Metadata.Inputs": svc.input_names, "Metadata.Outputs": svc.outputs})
        return 200, {"status": "Success", "response_data": {
            "outputs": outputs, "warnings": [], "errors": [], "service_chain": []},
            "response_meta": execute.meta(svc), "error": None}

    def _control(self, body, what):
        emu = self.emu
        if what == "faults":
            if self.command == "POST":
                try:
                    emu.set_faults(**self._json(body))
                except (TypeError, ValueError) as exc:
                    raise HttpError(400, "INVALID_BODY", str(exc)) from exc
            return 200, emu.faults.as_dict()
        if what == "reset":
            emu.reset()
            return 200, {"reset": True}
        if what == "stats":
            return 200, emu.get_stats()
        return 200, [{**r, "body": base64.b64encode(r["body"]).decode()}
                     for r in emu.get_requests()]
