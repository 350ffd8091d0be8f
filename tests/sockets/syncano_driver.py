"""Runs the real `syncano` 5.4.6 library in a subprocess (PYTHONPATH = its --target dir).

Reads a job (JSON) on stdin, prints results (JSON) on stdout. Modes:
- "record": build each case with the library's own objects (or its raw format) and record the
  request bodies it would send (a requests transport adapter answers instead of a server);
- "live": drive the library against a running polycodec emulator over real HTTP.

The library does not import on Python >= 3.6 as published: its ModelMetaclass drops
`__classcell__` when it rebuilds class attributes. The finder below patches that one line in
memory while importing (the installed files are untouched).
"""
import importlib.abc
import importlib.machinery
import json
import sys

_OLD = "new_class = super_new(cls, name, bases, {'__module__': module})"
_NEW = ("new_class = super_new(cls, name, bases, {'__module__': module, **({'__classcell__': "
        "attrs.pop('__classcell__')} if '__classcell__' in attrs else {})})")


class _PatchedLoader(importlib.machinery.SourceFileLoader):
    def get_code(self, fullname):  # from source, never from a cached .pyc
        data = self.get_data(self.path)
        assert _OLD.encode() in data, "syncano metaclass line not found: wrong version?"
        return compile(data.replace(_OLD.encode(), _NEW.encode()), self.path, "exec")


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        if fullname != "syncano.models.archetypes":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        spec.loader = _PatchedLoader(fullname, spec.origin)
        return spec


sys.meta_path.insert(0, _Finder())

from requests.adapters import BaseAdapter  # noqa: E402
from requests.models import Response  # noqa: E402

import syncano  # noqa: E402
from syncano.models import (Class, ClassDependency, CustomSocket, Endpoint, Script,  # noqa: E402
                            ScriptCall, ScriptDependency)

SENT = []


class Recorder(BaseAdapter):
    def send(self, request, **kwargs):
        SENT.append({"method": request.method, "url": request.url,
                     "headers": dict(request.headers),
                     "body": request.body.decode() if isinstance(request.body, bytes) else request.body})
        body = json.loads(request.body) if request.body else {}
        body.setdefault("name", "x")
        body["links"] = {"self": "/v1.1/instances/inst/sockets/x/",
                         "recheck": "/v1.1/instances/inst/sockets/x/recheck/"}
        r = Response()
        r.status_code = 201 if request.method == "POST" else 200
        r._content = json.dumps(body).encode()
        r.headers["content-type"] = "application/json"
        r.url, r.request = request.url, request
        return r

    def close(self):
        pass


def build(case):
    s = CustomSocket(name=case["name"], instance_name=case.get("instance", "inst"))
    for ep in case["endpoints"]:
        e = Endpoint(name=ep["name"])
        for c in ep["calls"]:
            e.add_call(ScriptCall(name=c["name"], methods=c["methods"]))
        s.add_endpoint(e)
    for d in case["dependencies"]:
        if d["kind"] == "script":
            s.add_dependency(ScriptDependency(Script(runtime_name=d["runtime_name"], source=d["source"]),
                                              name=d["name"]))
        else:
            s.add_dependency(ClassDependency(Class(name=d["name"], schema=d["schema"])))
    return s


def record(job):
    syncano.connect(host="http://recorded.invalid/", api_key=job["api_key"], instance_name="inst")
    CustomSocket._meta.connection.session.mount("http://", Recorder())
    out = []
    for case in job["cases"]:
        del SENT[:]
        if case["mode"] == "raw":
            CustomSocket.please.create(**case["raw"])
        else:
            s = build(case)
            s.install()
            s.update()
            s.recheck()
        out.append(list(SENT))
    return out


def live(job):
    syncano.connect(host=job["url"] + "/", api_key=job["api_key"], instance_name=job["instance"])
    case = job["case"]
    s = build(dict(case, instance=job["instance"]))
    s.install()
    got = CustomSocket.please.get(name=case["name"], instance_name=job["instance"])
    result = {"status": got.status, "endpoints": got.endpoints, "dependencies": got.dependencies}
    result["run"] = got.run(case["endpoints"][0]["name"], method="POST", data={"x": 1})
    got.remove_endpoint(endpoint_name=case["endpoints"][-1]["name"])
    got.update()
    result["after_update"] = CustomSocket.please.get(name=case["name"],
                                                     instance_name=job["instance"]).endpoints
    return result


if __name__ == "__main__":
    job = json.loads(sys.stdin.read())
    print(json.dumps(record(job) if job["mode"] == "record" else live(job)))
