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
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def programs(tmp: Path) -> dict[str, list[str]]:
    return {
        "fanout": ["--clients", "5", "--runs", "1", "--seconds", "0.5"],
        "join": ["--clients", "5", "--joins", "1", "--runs", "1"],
        "wire": ["--clients", "5", "--runs", "1", "--joins", "1", "--seconds", "0.5"],
        "poll_compare": ["--clients", "5", "--runs", "1"],
        "recorder_bench": ["--seconds", "1", "--runs", "1"],
        "reports": [
            "--participants", "20", "--minutes", "10", "--runs", "1",
            "--doc", str(tmp / "reports.md"),
        ],
        "composite_bench": ["--minutes", "0.1", "--before-minutes", "0.1"],
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
        "sfu": [
            "--subscribers", "2", "--baseline-subscribers", "1", "--seconds", "1", "--windows", "1",
            "--warmup", "0", "--warm-frames", "3", "--workers", "1", "--before", "",
            "--floor-packets", "100",
        ],
        "scaling": [
            "--clients", "5", "--storm-sizes", "", "--runs", "1", "--joins", "1",
            "--seconds", "0.5", "--chart", str(tmp / "scaling.png"),
        ],
        "node_compare": ["--clients", "5", "--seconds", "0.5", "--no-node"],
        "soak": ["--clients", "5", "--minutes", "0.25", "--churn", "2"],
        "all": [
            "--runs", "1", "--sizes", "5", "--wire-size", "0", "--storm-sizes", "",
            "--node-size", "0", "--soak-minutes", "0",
            "--joins", "1", "--seconds", "0.5",
            "--recorder-seconds", "1", "--sfu-subscribers", "1", "--sfu-seconds", "1",
            "--sfu-windows", "1", "--sfu-workers", "0", "--sfu-before", "",
            "--sfu-floor-packets", "50",
            "--composite-minutes", "0.1", "--composite-before-minutes", "0",
            "--results", str(tmp / "results.json"),
            "--doc", str(tmp / "benchmarks.md"), "--chart", str(tmp / "all.png"), "--no-others",
        ],
    }  # fmt: skip


AT_ONCE = 4
"""Programs run side by side: each mostly waits on its own servers, but on two cores a
dozen at once starve each other past any sane time limit."""


@pytest.mark.timeout(900)
def test_every_benchmark_runs_at_a_tiny_size(tmp_path: Path) -> None:
    (tmp_path / "benchmarks.md").write_text("# Benchmarks\n\nHand-written.\n")
    todo = list(programs(tmp_path).items())
    printed = {}
    while todo:
        batch, todo = todo[:AT_ONCE], todo[AT_ONCE:]
        printed.update(run_side_by_side(dict(batch)))
    for name, out in printed.items():
        assert "|---|" in out, f"bench.{name} printed no table:\n{out}"
    doc = (tmp_path / "benchmarks.md").read_text()
    assert doc.startswith("# Benchmarks\n\nHand-written.\n")
    assert "<!-- bench:begin -->" in doc and "<!-- bench:end -->" in doc
    assert "### SFU forwarding against transcoding" in doc
    assert "### Composite video: memory" in doc
    if importlib.util.find_spec("matplotlib") is not None:  # the bench extra, not the test one
        assert (tmp_path / "scaling.png").stat().st_size > 0
        assert "all.png" in doc and (tmp_path / "all.png").stat().st_size > 0


def run_side_by_side(batch: dict[str, list[str]]) -> dict[str, str]:
    running = {
        name: subprocess.Popen(
            [sys.executable, "-m", f"bench.{name}", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, args in batch.items()
    }
    printed = {}
    try:
        for name, proc in running.items():
            printed[name] = proc.communicate(timeout=240)[0]
            assert proc.returncode == 0, f"bench.{name} failed:\n{printed[name]}"
    finally:
        for proc in running.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return printed
