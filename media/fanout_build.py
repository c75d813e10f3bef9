"""Builds `media._fanout` (media/fanout.c) with cffi, at install (`cffi_modules` in setup.py)."""

from pathlib import Path

from cffi import FFI

HERE = Path(__file__).resolve().parent

ffi = FFI()
ffi.cdef((HERE / "fanout.h").read_text())
ffi.set_source(
    "media._fanout",
    '#include <stdint.h>\n#include "fanout.h"',
    sources=["media/fanout.c"],  # relative to the project, where setup.py runs
    include_dirs=["media"],
    extra_compile_args=["-O2", "-std=c99", "-Wall", "-Wextra", "-Werror"],
)
