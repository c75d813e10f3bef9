"""Run every benchmark in turn (`make bench`); each prints its own figures."""

from __future__ import annotations

import importlib
import sys

BENCHES = ["bench.poll_storm"]
"""Modules with a `main(argv)`; add yours here."""


def main() -> None:
    for name in BENCHES:
        print(f"== {name}", flush=True)
        importlib.import_module(name).main([])
    sys.stdout.flush()


if __name__ == "__main__":
    main()
