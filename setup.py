"""Builds the Cython core. Set POLYCODEC_NO_EXT=1 to install the pure-Python fallback only.

POLYCODEC_EXTRA_CFLAGS / POLYCODEC_EXTRA_LDFLAGS are added after -O3 (sanitizer and fuzzer
builds: fuzz/build; they override the optimisation level, which CFLAGS cannot)."""
import os
import shlex

from setuptools import Extension, setup

MODULES = ["_packer", "_unpacker", "_chunks", "_stream"]


def extensions():
    if os.environ.get("POLYCODEC_NO_EXT") == "1":
        return []
    import numpy
    from Cython.Build import cythonize

    exts = [
        Extension(
            f"polycodec.{name}",
            [f"src/_ext/{name}.pyx"],
            # the numpy C API (arrays built over the input); built against numpy 2, the
            # binary also runs on numpy 1.x
            include_dirs=["src/_ext", numpy.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            # extra flags come after -O3 (the fuzz and sanitizer builds)
            extra_compile_args=["-O3", *shlex.split(os.environ.get("POLYCODEC_EXTRA_CFLAGS", ""))],
            extra_link_args=shlex.split(os.environ.get("POLYCODEC_EXTRA_LDFLAGS", "")),
        )
        for name in MODULES
    ]
    return cythonize(
        exts,
        language_level=3,
        include_path=["src/_ext"],
        # binding: the functions are introspectable (inspect.signature), as the stubs and
        # tests/test_public_api.py need; it is Cython 3's default, stated so it stays on.
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True,
                             "binding": True},
    )


setup(ext_modules=extensions())
