"""Wire: msgpack against JSON on the same runs, bytes on the wire and server CPU.

Runs the same session twice per run, once with `serve --wire msgpack` (the
default) and once with `--wire json`: seat N participants, time 10 more
joins, stream chat at 20 messages per second (bench/scaling.py's session,
i.e. bench/join.py and bench/fanout.py on one seated class). The lean
clients speak the server's wire either way and count the payload bytes of
every WebSocket frame they receive. Prints, per wire: bytes per chat
delivery and per snapshot, bytes received while seating N, server CPU per
delivery, per join and for seating N, and the fan-out latency.

Figures, not a pass/fail: `python -m bench.wire [--clients 1000] [--runs 3]`.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from typing import Any

from bench.harness import cell, machine, progress, raise_fd_limit, table
from bench.scaling import session

WIRES = ("msgpack", "json")

HEAD = [
    "wire",
    "bytes per chat delivery",
    "snapshot (N present)",
    "received while seating N",
    "server CPU per delivery",
    "server CPU per join",
    "server CPU seating N",
    "fan-out p50 / p99",
]


def render(results: Sequence[dict[str, Any]], n: int) -> str:
    rows = []
    for wire in WIRES:
        runs = [r for r in results if r["wire"] == wire and r["clients"] == n]
        if not runs:
            continue

        def col(key: str, runs: list[dict[str, Any]] = runs) -> list[float]:
            return [float(r[key]) for r in runs]

        rows.append(
            [
                wire,
                cell(col("fan_bytes_per_delivery"), 0, "B"),
                cell(col("snapshot_kb"), 0, "KB"),
                cell(col("seat_mb_in"), 0, "MB"),
                cell(col("fan_us_per_delivery"), 0, "µs"),
                cell(col("join_cpu_ms"), 0, "ms"),
                cell(col("seat_cpu_s"), 1, "s"),
                f"{cell(col('fan_p50_ms'), 0)} / {cell(col('fan_p99_ms'), 0, 'ms')}",
            ]
        )
    return table(HEAD, rows)


async def run(n: int, number: int, joins: int, seconds: float) -> list[dict[str, Any]]:
    results = []
    for wire in WIRES:
        results.append(await session(n, wire, joins, 20, seconds) | {"run": number})
        progress(f"run {number}, {wire}: {results[-1]}")
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000, help="participants (N)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--joins", type=int, default=10, help="timed joins per session")
    parser.add_argument("--seconds", type=float, default=5, help="seconds of chat")
    args = parser.parse_args(argv)
    raise_fd_limit(args.clients)
    print(f"Machine: {machine()}", flush=True)
    results = []
    for number in range(1, args.runs + 1):
        results += asyncio.run(run(args.clients, number, args.joins, args.seconds))
    print(f"{args.clients:,} participants; medians of {args.runs} runs (min to max).\n")
    print(render(results, args.clients))


if __name__ == "__main__":
    main()
