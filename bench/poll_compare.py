"""Poll storm, side by side: the classroom server against a tally-on-every-vote reference.

Runs bench/poll_storm.py's storm (N participants vote within one second,
results shown to everyone) against the classroom server and against
bench/reference_server.py, which broadcasts the tally to every socket on
every ballot, with no coalescing and no journal. Both run on the same
Socket.IO stack, on the same machine, in the same invocation, one after the
other for each N. Prints, for each N, both servers' votes lost, last vote ->
final tally on every client (p50 / p99), `poll:results` messages the clients
received, and server CPU while voting.

Figures, not a pass/fail: `python -m bench.poll_compare [--clients 250,500,1000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import poll_storm
from bench.harness import ADMIN, SECRET, by_clients, cell, machine, progress, raise_fd_limit, table
from bench.reference_server import READY as REFERENCE_READY

SERVERS = ("classroom", "reference")


def reference_command(port: int, _data_dir: Path, _wire: str) -> list[str]:
    return [
        sys.executable, "-m", "bench.reference_server", "--port", str(port),
        "--secret", SECRET, "--admin-key", ADMIN,
    ]  # fmt: skip


def storm_args(clients: int, timeout: float) -> argparse.Namespace:
    return argparse.Namespace(clients=clients, spread=1.0, batch=50, timeout=timeout)


async def storm(server: str, clients: int, wait_s: float = 180) -> dict[str, Any]:
    """One storm of `clients` voters against the named server."""
    args = storm_args(clients, wait_s)
    if server == "reference":
        result = await poll_storm.run(args, reference_command, REFERENCE_READY)
    else:
        result = await poll_storm.run(args)
    return result | {"server": server}


def pair(runs: Sequence[dict[str, Any]], key: str, digits: int = 0, unit: str = "") -> str:
    """`classroom / reference` medians (with spread) of one figure."""
    cells = []
    for server in SERVERS:
        values = [float(r.get(key, math.nan)) for r in runs if r["server"] == server]
        cells.append(cell(values, digits, unit))
    return " / ".join(cells)


HEAD = [
    "voters",
    "votes lost",
    "last vote → final tally p50",
    "p99",
    "clients without the final tally",
    "clients dropped",
    "`poll:results` received",
    "server CPU while voting",
]


def render(results: Sequence[dict[str, Any]]) -> str:
    """One row per N; each cell reads `classroom / reference`."""
    rows = []
    for n, runs in by_clients(results):
        rows.append(
            [
                f"{n:,}",
                pair(runs, "votes_lost"),
                pair(runs, "lag_p50_ms", 0, "ms"),
                pair(runs, "lag_p99_ms", 0, "ms"),
                pair(runs, "never_final"),
                pair(runs, "dropped"),
                pair(runs, "results_total"),
                pair(runs, "server_cpu_vote_s", 2, "s"),
            ]
        )
    return table(HEAD, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="250,500,1000", help="voters, comma-separated")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for tallies")
    args = parser.parse_args(argv)
    sizes = [int(c) for c in args.clients.split(",")]
    raise_fd_limit(max(sizes))
    print(f"Machine: {machine()}", flush=True)
    results = []
    for number in range(args.runs):
        for n in sizes:
            for server in SERVERS:
                results.append(asyncio.run(storm(server, n, args.timeout)))
                progress(f"run {number + 1}: {server}, {n} voters: {results[-1]}")
    print("Each cell: classroom server / reference server.\n")
    print(render(results))


if __name__ == "__main__":
    main()
