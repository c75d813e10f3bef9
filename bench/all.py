"""Run every benchmark (`make bench`) and regenerate the figures in docs/benchmarks.md.

Each run measures, in this order (so that the machine's changing load
spreads over every figure rather than skewing one):

- a server session per N (`--sizes`): seat N idle participants (memory per
  participant), time 10 more joins, stream chat at 20 messages per second
  (bench/scaling.py's `session`, i.e. bench/join.py and bench/fanout.py);
- the same session at `--wire-size` on the JSON wire (bench/wire.py);
- the poll storm at each `--storm-sizes` N against the classroom server and
  the reference server (bench/poll_compare.py);
- the recorder's capture and publish (bench/recorder_bench.py);
- the time and memory of the composite video's step per recorded minute: the
  class layout, one camera with this tree's code, with the code before the
  layout and with the code before it streamed (bench/composite_bench.py);
- the SFU, `--sfu-subscribers` subscribers: packet forwarding in process
  and with two media workers, the frame forwarding SFU of an earlier commit,
  a transcoding baseline, and the per-packet floor (bench/sfu.py);
- at `--node-size` participants, the classroom server (as it ships, and with
  `--ws-compression`) against a plain Node socket.io server
  (bench/node_compare.py).

After the runs, once: the soak (bench/soak.py), `--soak-clients` clients for
`--soak-minutes` minutes (0: none; a shorter soak is `make bench
BENCH_ARGS="--soak-minutes 2"`).

Raw figures go to bench/results.json as they come; the tables (medians of
the runs, min-max in brackets) replace what lies between the
`<!-- bench:begin -->` and `<!-- bench:end -->` markers of
docs/benchmarks.md, and the scaling chart goes to docs/scaling.png. The
hand-written text outside the markers is left as it is. `--render-only`
redoes the tables and chart from bench/results.json without measuring.
Then the modules in BENCHES run and print their own figures.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from bench import (
    composite_bench,
    fanout,
    join,
    node_compare,
    poll_compare,
    recorder_bench,
    scaling,
    sfu,
    sfu_report,
    soak,
    wire,
)
from bench.harness import SERVER_TREE, cpu_model, machine, progress, raise_fd_limit

BENCHES: list[str] = [
    "bench.reports",
    "bench.captions",
    "bench.slides_render",
    "bench.replay",
    "bench.recording_report",
]
"""Other modules with a `main(argv)` that print their own figures; add yours here."""

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


class Results:
    """Everything measured so far, saved after every measurement."""

    def __init__(self, path: Path, meta: dict[str, Any], resume: bool = False) -> None:
        self.path = path
        self.data: dict[str, Any] = {"meta": meta, "sessions": [], "storms": [], "recorder": []}
        if resume and path.exists():
            self.data = json.loads(path.read_text())
        for kind in ("sfu", "composite", "peers", "soak"):
            self.data.setdefault(kind, [])

    def has(self, kind: str, key: dict[str, Any]) -> bool:
        return any(all(r.get(k) == v for k, v in key.items()) for r in self.data[kind])

    def add(self, kind: str, result: dict[str, Any]) -> None:
        self.data[kind].append(result)
        self.save()

    def save(self) -> None:
        self.path.write_text(json.dumps(self.data, indent=1) + "\n")


async def measure(
    results: Results, kind: str, key: dict[str, Any], work: Callable[[], Awaitable[dict[str, Any]]]
) -> None:
    """Measure once, unless a resumed run has it already; a failure is told and skipped."""
    if results.has(kind, key):
        return
    try:
        found = await work()
    except Exception as exc:
        progress(f"{kind} {key} failed: {exc!r}")
        return
    results.add(kind, found | key)
    progress(f"{kind} {key} done")


async def one_run(args: argparse.Namespace, run: int, results: Results) -> None:
    for n in sizes(args.sizes):
        key = {"run": run, "clients": n, "wire": "msgpack"}
        work = partial(scaling.session, n, "msgpack", args.joins, 20, args.seconds)
        await measure(results, "sessions", key, work)
    if args.wire_size:
        key = {"run": run, "clients": args.wire_size, "wire": "json"}
        work = partial(scaling.session, args.wire_size, "json", args.joins, 20, args.seconds)
        await measure(results, "sessions", key, work)
    for n in sizes(args.storm_sizes):
        for server in poll_compare.SERVERS:
            key = {"run": run, "clients": n, "server": server}
            await measure(results, "storms", key, partial(poll_compare.storm, server, n))
    if args.recorder_seconds:
        await measure(results, "recorder", {"run": run}, partial(recorder, args.recorder_seconds))
    lengths = composite_bench.lengths(
        args.composite_minutes, args.composite_layout_minutes, args.composite_before_minutes
    )
    for code_name, minutes in lengths:
        work = partial(asyncio.to_thread, composite_bench.composite, code_name, minutes)
        await measure(results, "composite", {"run": run, "code": code_name}, work)
    if args.sfu_subscribers:
        options = sfu.parser().parse_args(
            [
                *("--subscribers", str(args.sfu_subscribers), "--seconds", str(args.sfu_seconds)),
                *("--windows", str(args.sfu_windows)),
                *("--workers", str(args.sfu_workers), "--before", args.sfu_before),
                *("--floor-packets", str(args.sfu_floor_packets)),
            ]
        )
        await measure(results, "sfu", {"run": run}, partial(sfu_run, options))
    if args.node_size:
        for server in node_compare.servers_to_run():
            key = {"run": run, "clients": args.node_size, "server": server}
            work = partial(node_compare.measure, server, args.node_size, args.seconds)
            await measure(results, "peers", key, work)


async def recorder(seconds: float) -> dict[str, Any]:
    """The recorder's figures, stamped as the SFU's are (`sfu_run`)."""
    media = await asyncio.to_thread(recorder_bench.Media.make)
    return await recorder_bench.run(media, seconds) | stamp()


async def sfu_run(options: argparse.Namespace) -> dict[str, Any]:
    """The SFU's figures, with when and at which commit they were taken: a resumed run
    (`--resume` without the SFU's results) measures them again apart from the rest."""
    return await sfu.measure(options) | stamp()


def stamp() -> dict[str, Any]:
    return {
        "commit": commit(),
        "date": time.strftime("%Y-%m-%d"),
        "load_1m": os.getloadavg()[0],
        "cpu": f"{os.cpu_count()} vCPUs ({cpu_model()})",
    }


def measured_apart(runs: list[dict[str, Any]], meta: dict[str, Any]) -> list[str]:
    """A line saying so when these runs come from another commit than the rest."""
    commits = {run["commit"] for run in runs if "commit" in run}
    if not commits or commits == {meta.get("commit")}:
        return []
    loads = [float(run["load_1m"]) for run in runs if "load_1m" in run]
    dates = sorted({run["date"] for run in runs if "date" in run})
    cpus = sorted({run["cpu"] for run in runs if "cpu" in run})
    where = f" on {', '.join(cpus)}" if cpus else ""
    return [
        f"_Measured apart from the tables above{where}: on {', '.join(dates)} at commit "
        f"{', '.join(sorted(commits))}, load average {min(loads):.1f} to {max(loads):.1f} "
        "at the end of each run._"
    ]


SERVER_CODE = ["classroom", "signaling", "media", "recorder", "web"]


def git(*args: str) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return ""
    return done.stdout.strip()


def commit() -> str:
    """The commit the server's code comes from, and the server files changed since."""
    head = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = git("diff", "--name-only", "HEAD", "--", *SERVER_CODE).splitlines()
    files = ", ".join(name for name in changed if name.endswith(".py"))
    if files:
        head += f" with uncommitted changes to {files}"
    if SERVER_TREE:
        head += f"; server run from a copy in {SERVER_TREE}"
    return head


def render(data: dict[str, Any], chart: Path) -> str:
    """The generated section: every table, and the chart written beside the document."""
    meta, sessions, storms = data["meta"], data["sessions"], data["storms"]
    msgpack = [s for s in sessions if s["wire"] == "msgpack"]
    parts = [
        BEGIN,
        f"_Generated by `make bench` on {meta['date']} in {meta['minutes']:.0f} minutes "
        f"at commit {meta.get('commit', 'unknown')}: "
        f"{meta['runs']} runs; each cell is the median of the runs, "
        "(min\N{EN DASH}max) in brackets. "
        f"Machine: {meta['machine']}._",
    ]
    loads = [float(s["load_1m"]) for s in sessions if "load_1m" in s]
    if loads:
        parts[-1] = parts[-1][:-1] + (
            f" Load average during the sessions: {min(loads):.1f} to {max(loads):.1f}._"
        )
    if msgpack:
        parts += ["### Fan-out latency", fanout.render(msgpack)]
        parts += ["### Join and memory per participant", join.render(msgpack)]
    wire_n = meta.get("wire_size")
    if wire_n and any(s["wire"] == "json" for s in sessions):
        parts += [f"### Wire: msgpack against JSON, {wire_n:,} participants"]
        parts += [wire.render(sessions, wire_n)]
    if storms:
        parts += ["### Poll storm against the reference server"]
        parts += ["Each cell reads *classroom server / reference server*."]
        parts += [poll_compare.render(storms)]
    if data["recorder"]:
        parts += ["### Recorder", *measured_apart(data["recorder"], meta)]
        parts += [recorder_bench.render(data["recorder"])]
    if data.get("composite"):
        parts += ["### Composite video: time and memory", composite_bench.render(data["composite"])]
    if data.get("sfu"):
        parts += ["### SFU forwarding against transcoding", *measured_apart(data["sfu"], meta)]
        parts += [sfu_report.render(data["sfu"])]
    if data.get("peers"):
        parts += ["### Against a plain Node socket.io server, browser-like clients"]
        parts += [node_compare.render(data["peers"])]
    for result in data.get("soak", []):
        parts += [f"### Soak: {result['clients']:,} clients, {result['minutes']:g} minutes"]
        parts += [soak.render(result)]
    if msgpack or storms:
        parts += ["### Scaling with N", scaling.render(msgpack, storms)]
        if scaling.chart(msgpack, storms, chart):
            parts += [f"![How the figures grow with N]({chart.name})"]
    parts.append(END)
    return "\n\n".join(parts)


def write_section(doc: Path, section: str, begin: str = BEGIN, end: str = END) -> None:
    """Replace the text between the markers (or append it): the rest is hand-written."""
    text = doc.read_text() if doc.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        tail = rest.split(end, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    doc.write_text(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--sizes", default="100,250,500,1000", help="N of fan-out and join")
    parser.add_argument("--wire-size", type=int, default=1000, help="N of the JSON run (0: none)")
    parser.add_argument("--storm-sizes", default="250,500,1000", help="N of the poll storms")
    parser.add_argument("--recorder-seconds", type=float, default=60, help="0: no recorder")
    parser.add_argument(
        "--composite-minutes", type=float, default=60, help="recording composed (0: none)"
    )
    parser.add_argument(
        "--composite-layout-minutes", type=float, default=10, help="the class layout (0: none)"
    )
    parser.add_argument(
        "--composite-before-minutes", type=float, default=60, help="the same, old code (0: none)"
    )
    parser.add_argument("--sfu-subscribers", type=int, default=50, help="0: no SFU benchmark")
    parser.add_argument("--sfu-seconds", type=float, default=10, help="each SFU measurement")
    parser.add_argument("--sfu-windows", type=int, default=3, help="SFU windows, median kept")
    parser.add_argument("--sfu-workers", type=int, default=2, help="media workers (0: none)")
    parser.add_argument("--sfu-before", default=sfu.FRAMES_COMMIT, help="'': no frame SFU")
    parser.add_argument("--sfu-floor-packets", type=int, default=20000, help="of the floor test")
    parser.add_argument("--node-size", type=int, default=1000, help="N against Node (0: none)")
    parser.add_argument("--soak-clients", type=int, default=1000)
    parser.add_argument("--soak-minutes", type=float, default=10, help="0: no soak")
    parser.add_argument("--joins", type=int, default=10, help="timed joins per session")
    parser.add_argument("--seconds", type=float, default=5, help="seconds of chat per session")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--chart", type=Path, default=ROOT / "docs" / "scaling.png")
    parser.add_argument("--render-only", action="store_true", help="tables from --results")
    parser.add_argument("--no-others", action="store_true", help="skip the BENCHES modules")
    parser.add_argument("--resume", action="store_true", help="keep --results, measure the rest")
    args = parser.parse_args(argv)
    if args.render_only:
        data = json.loads(args.results.read_text())
    else:
        started = time.time()
        meta = {"machine": machine(), "commit": commit(), "runs": args.runs}
        meta["wire_size"] = args.wire_size
        results = Results(args.results, meta, args.resume)
        meta = results.data["meta"]
        spent = meta.get("minutes", 0.0)
        all_sizes = sizes(args.sizes) + sizes(args.storm_sizes) + [args.wire_size]
        all_sizes += [args.node_size, args.soak_clients]
        raise_fd_limit(max(all_sizes))
        for run in range(1, args.runs + 1):
            asyncio.run(one_run(args, run, results))
        if args.soak_minutes:
            key = {"clients": args.soak_clients, "minutes": args.soak_minutes}
            work = partial(soak.run, args.soak_clients, args.soak_minutes)
            asyncio.run(measure(results, "soak", key, work))
        meta["date"] = time.strftime("%Y-%m-%d", time.localtime(started))
        meta["minutes"] = spent + (time.time() - started) / 60
        results.save()
        data = results.data
    section = render(data, args.chart)
    write_section(args.doc, section)
    print(section, flush=True)
    if not args.no_others:
        for name in BENCHES:
            print(f"== {name}", flush=True)
            importlib.import_module(name).main([])
    sys.stdout.flush()


if __name__ == "__main__":
    main()
