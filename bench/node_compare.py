"""Against a plain Node socket.io server: memory per participant and CPU per chat delivery.

In one run, one after the other, with the same browser-like clients (lean
Socket.IO clients that offer permessage-deflate, bench/sioclient.py):

- the classroom server as it ships (`classroom serve`: compression refused);
- the classroom server with `--ws-compression` (every browser's offer accepted);
- a plain Node socket.io server (bench/node/server.js: socket.io 4 with the
  msgpack parser and its defaults, compression refused; the same tokens and
  chat events, nothing else).

Each seats N participants in one class (server RSS before and after, so
memory per participant), then streams chat at 20 messages per second to
them (bench/fanout.py: server CPU per delivery, latency). Node's dependencies
are pinned in bench/node/package-lock.json and installed with `npm ci` on
first use; without Node and npm the Node server is skipped.

Figures, not a pass/fail: `python -m bench.node_compare [--clients 1000] [--runs 1]`.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import fanout
from bench.harness import (
    ADMIN,
    READY,
    SECRET,
    Command,
    cell,
    classroom_command,
    column,
    crowd,
    machine,
    progress,
    table,
)

NODE_DIR = Path(__file__).resolve().parent / "node"
NODE_READY = "Node socket.io server on"


def install_node_peer() -> bool:
    """Install the Node server's pinned dependencies once; False if Node or npm is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        progress("node or npm not found: the Node socket.io server is skipped")
        return False
    installed = NODE_DIR / "node_modules" / ".package-lock.json"
    lock = NODE_DIR / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        progress("installing the Node peer's dependencies (npm ci)")
        npm = ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"]
        subprocess.run(npm, cwd=NODE_DIR, check=True)
    return True


def node_command(port: int, _data_dir: Path, wire: str) -> list[str]:
    return [
        "node", str(NODE_DIR / "server.js"), "--port", str(port),
        "--secret", SECRET, "--admin-key", ADMIN, "--wire", wire,
    ]  # fmt: skip


def compressing_command(port: int, data_dir: Path, wire: str) -> list[str]:
    return [*classroom_command(port, data_dir, wire), "--ws-compression"]


SERVERS: dict[str, tuple[Command, str, str]] = {
    "classroom": (classroom_command, READY, "classroom server"),
    "classroom-deflate": (compressing_command, READY, "classroom server, --ws-compression"),
    "node": (node_command, NODE_READY, "Node socket.io 4.8"),
}


async def measure(server: str, n: int, seconds: float = 5) -> dict[str, Any]:
    """Seat N browser-like clients on one server, then fan chat out to them."""
    command, ready, _ = SERVERS[server]
    async with crowd(n, command=command, ready=ready) as room:
        figures = room.figures() | await fanout.measure(room, 20, seconds)
        return figures | {"server": server}


def servers_to_run(node: bool = True) -> list[str]:
    return [s for s in SERVERS if s != "node" or (node and install_node_peer())]


ROWS = [
    ("memory per participant", "rss_per_member_kb", 1, "KB"),
    ("server CPU per chat delivery", "fan_us_per_delivery", 1, "µs"),
    ("server CPU seating N", "seat_cpu_s", 1, "s"),
    ("chat send → receive p50", "fan_p50_ms", 0, "ms"),
    ("chat send → receive p99", "fan_p99_ms", 0, "ms"),
    ("bytes per chat delivery", "fan_bytes_per_delivery", 0, "B"),
]


def render(results: Sequence[dict[str, Any]]) -> str:
    present = [s for s in SERVERS if any(r["server"] == s for r in results)]
    sizes = sorted({int(r["clients"]) for r in results})
    head = [f"{', '.join(f'{n:,}' for n in sizes)} participants"]
    head += [SERVERS[s][2] for s in present]
    rows = []
    for label, key, digits, unit in ROWS:
        runs = {s: [r for r in results if r["server"] == s] for s in present}
        rows.append([label, *(cell(column(runs[s], key), digits, unit) for s in present)])
    delivered = {s: [r for r in results if r["server"] == s] for s in present}
    rows.append(
        [
            "deliveries received",
            *(cell([100 * r["delivered"] / r["expected"] for r in delivered[s]], 1, "%")
              for s in present),
        ]
    )  # fmt: skip
    return table(head, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000, help="participants in the class")
    parser.add_argument("--seconds", type=float, default=5, help="seconds of chat")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-node", action="store_true", help="the classroom server only")
    args = parser.parse_args(argv)
    print(f"Machine: {machine()}", flush=True)
    results = []
    for number in range(args.runs):
        for server in servers_to_run(not args.no_node):
            results.append(asyncio.run(measure(server, args.clients, args.seconds)))
            progress(f"run {number + 1}, {server}: {results[-1]}")
    print(render(results))


if __name__ == "__main__":
    main()
