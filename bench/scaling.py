"""Scaling: how fan-out, join and the poll storm grow with N; a table and a PNG chart.

For each N, one server session seats N idle participants (server RSS read
before and after), times `--joins` more joins, then streams chat at 20
messages per second to the class (bench/join.py and bench/fanout.py on the
same seated class); then the poll storm runs with N voters against the
classroom server and against the reference server (bench/poll_compare.py).
Prints a markdown table and writes the chart (`--chart`, default
docs/scaling.png; needs matplotlib: `pip install -e '.[bench]'`).

Figures, not a pass/fail: `python -m bench.scaling [--clients 100,250,500,1000]`.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench import fanout, join, poll_compare
from bench.harness import cell, crowd, machine, progress, raise_fd_limit, spread, table

CHART = Path(__file__).resolve().parent.parent / "docs" / "scaling.png"


async def session(
    n: int, wire: str = "msgpack", joins: int = 10, rate: float = 20, seconds: float = 5
) -> dict[str, Any]:
    """Seat N, time more joins, then fan chat out to them: one server, one set of figures."""
    async with crowd(n, wire) as room:
        figures = room.figures() | await join.measure(room, joins)
        return figures | await fanout.measure(room, rate, seconds) | {"wire": wire}


def by_n(results: Sequence[dict[str, Any]], key: str, **match: Any) -> dict[int, list[float]]:
    """Values of `key` per N, from the results that match every `match` item."""
    out: dict[int, list[float]] = {}
    for r in results:
        if key in r and all(r.get(k) == v for k, v in match.items()):
            out.setdefault(int(r["clients"]), []).append(float(r[key]))
    return out


HEAD = [
    "N",
    "seating N: server CPU",
    "memory per participant",
    "join p50 / p99",
    "fan-out p50 / p99",
    "fan-out server CPU per delivery",
    "poll storm final tally p99: classroom / reference",
    "poll storm server CPU: classroom / reference",
]


def render(sessions: Sequence[dict[str, Any]], storms: Sequence[dict[str, Any]]) -> str:
    sizes = sorted({int(r["clients"]) for r in [*sessions, *storms]})
    ours = [s for s in sessions if s.get("wire", "msgpack") == "msgpack"]

    def at(results: Sequence[dict[str, Any]], n: int, key: str, digits: int, unit: str) -> str:
        return cell(by_n(results, key).get(n, []), digits, unit)

    rows = []
    for n in sizes:
        runs = [r for r in storms if r["clients"] == n]
        rows.append(
            [
                f"{n:,}",
                at(ours, n, "seat_cpu_s", 1, "s"),
                at(ours, n, "rss_per_member_kb", 0, "KB"),
                f"{at(ours, n, 'join_p50_ms', 0, '')} / {at(ours, n, 'join_p99_ms', 0, 'ms')}",
                f"{at(ours, n, 'fan_p50_ms', 0, '')} / {at(ours, n, 'fan_p99_ms', 0, 'ms')}",
                at(ours, n, "fan_us_per_delivery", 0, "µs"),
                poll_compare.pair(runs, "lag_p99_ms", 0, "ms") if runs else "",
                poll_compare.pair(runs, "server_cpu_vote_s", 2, "s") if runs else "",
            ]
        )
    return table(HEAD, rows)


def chart(sessions: Sequence[dict[str, Any]], storms: Sequence[dict[str, Any]], out: Path) -> bool:
    """Four panels against N: medians with min-max error bars. False without matplotlib."""
    try:
        import matplotlib
    except ImportError:
        progress("no chart: matplotlib is not installed (pip install -e '.[bench]')")
        return False

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ours = [s for s in sessions if s.get("wire", "msgpack") == "msgpack"]
    ticks = sorted({int(r["clients"]) for r in [*ours, *storms]})
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True)
    panels: list[tuple[Any, str, list[tuple[str, dict[int, list[float]]]]]] = [
        (
            axes[0][0],
            "Chat fan-out at 20 msg/s: send → receive (ms)",
            [
                ("p50", by_n(ours, "fan_p50_ms")),
                ("p99", by_n(ours, "fan_p99_ms")),
            ],
        ),
        (
            axes[0][1],
            "Join with N present: connect → snapshot (ms)",
            [
                ("p50", by_n(ours, "join_p50_ms")),
                ("p99", by_n(ours, "join_p99_ms")),
            ],
        ),
        (
            axes[1][0],
            "Poll storm: last vote → final tally on every client, p99 (ms)",
            [
                ("classroom server", by_n(storms, "lag_p99_ms", server="classroom")),
                ("reference (tally per vote)", by_n(storms, "lag_p99_ms", server="reference")),
            ],
        ),
        (
            axes[1][1],
            "Server CPU seconds",
            [
                ("seating N participants", by_n(ours, "seat_cpu_s")),
                ("poll storm, classroom", by_n(storms, "server_cpu_vote_s", server="classroom")),
                ("poll storm, reference", by_n(storms, "server_cpu_vote_s", server="reference")),
                ("5 s of chat fan-out", by_n(ours, "fan_cpu_s")),
            ],
        ),
    ]
    for ax, title, lines in panels:
        for label, values in lines:
            sizes = sorted(values)
            if not sizes:
                continue
            stats = [spread(values[n]) for n in sizes]
            mid = [s.median for s in stats]
            err = [[s.median - s.low for s in stats], [s.high - s.median for s in stats]]
            ax.errorbar(sizes, mid, yerr=err, marker="o", capsize=3, label=label)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("clients (N)")
        ax.set_xscale("log")
        ax.set_xticks(ticks, [f"{n:,}" for n in ticks])
        ax.minorticks_off()
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Medians of the runs; bars span min to max", fontsize=9)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return True


async def collect(
    sizes: Sequence[int], storm_sizes: Sequence[int], run: int, joins: int = 10, seconds: float = 5
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One run of every session and storm size (all servers started and stopped here)."""
    sessions, storms = [], []
    for n in sizes:
        sessions.append(await session(n, "msgpack", joins, 20, seconds) | {"run": run})
        progress(f"run {run}: session at {n}: {sessions[-1]}")
    for n in storm_sizes:
        for server in poll_compare.SERVERS:
            storms.append(await poll_compare.storm(server, n) | {"run": run})
            progress(f"run {run}: {server} storm at {n}: {storms[-1]}")
    return sessions, storms


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="100,250,500,1000", help="N, comma-separated")
    parser.add_argument("--storm-sizes", default=None, help="N of the poll storms (--clients)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--chart", type=Path, default=CHART, help="where to write the PNG")
    parser.add_argument("--joins", type=int, default=10, help="timed joins per session")
    parser.add_argument("--seconds", type=float, default=5, help="seconds of chat")
    args = parser.parse_args(argv)
    sizes = [int(c) for c in args.clients.split(",")]
    storm_sizes = (
        sizes if args.storm_sizes is None else [int(c) for c in args.storm_sizes.split(",") if c]
    )
    raise_fd_limit(max(sizes))
    print(f"Machine: {machine()}", flush=True)
    sessions, storms = [], []
    for run in range(1, args.runs + 1):
        got = asyncio.run(collect(sizes, storm_sizes, run, args.joins, args.seconds))
        sessions += got[0]
        storms += got[1]
    print(render(sessions, storms))
    if chart(sessions, storms, args.chart):
        print(f"\nChart: {args.chart}")


if __name__ == "__main__":
    main()
