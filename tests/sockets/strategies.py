"""Hypothesis strategies for custom sockets, built from polycodec.sockets.spec tables.

Text may hold lone surrogates (what a JSON "\\ud800" escape decodes to): such a socket is valid
except for the UTF-8 rule, which tests check through `text_problems_only`.
"""
from __future__ import annotations

import string

from hypothesis import strategies as st

from polycodec.sockets import (ClassDependency, CustomSocket, Endpoint, ScriptCall,
                               ScriptDependency, spec)

_lower = string.ascii_lowercase
_mid = _lower + string.digits + "_-/"
_end = _lower + string.digits

socket_names = st.builds(
    lambda a, mid, z: a + mid + z,
    st.sampled_from(_lower), st.text(_mid, max_size=20), st.sampled_from(_end),
).filter(lambda n: n not in spec.SOCKET_NAME_RESERVED and len(n) <= spec.SOCKET_NAME_MAX)

# every code point, lone surrogates included (about one character in eight is one)
_chars = st.one_of(*[st.characters(blacklist_categories=())] * 7,
                   st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF))


def texts(**kwargs):
    return st.text(_chars, **kwargs)


def text_problems_only(problems):
    """True if every problem is the no-UTF-8-form rule (the strategies' only invalid part)."""
    return all("no UTF-8 form" in p.message for p in problems)


endpoint_names = texts(min_size=1, max_size=30).filter(
    lambda n: not n.endswith(spec.ENDPOINT_NAME_FORBIDDEN_SUFFIXES))
dep_names = st.text(_lower + string.digits + "_", min_size=1, max_size=12)
sources = texts(max_size=200)
method_sets = st.one_of(
    st.just([spec.WILDCARD]),
    st.lists(st.sampled_from(spec.METHODS), min_size=1, max_size=5, unique=True),
)
json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), texts(max_size=20))
json_values = st.recursive(json_scalars, lambda c: st.one_of(
    st.lists(c, max_size=3), st.dictionaries(texts(max_size=8), c, max_size=3)), max_leaves=10)


@st.composite
def sockets(draw):
    """A socket valid but for text with no UTF-8 form: every call names a script dependency,
    no method handled twice."""
    names = draw(st.lists(dep_names, min_size=1, max_size=4, unique=True))
    deps = []
    for n in names:
        deps.append(ScriptDependency(name=n, runtime_name=draw(st.sampled_from(spec.RUNTIME_NAMES)),
                                     source=draw(sources)))
    for n in draw(st.lists(dep_names.filter(lambda x: x not in names), max_size=2, unique=True)):
        fields = draw(st.lists(st.text(_lower, min_size=1, max_size=8), max_size=3, unique=True))
        deps.append(ClassDependency(n, schema=[
            {"name": f, "type": draw(st.sampled_from(["string", "integer", "float"]))} for f in fields]))
    deps = draw(st.permutations(deps))
    endpoints = []
    for ep_name in draw(st.lists(endpoint_names, min_size=1, max_size=4, unique=True)):
        ep = Endpoint(ep_name)
        free = list(spec.METHODS)
        for _ in range(draw(st.integers(1, 3))):
            if not free:
                break
            if len(free) == len(spec.METHODS) and draw(st.booleans()):
                methods, free = [spec.WILDCARD], []
            else:
                methods = draw(st.lists(st.sampled_from(free), min_size=1, unique=True))
                free = [m for m in free if m not in methods]
            ep.add_call(ScriptCall(name=draw(st.sampled_from(names))), methods=methods)
        endpoints.append(ep)
    return CustomSocket(
        name=draw(socket_names),
        description=draw(st.one_of(st.none(), texts(max_size=40))),
        endpoints=endpoints,
        dependencies=deps,
        metadata=draw(st.one_of(st.none(), st.dictionaries(texts(max_size=8), json_values, max_size=3))),
        config=draw(st.one_of(st.none(), st.dictionaries(texts(max_size=8), json_values, max_size=3))),
    )
