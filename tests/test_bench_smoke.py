"""Every benchmark program runs end to end at a tiny size, so none of them rots.

No figure is checked: benchmarks print figures, they never pass or fail on
timing. The programs run side by side as subprocesses (each starts and
stops its own loopback servers); the test only asks that each exits cleanly
and prints its table.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def programs(tmp: Path) -> dict[str, list[str]]:
    """Each program's arguments, the longest-running first."""
    return {
        "all": [
            "--runs", "1", "--sizes", "5", "--wire-size", "0", "--storm-sizes", "",
            "--node-size", "0", "--soak-minutes", "0",
            "--joins", "1", "--seconds", "0.5",
            "--recorder-seconds", "1", "--sfu-subscribers", "1", "--sfu-seconds", "1",
            "--sfu-windows", "1", "--sfu-workers", "0", "--sfu-before", "",
            "--sfu-floor-packets", "50",
            "--composite-minutes", "0.1", "--composite-layout-minutes", "0.1",
            "--composite-before-minutes", "0",
            "--results", str(tmp / "results.json"),
            "--doc", str(tmp / "benchmarks.md"), "--chart", str(tmp / "all.png"), "--no-others",
        ],
        "sfu": [
            "--subscribers", "2", "--baseline-subscribers", "1", "--seconds", "1", "--windows", "1",
            "--warmup", "0", "--warm-frames", "3", "--workers", "1", "--before", "",
            "--floor-packets", "100",
        ],
        "composite_bench": [
            "--minutes", "0.1", "--layout-minutes", "0.1", "--before-minutes", "0.1",
        ],
        "soak": ["--clients", "5", "--minutes", "0.25", "--churn", "2"],
        "fanout": ["--clients", "5", "--runs", "1", "--seconds", "0.5"],
        "join": ["--clients", "5", "--joins", "1", "--runs", "1"],
        "wire": ["--clients", "5", "--runs", "1", "--joins", "1", "--seconds", "0.5"],
        "poll_compare": ["--clients", "5", "--runs", "1"],
        "recorder_bench": ["--seconds", "1", "--runs", "1"],
        "reports": [
            "--participants", "20", "--minutes", "10", "--runs", "1",
            "--doc", str(tmp / "reports.md"),
        ],
        "slides_render": ["--pages", "3", "--runs", "1", "--doc", str(tmp / "slides.md")],
        "replay": [
            "--learners", "5", "--spread", "0.5", "--viewers", "5", "--minutes", "5",
            "--doc", str(tmp / "replay.md"),
        ],
        "recording_report": [
            "--viewers", "20", "--minutes", "10", "--runs", "1",
            "--doc", str(tmp / "recording_report.md"),
        ],
        "captions": ["--repeat", "1", "--sentences", "1", "--doc", str(tmp / "captions.md")],
        "scaling": [
            "--clients", "5", "--storm-sizes", "", "--runs", "1", "--joins", "1",
            "--seconds", "0.5", "--chart", str(tmp / "scaling.png"),
        ],
        "node_compare": ["--clients", "5", "--seconds", "0.5", "--no-node"],
    }  # fmt: skip


AT_ONCE = 4
"""Programs run side by side: each mostly waits on its own servers, but on two cores a
dozen at once starve each other past any sane time limit."""


@pytest.mark.timeout(900)
def test_every_benchmark_runs_at_a_tiny_size(tmp_path: Path) -> None:
    (tmp_path / "benchmarks.md").write_text("# Benchmarks\n\nHand-written.\n")
    # The longest first, each started as soon as one of the others ends.
    with ThreadPoolExecutor(AT_ONCE) as pool:
        printed = dict(pool.map(run, programs(tmp_path).items()))
    for name, out in printed.items():
        assert "|---|" in out, f"bench.{name} printed no table:\n{out}"
    doc = (tmp_path / "benchmarks.md").read_text()
    assert doc.startswith("# Benchmarks\n\nHand-written.\n")
    assert "<!-- bench:begin -->" in doc and "<!-- bench:end -->" in doc
    assert "### SFU forwarding against transcoding" in doc
    assert "### Composite video: time and memory" in doc
    if importlib.util.find_spec("matplotlib") is not None:  # the bench extra, not the test one
        assert (tmp_path / "scaling.png").stat().st_size > 0
        assert "all.png" in doc and (tmp_path / "all.png").stat().st_size > 0


def run(program: tuple[str, list[str]]) -> tuple[str, str]:
    """Run `bench.<name> <args>`: its name and what it printed, once it exited cleanly."""
    name, args = program
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{name}", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, f"bench.{name} failed:\n{done.stdout}"
    print(f"bench.{name}: {time.monotonic() - started:.1f} s")
    return name, done.stdout
