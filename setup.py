"""Builds the Cython core. Set POLYCODEC_NO_EXT=1 to install the pure-Python fallback only.

POLYCODEC_EXTRA_CFLAGS / POLYCODEC_EXTRA_LDFLAGS are added after -O3 (sanitizer and fuzzer
builds: fuzz/build; they override the optimisation level, which CFLAGS cannot)."""
import os
import shlex

from setuptools import Extension, setup

MODULES = ["_packer", "_unpacker", "_chunks"]


def extensions():
    if os.environ.get("POLYCODEC_NO_EXT") == "1":
        return []
    from Cython.Build import cythonize

    exts = [
        Extension(
            f"polycodec.{name}",
            [f"src/_ext/{name}.pyx"],
            include_dirs=["src/_ext"],
            extra_compile_args=["-O3", *shlex.split(os.environ.get("POLYCODEC_EXTRA_CFLAGS", ""))],
            extra_link_args=shlex.split(os.environ.get("POLYCODEC_EXTRA_LDFLAGS", "")),
        )
        for name in MODULES
    ]
    return cythonize(
        exts,
        language_level=3,
        include_path=["src/_ext"],
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )


setup(ext_modules=extensions())
