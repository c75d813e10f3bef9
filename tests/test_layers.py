"""The import contract: packages depend one way, and the domain stays pure.

  classroom <- journal <- signaling <- media, hooks, slides <- recorder, lti <- web <- server

`classroom/` is the domain: the standard library and msgspec only. Every
other package may import only the packages below it; `media/`, `hooks/` and
`recorder/` follow a class as listeners of the runtime and may use only its
public modules. Imports inside functions count too.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

ALLOWED: dict[str, set[str]] = {
    "classroom": set(),
    "journal": set(),
    "signaling": {"classroom", "journal"},
    "media": {"classroom", "journal", "signaling"},
    "hooks": {"classroom", "journal", "signaling"},
    "slides": {"classroom", "journal", "signaling"},
    "recorder": {"classroom", "journal", "signaling", "media", "slides"},
    "lti": {"classroom", "journal", "signaling", "hooks"},
    "web": {"classroom", "journal", "signaling", "media", "hooks", "slides", "recorder", "lti"},
    "server": {
        "classroom",
        "journal",
        "signaling",
        "media",
        "hooks",
        "slides",
        "recorder",
        "lti",
        "web",
    },
}
OURS = set(ALLOWED)

LISTENERS_MAY_USE = {
    "signaling.runtime",  # ClassRuntime: listen, on_close, commit, room, sessions, transport
    "signaling.replay_runtime",  # ReplayRuntime: listen (a recording's stream)
    "signaling.transport",  # the Socket.IO room names a listener emits to
    "signaling.gateway",  # media routes register their rtc:* events
    "signaling.cluster",  # webhook delivery takes a lease like a class
    "signaling.tasks",  # the background tasks a component owns
}
"""What the runtime's listeners (media, hooks, recorder) may import of signaling/."""

DOMAIN_MAY_USE = {"msgspec"}
IO = {
    "asyncio", "socket", "selectors", "ssl", "threading", "multiprocessing", "subprocess",
    "concurrent", "os", "shutil", "tempfile", "pathlib", "time", "sqlite3", "urllib", "http",
    "logging",
}  # fmt: skip
"""Standard modules the domain never needs: it is synchronous and does no I/O (time and
ids come in as arguments, logs are the caller's)."""


def imports(package: str) -> list[tuple[Path, str]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                found += [(path, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.append((path, node.module))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_packages_import_only_what_is_below_them(package: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imports(package)
        if (top := module.split(".")[0]) in OURS and top != package and top not in ALLOWED[package]
    ]
    assert wrong == []


@pytest.mark.parametrize("package", ["media", "hooks", "slides", "recorder"])
def test_listeners_use_only_the_runtime_s_public_modules(package: str) -> None:
    wrong = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imports(package)
        if module.startswith("signaling") and module not in LISTENERS_MAY_USE
    ]
    assert wrong == []


def test_the_domain_imports_only_the_standard_library_and_msgspec() -> None:
    wrong = [
        f"{path.relative_to(ROOT)}: {module}"
        for path, module in imports("classroom")
        if (top := module.split(".")[0]) != "classroom"
        and top not in DOMAIN_MAY_USE
        and (top not in sys.stdlib_module_names or top in IO)
    ]
    assert wrong == []


def test_no_package_is_left_out_of_the_contract() -> None:
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages == OURS
