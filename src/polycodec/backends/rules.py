"""The rules a backend name, version and partition must follow, as lists of problems.

Shared by the install bodies, the client and the local pyrun backend.
"""
from __future__ import annotations

from ..errors import Problem
from .spec import (NAME_MAX_LEN, NAME_PATTERN, PARTITION_MAX_LEN, PARTITION_PATTERN,
                   VERSION_PATTERN)


def name_problems(name, path):
    if not isinstance(name, str):
        return [Problem(path, f"must be a string, not {type(name).__name__}")]
    if len(name) > NAME_MAX_LEN:
        return [Problem(path, f"longer than {NAME_MAX_LEN} characters")]
    if not NAME_PATTERN.fullmatch(name):
        return [Problem(path, f"{name!r} is not a backend name "
                              f"(pattern {NAME_PATTERN.pattern})")]
    return []


def version_problems(version, path):
    if not isinstance(version, str):
        return [Problem(path, f"must be a string, not {type(version).__name__}")]
    if not VERSION_PATTERN.fullmatch(version):
        return [Problem(path, f"{version!r} is not an exact semantic version (e.g. 0.1.1); "
                              "ranges such as ^0.1.0 must be resolved first")]
    return []


def partition_problems(partition, path="partition"):
    if not isinstance(partition, str):
        return [Problem(path, f"must be a string, not {type(partition).__name__}")]
    if len(partition) > PARTITION_MAX_LEN:
        return [Problem(path, f"longer than {PARTITION_MAX_LEN} characters")]
    if not PARTITION_PATTERN.fullmatch(partition):
        return [Problem(path, f"{partition!r} cannot travel in an HTTP header: printable "
                              "ASCII only, no leading or trailing space")]
    return []
