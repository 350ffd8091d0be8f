"""Builds the Cython core. Set POLYCODEC_NO_EXT=1 to install the pure-Python fallback only."""
import os

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
            extra_compile_args=["-O3"],
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
