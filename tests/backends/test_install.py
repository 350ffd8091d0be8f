"""Install body: round trips, the spec example, and one case per validation rule."""
from __future__ import annotations

import base64

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polycodec.backends.install import UnmatchedConfigWarning
from polycodec.backends import (BackendModule, InstallRequest, PayloadError, decode_id,
                                encode_id, install_request, parse_install_response)
from polycodec.backends.spec import (CONFIG_KEYS, DEFAULT_PARTITION, GRAPH_TYPE,
                                     IGNORED_CONFIG_KEYS, INSTALL_KEYS, LOCK_KEYS, MODULE_TYPE,
                                     NAME_MAX_LEN, NAME_PATTERN, PARTITION_MAX_LEN,
                                     PARTITION_PATTERN, RESPONSE_KEYS, SPEC_API_KEY_EXAMPLES,
                                     api_key)

# --- strategies -----------------------------------------------------------------------------
names = st.from_regex(NAME_PATTERN, fullmatch=True).filter(lambda s: len(s) <= NAME_MAX_LEN)
nums = st.integers(0, 10**6)
prerelease = st.from_regex(r"[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*", fullmatch=True)
versions = st.builds(lambda a, b, c, pre: f"{a}.{b}.{c}" + (f"-{pre}" if pre else ""),
                     nums, nums, nums, st.none() | prerelease)
partitions = st.from_regex(PARTITION_PATTERN, fullmatch=True).filter(
    lambda s: len(s) <= PARTITION_MAX_LEN)
text = st.text(max_size=30)
builds = st.dictionaries(st.text(min_size=1, max_size=10), text, max_size=4)


@st.composite
def requests(draw):
    mod_names = draw(st.lists(names, min_size=1, max_size=4, unique=True))
    modules = [BackendModule(n, draw(versions), draw(text), draw(text), draw(text),
                             draw(st.none() | st.text(min_size=1, max_size=20)),
                             tuple(draw(st.lists(text, max_size=3))))
               for n in mod_names]
    configured = draw(st.lists(st.sampled_from(mod_names), unique=True))
    configs = {n: {"build": draw(builds)} for n in configured}
    return InstallRequest(modules, configs, draw(partitions))


# --- round trips ----------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(requests())
def test_model_payload_model(req):
    payload = req.to_payload()
    assert InstallRequest.from_payload(payload) == req
    # and through the wire
    assert InstallRequest.from_payload(orjson.loads(orjson.dumps(payload))) == req
    assert list(payload) == list(INSTALL_KEYS)
    assert all(list(e) == list(LOCK_KEYS) for e in payload["lock"])


@settings(max_examples=100, deadline=None)
@given(names)
def test_id_is_base64url_of_name(name):
    i = encode_id(name)
    assert decode_id(i) == name
    assert base64.urlsafe_b64decode(i) == name.encode()
    assert "+" not in i and "/" not in i


def test_spec_example_body():
    body = install_request(
        [BackendModule("demo_yw_backend", "0.1.1", fingerprint="<fp>", bundle="<bundle>")],
        {"demo_yw_backend": {"build": {"python": "python3.10", "modules": "numpy"}}},
        partition="<title>~<random>")
    assert body["graphType"] == GRAPH_TYPE
    assert body["lock"] == [{"name": "demo_yw_backend", "version": "0.1.1",
                             "id": "ZGVtb195d19iYWNrZW5k", "namespace": "", "type": "backend",
                             "fingerprint": "<fp>", "exportedSymbol": "demo_yw_backend",
                             "aliases": [], "apiKey": "01"}]
    assert body["definition"] == [[["ZGVtb195d19iYWNrZW5k",
                                     "ZGVtb195d19iYWNrZW5k/0.1.1/<bundle>"]]]
    assert body["backendsConfig"] == {"demo_yw_backend": {"build": {"python": "python3.10",
                                                                     "modules": "numpy"}}}
    assert body["partitionId"] == "<title>~<random>"


def test_config_for_a_backend_not_listed_warns_and_is_kept():
    # docs/wire-backends.md's install example pairs demo_yw_backend with a pyrun_backend config:
    # that backend may come in as a dependency (resolved by the server), so the body keeps it,
    # with a warning
    config = {"pyrun_backend": {"build": {"python": "python3.10", "modules": "numpy"}}}
    with pytest.warns(UnmatchedConfigWarning, match=r"backendsConfig\['pyrun_backend'\].*exact backend name"):
        body = install_request("demo_yw_backend#0.1.1", config)
    assert body["backendsConfig"] == config


def test_partition_defaults_to_default():
    body = install_request("pyrun_backend#0.1.0")
    assert body["partitionId"] == DEFAULT_PARTITION == "Default"
    assert body["backendsConfig"] == {}


# --- apiKey ---------------------------------------------------------------------------------
@pytest.mark.parametrize("version,key", sorted(SPEC_API_KEY_EXAMPLES.items()))
def test_api_key_spec_examples(version, key):
    assert api_key(version) == key


@pytest.mark.parametrize("version,key", [  # the spec's prose rule, one row per branch
    ("2.3.4", "2"), ("10.0.0", "10"), ("0.12.0", "012"), ("0.1.0", "01"), ("0.0.7", "007"),
    ("0.0.0", "000"), ("1.0.0-wip", "1"), ("0.2.1+build.5", "02")])
def test_api_key_rule(version, key):
    assert api_key(version) == key


def _v(*parts):
    return ".".join(map(str, parts))


@given(nums, nums, nums, nums, nums)
def test_api_key_changes_exactly_on_breaking_versions(major, minor, patch, x, y):
    # stated as semver caret compatibility, not as the table: versions that ^M.m.p accepts
    # share a key; a version it rejects gets another one
    key = api_key(_v(major, minor, patch))
    assert key.isdigit()
    if major:
        same = [_v(major, x, y)]
    elif minor:
        same = [_v(0, minor, x)]
    else:
        same = [_v(0, 0, patch)]
    assert {api_key(v) for v in same} == {key}
    other = [_v(major + 1 + x, minor, patch)]
    if not major:
        other += [_v(0, minor + 1 + x, patch), _v(1 + x, 0, 0)]
        if not minor:
            other += [_v(0, 0, patch + 1 + x), _v(0, 1 + x, 0)]
    assert key not in {api_key(v) for v in other}


@pytest.mark.parametrize("bad", ["1.2", "^1.2.3", "01.2.3", "1.2.3\n", "x", ""])
def test_api_key_refuses_inexact_versions(bad):
    with pytest.raises(ValueError):
        api_key(bad)


# --- validation: one case per rule ----------------------------------------------------------
def problems_of(**kw):
    args = {"modules": ["pyrun_backend#0.1.0"], **kw}
    with pytest.raises(PayloadError) as e:
        install_request(**args)
    return e.value.problems


def test_build_args_refused_with_reason():
    (path, msg), = problems_of(configurations={"pyrun_backend": {"buildArgs": {"a": "b"}}})
    assert path == "backendsConfig['pyrun_backend'].buildArgs"
    assert msg == IGNORED_CONFIG_KEYS["buildArgs"]
    assert "silently ignored" in msg and "'build'" in msg


def test_unknown_config_key_refused():
    (path, msg), = problems_of(configurations={"pyrun_backend": {"bulid": {}}})
    assert path.endswith(".bulid") and all(k in msg for k in CONFIG_KEYS)


@pytest.mark.parametrize("configs,path_end,words", [
    ({"pyrun_backend#0.1.0": {"build": {}}}, "['pyrun_backend#0.1.0']", "without a version"),
    ({"pyrun_backend": "build"}, "['pyrun_backend']", "must be an object"),
    ({"pyrun_backend": {"build": ["numpy"]}}, ".build", "must be an object"),
    ({"pyrun_backend": {"build": {"python": 3.1}}}, ".build.python", "must be a string"),
    ({"pyrun_backend": {"build": {"": "x"}}}, ".build", "non-empty"),
])
def test_config_rules(configs, path_end, words):
    (path, msg), = problems_of(configurations=configs)
    assert path.endswith(path_end) and words in msg


def test_configurations_must_be_a_mapping():
    (path, msg), = problems_of(configurations=[("pyrun_backend", {})])
    assert path == "backendsConfig"


@pytest.mark.parametrize("module,words", [
    ("pyrun_backend#^0.1.0", "exact semantic version"),
    ("pyrun_backend#latest", "exact semantic version"),
    ("pyrun_backend", "has no version"),
    ("pyrun_backend#0.1.0 as pyrun", "' as alias'"),
    ("py run#0.1.0", "not a backend name"),
    ("-x#0.1.0", "not a backend name"),
    ("a/b#0.1.0", "not a backend name"),
    ("x" * (NAME_MAX_LEN + 1) + "#0.1.0", "longer than"),
    (42, "not int"),
    ({"name": "x", "version": "1.0.0", "colour": "red"}, "colour"),
])
def test_module_rules(module, words):
    problems = problems_of(modules=[module])
    assert any(words in msg for _, msg in problems), problems
    assert all(path.startswith("modules[0]") for path, _ in problems)


def test_duplicate_and_empty_modules():
    (path, msg), = problems_of(modules=["a#1.0.0", "a#2.0.0"])
    assert path == "modules[1].name" and "twice" in msg
    (path, msg), = problems_of(modules=[])
    assert path == "modules" and "at least one" in msg


@pytest.mark.parametrize("partition", ["", " lead", "trail ", "two\nlines", "caf\u00e9", "tab\t",
                                       "x" * (PARTITION_MAX_LEN + 1), 7])
def test_partition_rules(partition):
    (path, msg), = problems_of(partition=partition)
    assert path == "partitionId"


def test_every_problem_reported_at_once():
    problems = problems_of(modules=["a#^1", "b c#1.0.0", "d#1.0.0", "d#1.0.0"],
                           configurations={"zz#1": {"buildArgs": {}}}, partition="")
    paths = [p for p, _ in problems]
    assert {"modules[0].version", "modules[1].name", "modules[3].name"} <= set(paths)
    assert "backendsConfig['zz#1']" in paths and "backendsConfig['zz#1'].buildArgs" in paths
    assert "partitionId" in paths


# --- from_payload rules ---------------------------------------------------------------------
def good():
    return install_request([BackendModule("pyrun_backend", "0.1.0", "fp", "dist/x.js")],
                           {"pyrun_backend": {"build": {"python": "python3.12"}}}, "P")


def payload_problems(mutate):
    p = good()
    mutate(p)
    with pytest.raises(PayloadError) as e:
        InstallRequest.from_payload(p)
    return e.value.problems


@pytest.mark.parametrize("mutate,path,words", [
    (lambda p: p.pop("lock"), "$.lock", "missing"),
    (lambda p: p.update(extra=1), "$.extra", "unknown"),
    (lambda p: p.update(graphType="sequential"), "$.graphType", GRAPH_TYPE),
    (lambda p: p.update(lock={}), "$.lock", "array"),
    (lambda p: p["lock"][0].update(id="cHlydW4="), "$.lock[0].id", "base64url"),
    (lambda p: p["lock"][0].update(apiKey="0"), "$.lock[0].apiKey", "'01'"),
    (lambda p: p["lock"][0].update(type="library"), "$.lock[0].type", MODULE_TYPE),
    (lambda p: p["lock"][0].pop("fingerprint"), "$.lock[0]", "fingerprint"),
    (lambda p: p["lock"][0].update(aliases="a"), "$.lock[0].aliases", "array"),
    (lambda p: p["lock"][0].update(version="0.1"), "$.lock[0].version", "exact"),
    (lambda p: p.update(definition=[[]]), "$.lock[0]", "no definition entry"),
    (lambda p: p.update(definition=[[["x", "y", "z"]]]), "$.definition[0][0]", "[id, path]"),
    (lambda p: p.update(definition={}), "$.definition", "layers"),
    (lambda p: p["definition"][0][0].__setitem__(1, "other/0.1.0/x"), "$.definition",
     "must start with"),
    (lambda p: p["definition"].append([["eHl6", "eHl6/1.0.0/"]]), "$.definition",
     "no lock entry"),
    (lambda p: p["definition"][0].append(list(p["definition"][0][0])), "$.definition[0][1]",
     "twice"),
    (lambda p: p.update(partitionId=None), "partitionId", "string"),
    (lambda p: p["backendsConfig"]["pyrun_backend"].update(buildArgs={}),
     "backendsConfig['pyrun_backend'].buildArgs", "silently ignored"),
])
def test_from_payload_rules(mutate, path, words):
    problems = payload_problems(mutate)
    assert any(p == path and words in m for p, m in problems), problems


def test_from_payload_not_an_object():
    with pytest.raises(PayloadError):
        InstallRequest.from_payload([1, 2])


def test_multi_layer_definition_is_read():
    p = install_request(["a#1.0.0", "b#2.0.0"])
    layer = p["definition"][0]
    p["definition"] = [[layer[0]], [layer[1]]]
    assert [m.name for m in InstallRequest.from_payload(p).modules] == ["a", "b"]


# --- install response -----------------------------------------------------------------------
def test_parse_install_response():
    entry = {"baseUrl": "/backends/pyrun_backend/0.1.0", "partitionId": "P",
             "name": "pyrun_backend", "version": "0.1.0", "exportedClientSymbol": "pyrun",
             "clientBundle": "return 1", "config": {"build": {}}}
    assert list(entry) == list(RESPONSE_KEYS)
    (b,) = parse_install_response({"backends": [entry]})
    assert (b.name, b.version, b.partition_id) == ("pyrun_backend", "0.1.0", "P")
    c = b.client("http://127.0.0.1:1")
    assert c.partition == "P" and c.url_base.endswith("/backends/pyrun_backend/0.1.0/")
    with pytest.raises(PayloadError) as e:
        parse_install_response({"backends": [{"name": "x"}, 3]})
    assert [p for p, _ in e.value.problems] == ["$.backends[0]", "$.backends[1]"]
    with pytest.raises(PayloadError):
        parse_install_response({"nope": []})
