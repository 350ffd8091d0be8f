"""The body webpm-client POSTs to py-youwol to install backends (spec.ROUTES["install"]).

`install_request(...)` builds it; `InstallRequest` is the model with `to_payload()` /
`from_payload()` and a `problems()` check that reports every rule broken, with its path.
No CDN is reached: each module names an exact version (`"name#1.2.3"` or a BackendModule
carrying the fingerprint and bundle path the CDN's loading graph gave).
"""
from __future__ import annotations

import base64
import warnings
from dataclasses import dataclass, field

from ..errors import Problem
from .client import BackendClient
from .errors import PayloadError
from .rules import name_problems, partition_problems, version_problems
from .spec import (API_KEY_RULE, CONFIG_KEYS, DEFAULT_PARTITION, GRAPH_TYPE, IGNORED_CONFIG_KEYS,
                   INSTALL_KEYS, LOCK_KEYS, MODULE_TYPE, RESPONSE_KEYS, api_key)

__all__ = ["BackendModule", "InstallRequest", "InstalledBackend", "install_request",
           "parse_install_response", "encode_id", "decode_id", "partition_problems"]


def encode_id(name: str) -> str:
    """base64url of the UTF-8 name (padding kept, as Python's urlsafe_b64encode writes it)."""
    return base64.urlsafe_b64encode(name.encode()).decode()


def decode_id(asset_id: str) -> str:
    return base64.urlsafe_b64decode(asset_id.encode()).decode()


@dataclass(frozen=True)
class BackendModule:
    """One backend of the lock. fingerprint/bundle come from the CDN's loading graph."""

    name: str
    version: str
    fingerprint: str = ""
    bundle: str = ""
    namespace: str = ""
    exported_symbol: str | None = None   # None means the backend's name
    aliases: tuple = ()

    def __post_init__(self):
        if isinstance(self.aliases, list):  # JSON gives lists; the model is hashable
            object.__setattr__(self, "aliases", tuple(self.aliases))
        if self.exported_symbol is None:  # what the lock carries when none is given
            object.__setattr__(self, "exported_symbol", self.name)

    @property
    def id(self):
        return encode_id(self.name)

    @property
    def api_key(self):
        return api_key(self.version)

    @property
    def path(self):
        return f"{self.id}/{self.version}/{self.bundle}"

    @classmethod
    def parse(cls, spec):
        """A BackendModule from `"name#version"`, a BackendModule, or a dict of its fields."""
        if isinstance(spec, cls):
            return spec
        if isinstance(spec, dict):
            return cls(**spec)
        if isinstance(spec, str):
            if " as " in spec:
                raise PayloadError([Problem("modules", f"{spec!r}: ' as alias' is a browser-side name; "
                                               "pass 'name#version' here")])
            name, sep, version = spec.partition("#")
            if not sep:
                raise PayloadError([Problem("modules", f"{spec!r} has no version: write "
                                                "'name#<exact version>', e.g. 'pyrun_backend#0.1.0'")])
            return cls(name.strip(), version.strip())
        raise PayloadError([Problem("modules", f"a module is 'name#version', a dict or a BackendModule, "
                                        f"not {type(spec).__name__}")])

    def problems(self, path):
        p = name_problems(self.name, f"{path}.name") + version_problems(self.version,
                                                                       f"{path}.version")
        for key in ("fingerprint", "bundle", "namespace"):
            if not isinstance(getattr(self, key), str):
                p.append(Problem(f"{path}.{key}", "must be a string"))
        if not isinstance(self.exported_symbol, str) or not self.exported_symbol:
            p.append(Problem(f"{path}.exportedSymbol", "must be a non-empty string"))
        if not isinstance(self.aliases, tuple) or not all(isinstance(a, str) for a in self.aliases):
            p.append(Problem(f"{path}.aliases", "must be a tuple of strings"))
        return p

    def lock_entry(self):
        entry = {"name": self.name, "version": self.version, "id": self.id,
                 "namespace": self.namespace, "type": MODULE_TYPE,
                 "fingerprint": self.fingerprint, "exportedSymbol": self.exported_symbol,
                 "aliases": list(self.aliases), "apiKey": self.api_key}
        return {k: entry[k] for k in LOCK_KEYS}


def unmatched_configs(configurations, names, path="backendsConfig"):
    """Configs naming no listed module. Only a warning: a listed module may pull that backend
    in as a dependency, which the server resolves and this builder cannot see."""
    return [f"{path}[{name!r}]: no module named {name!r} in this install; configurations "
            "are matched by exact backend name"
            for name in configurations if name not in names and "#" not in name]


def config_problems(configurations, names, path="backendsConfig"):
    """Rules of the configurations map: {backend name: {"build": {option: string}}}."""
    if not isinstance(configurations, dict):
        return [(path, f"must be an object, not {type(configurations).__name__}")]
    p = []
    for name, config in configurations.items():
        where = f"{path}[{name!r}]"
        if not isinstance(name, str) or not name:
            p.append((where, "a configuration is keyed by a non-empty backend name"))
        elif "#" in name:
            p.append((where, "configurations are keyed by the bare backend name, without a "
                             "version; a versioned key matches no backend"))
        if not isinstance(config, dict):
            p.append((where, f"must be an object, not {type(config).__name__}"))
            continue
        for key, value in config.items():
            if key in IGNORED_CONFIG_KEYS:
                p.append(Problem(f"{where}.{key}", IGNORED_CONFIG_KEYS[key]))
            elif key not in CONFIG_KEYS:
                p.append(Problem(f"{where}.{key}", f"unknown configuration key (the server reads "
                                            f"{', '.join(CONFIG_KEYS)})"))
            elif not isinstance(value, dict):
                p.append(Problem(f"{where}.{key}", f"must be an object, not {type(value).__name__}"))
            else:
                for opt, arg in value.items():
                    if not isinstance(opt, str) or not opt:
                        p.append(Problem(f"{where}.{key}", f"option name {opt!r} must be a non-empty "
                                                    "string"))
                    elif not isinstance(arg, str):
                        p.append(Problem(f"{where}.{key}.{opt}", f"must be a string (it becomes a build "
                                                          f"argument), not {type(arg).__name__}"))
    return p


class UnmatchedConfigWarning(UserWarning):
    """A configuration names a backend that is not among the listed modules."""


@dataclass
class InstallRequest:
    modules: list
    configurations: dict = field(default_factory=dict)
    partition: str = DEFAULT_PARTITION

    def problems(self):
        if not isinstance(self.modules, (list, tuple)):
            return [Problem("modules", "must be a list")]
        p = []
        if not self.modules:
            p.append(Problem("modules", "at least one backend module is needed"))
        seen = set()
        for i, m in enumerate(self.modules):
            if not isinstance(m, BackendModule):
                p.append(Problem(f"modules[{i}]", "must be a BackendModule"))
                continue
            p += m.problems(f"modules[{i}]")
            if m.name in seen:
                p.append(Problem(f"modules[{i}].name", f"{m.name!r} appears twice; one version per "
                                                "backend name (configurations are keyed by name)"))
            seen.add(m.name)
        p += config_problems(self.configurations, seen)
        p += partition_problems(self.partition, "partitionId")
        return p

    def to_payload(self):
        problems = self.problems()
        if problems:
            raise PayloadError(problems)
        names = {m.name for m in self.modules}
        for message in unmatched_configs(self.configurations, names):
            warnings.warn(message, UnmatchedConfigWarning, stacklevel=3)
        return {
            "graphType": GRAPH_TYPE,
            "lock": [m.lock_entry() for m in self.modules],
            # backends do not depend on each other here: one layer
            "definition": [[[m.id, m.path] for m in self.modules]],
            "backendsConfig": {name: {k: dict(v) for k, v in cfg.items()}
                               for name, cfg in self.configurations.items()},
            "partitionId": self.partition,
        }

    @classmethod
    def from_payload(cls, payload):
        if not isinstance(payload, dict):
            raise PayloadError([Problem("$", f"must be a JSON object, not {type(payload).__name__}")])
        p = [(f"$.{k}", "required field is missing") for k in INSTALL_KEYS if k not in payload]
        p += [Problem(f"$.{k}", "unknown field") for k in payload if k not in INSTALL_KEYS]
        if p:
            raise PayloadError(p)
        if payload["graphType"] != GRAPH_TYPE:
            p.append(Problem("$.graphType", f"must be {GRAPH_TYPE!r}"))
        paths = _definition_paths(payload["definition"], p)
        modules = []
        lock = payload["lock"]
        if not isinstance(lock, list):
            p.append(Problem("$.lock", "must be an array"))
            lock = []
        for i, entry in enumerate(lock):
            mod = _module_from_lock(entry, f"$.lock[{i}]", paths, p)
            if mod is not None:
                modules.append(mod)
        extra = set(paths) - {m.id for m in modules}
        p += [Problem("$.definition", f"entry {i!r} has no lock entry") for i in sorted(extra)]
        req = cls(modules, payload["backendsConfig"], payload["partitionId"])
        if not p:
            p = req.problems()
        if p:
            raise PayloadError(p)
        return req


def _definition_paths(definition, p):
    """{id: path} from the layered definition, recording shape problems in `p`."""
    paths = {}
    if not isinstance(definition, list):
        p.append(Problem("$.definition", "must be an array of layers"))
        return paths
    for li, layer in enumerate(definition):
        if not isinstance(layer, list):
            p.append(Problem(f"$.definition[{li}]", "a layer must be an array"))
            continue
        for ei, pair in enumerate(layer):
            where = f"$.definition[{li}][{ei}]"
            if (not isinstance(pair, list) or len(pair) != 2
                    or not all(isinstance(x, str) for x in pair)):
                p.append((where, "must be [id, path] (two strings)"))
            elif pair[0] in paths:
                p.append((where, f"id {pair[0]!r} appears twice"))
            else:
                paths[pair[0]] = pair[1]
    return paths


def _module_from_lock(entry, where, paths, p):
    if not isinstance(entry, dict):
        p.append((where, "must be an object"))
        return None
    missing = [k for k in LOCK_KEYS if k not in entry]
    if missing:
        p.append((where, f"missing {', '.join(missing)}"))
        return None
    n = len(p)
    p += name_problems(entry["name"], f"{where}.name")
    p += version_problems(entry["version"], f"{where}.version")
    if entry["type"] != MODULE_TYPE:
        p.append(Problem(f"{where}.type", f"must be {MODULE_TYPE!r}"))
    for key in ("fingerprint", "namespace", "exportedSymbol"):
        if not isinstance(entry[key], str):
            p.append(Problem(f"{where}.{key}", "must be a string"))
    if not isinstance(entry["aliases"], list) or not all(isinstance(a, str)
                                                         for a in entry["aliases"]):
        p.append(Problem(f"{where}.aliases", "must be an array of strings"))
    if len(p) > n:
        return None
    if entry["id"] != encode_id(entry["name"]):
        p.append(Problem(f"{where}.id", f"must be base64url of the name: {encode_id(entry['name'])!r}"))
    if entry["apiKey"] != api_key(entry["version"]):
        p.append(Problem(f"{where}.apiKey", f"must be {api_key(entry['version'])!r} for version "
                                     f"{entry['version']} (rule {API_KEY_RULE})"))
    prefix = f"{entry['id']}/{entry['version']}/"
    path = paths.get(entry["id"])
    bundle = ""
    if path is None:
        p.append(Problem(f"{where}", "no definition entry for this id"))
    elif not path.startswith(prefix):
        p.append(Problem(f"$.definition", f"path {path!r} must start with {prefix!r}"))
    else:
        bundle = path[len(prefix):]
    return BackendModule(entry["name"], entry["version"], entry["fingerprint"], bundle,
                         entry["namespace"], entry["exportedSymbol"], tuple(entry["aliases"]))


def install_request(modules, configurations=None, partition=None):
    """The install body for `modules` ("name#version" strings, dicts or BackendModule).

    configurations: {backend name: {"build": {option: str}}}; partition defaults to
    spec.DEFAULT_PARTITION, the partition BackendClient uses by default too.
    """
    if isinstance(modules, (str, BackendModule, dict)):
        modules = [modules]
    problems, parsed = [], []
    for i, spec in enumerate(modules):
        try:
            parsed.append(BackendModule.parse(spec))
        except PayloadError as e:
            problems += [(f"modules[{i}]", msg) for _, msg in e.problems]
        except TypeError as e:  # unknown dict keys
            problems.append(Problem(f"modules[{i}]", str(e)))
    req = InstallRequest(parsed, {} if configurations is None else configurations,
                         DEFAULT_PARTITION if partition is None else partition)
    if problems:
        rest = [pr for pr in req.problems() if pr[0] != "modules"]  # the parse said it all
        raise PayloadError(problems + rest)
    return req.to_payload()


@dataclass(frozen=True)
class InstalledBackend:
    """One entry of the install response."""

    base_url: str
    partition_id: str
    name: str
    version: str
    exported_client_symbol: str
    client_bundle: str
    config: dict

    def client(self, host, **kwargs):
        return BackendClient(host, self.name, self.version, self.partition_id, **kwargs)


def parse_install_response(payload):
    """[InstalledBackend] from `{backends: [...]}`, every problem reported at once."""
    if not isinstance(payload, dict) or not isinstance(payload.get("backends"), list):
        raise PayloadError([Problem("$.backends", "the install response must hold a 'backends' array")])
    out, p = [], []
    for i, b in enumerate(payload["backends"]):
        where = f"$.backends[{i}]"
        if not isinstance(b, dict):
            p.append((where, "must be an object"))
            continue
        missing = [k for k in RESPONSE_KEYS if k not in b]
        if missing:
            p.append((where, f"missing {', '.join(missing)}"))
            continue
        out.append(InstalledBackend(b["baseUrl"], b["partitionId"], b["name"], b["version"],
                                    b["exportedClientSymbol"], b["clientBundle"], b["config"]))
    if p:
        raise PayloadError(p)
    return out

