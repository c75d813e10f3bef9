"""The native fan-out (media/fanout.c), built with cffi; the rest is in pyproject.toml.

The extension is optional: without a C compiler and Python's headers the
install goes on, and the server forwards every packet in Python (it says so
when it starts; see docs/operations.md).
"""

import sys
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent / "media"))
from fanout_build import ffi

fanout = ffi.distutils_extension(tmpdir="build/cffi")
fanout.optional = True
fanout.py_limited_api = True

setup(ext_modules=[fanout], options={"bdist_wheel": {"py_limited_api": "cp311"}})
