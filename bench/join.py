"""Join: connect-to-snapshot latency with N participants present, and memory per participant.

Seats N idle participants in one class (lean clients, bench/sioclient.py),
reading the server's RSS before and after, then joins `--joins` more
participants one at a time and times each from the start of its WebSocket
connect to the arrival of its `class:state` snapshot. Prints:

- connect -> snapshot, p50 / p99 / max over the joins (each join is also a
  `participant:joined` broadcast to the N already present, sent before the
  newcomer's snapshot);
- the snapshot's size on the wire;
- server CPU per join;
- memory per connected idle participant: server RSS growth / N;
- what seating the N cost (wall and server CPU seconds).

Figures, not a pass/fail: `python -m bench.join [--clients 1000] [--runs 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

from bench.harness import (
    Crowd,
    by_clients,
    cell,
    close_all,
    column,
    crowd,
    join,
    machine,
    percentile,
    progress,
    table,
)

GAP_S = 0.3
"""Pause between joins, so each one meets a quiet server."""


async def measure(room: Crowd, joins: int = 10) -> dict[str, float]:
    """Join `joins` more participants one after another and time their snapshots."""
    members = []
    cpu0 = room.server.cpu()
    for i in range(joins):
        await asyncio.sleep(GAP_S)
        members.append(await join(room.http, room.server, room.class_id, f"j{i:03d}"))
    cpu = room.server.cpu() - cpu0
    await close_all(members)
    latencies = [m.join_s for m in members]
    return {
        "joins": joins,
        "join_p50_ms": 1000 * percentile(latencies, 0.50),
        "join_p99_ms": 1000 * percentile(latencies, 0.99),
        "join_max_ms": 1000 * max(latencies),
        "snapshot_kb": sum(m.snapshot_bytes for m in members) / len(members) / 1024,
        "join_cpu_ms": 1000 * cpu / joins,
    }


async def run(n: int, joins: int, wire: str = "msgpack") -> dict[str, Any]:
    async with crowd(n, wire) as room:
        return room.figures() | await measure(room, joins)


HEAD = [
    "present",
    "connect → snapshot p50",
    "p99",
    "snapshot",
    "server CPU per join",
    "memory per idle participant",
    "seating all (server CPU)",
]


def render(results: Sequence[dict[str, Any]]) -> str:
    """One row per N: medians of the runs with their spread."""
    rows = []
    for n, runs in by_clients(results):
        col = partial(column, runs)

        rows.append(
            [
                f"{n:,}",
                cell(col("join_p50_ms"), 0, "ms"),
                cell(col("join_p99_ms"), 0, "ms"),
                cell(col("snapshot_kb"), 0, "KB"),
                cell(col("join_cpu_ms"), 0, "ms"),
                cell(col("rss_per_member_kb"), 1, "KB"),
                f"{cell(col('seat_s'), 0, 's')} ({cell(col('seat_cpu_s'), 0, 's')})",
            ]
        )
    return table(HEAD, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000, help="participants present")
    parser.add_argument("--joins", type=int, default=10, help="timed joins per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--wire", choices=["msgpack", "json"], default="msgpack")
    args = parser.parse_args(argv)
    print(f"Machine: {machine()}", flush=True)
    results = []
    for number in range(args.runs):
        started = time.perf_counter()
        results.append(asyncio.run(run(args.clients, args.joins, args.wire)))
        progress(f"run {number + 1}: {results[-1]} ({time.perf_counter() - started:.0f} s)")
    print(render(results))


if __name__ == "__main__":
    main()
