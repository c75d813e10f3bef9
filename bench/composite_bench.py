"""Composite video: the memory of the build's composite step, as the recording grows.

A synthetic recording of `--minutes` (60 by default): one camera (VP8
320x240 at 15 fps; small, so that its decoding and re-encoding, which cost
the same before and after, keep the run short) and three microphones (Opus, 50 packets
a second) that start 0 s, 20 s and 10 minutes into the recording, as a
class's tracks do when people join late. It is made quickly: four seconds
of each are encoded once (bench/recorder_bench.py's loops) and their
packets written again and again with advancing timestamps, through
`recorder.mkv.TrackWriter`, as the capture writes a live track.

`recorder.composite.compose` then runs on it in a child process of its
own, which reports its peak RSS (`ru_maxrss`), its RSS before composing,
and its wall and CPU seconds: once with this tree's code ("streaming"), and
once with the code of commit BEFORE, read with `git show` ("before": every
decoded sample of every track went into the mixer before any came out).
`--before-minutes` sets the length the old code runs at (0: not at all);
its memory grows with the recording, about 70 MB a minute with three
tracks, so 60 minutes needs some 5 GB.

Figures, not a pass/fail: `python -m bench.composite_bench [--minutes 60]
[--before-minutes 60] [--runs 1]`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.harness import cell, machine, progress, rss_bytes, table
from bench.recorder_bench import (
    AUDIO_CLOCK,
    AUDIO_FRAME,
    VIDEO_CLOCK,
    Media,
    audio_loop,
    video_loop,
)
from media.encoded import EncodedFrame
from recorder.mkv import TrackWriter

BEFORE = "ca66769c9e7cb67171762866e2e43ec76dabd4cc"
"""The last commit whose composite mixed the whole recording's audio in memory."""
ROOT = Path(__file__).resolve().parent.parent
CAMERA = (320, 240, 15)
"""Width, height and frame rate of the recording's video track."""
MICS_START_S = (0, 20, 600)
"""When each microphone starts, in seconds of the recording."""


def write_track(path: Path, loop: list[bytes], seconds: float, kind: str) -> None:
    """`seconds` of `loop` replayed with advancing timestamps, as the capture writes it."""
    video = kind == "video"
    step, clock = (VIDEO_CLOCK // CAMERA[2], VIDEO_CLOCK) if video else (AUDIO_FRAME, AUDIO_CLOCK)
    mime = "video/VP8" if video else "audio/opus"
    writer = TrackWriter(path, kind, mime)
    for i in range(int(seconds * clock / step)):
        keyframe = not video or i % len(loop) == 0
        writer.write(EncodedFrame(loop[i % len(loop)], i * step, clock, mime, keyframe))
    writer.close()


def make_recording(media: Media, folder: Path, minutes: float) -> dict[str, Any]:
    """The tracks and their offsets, as the build stage hands them to `compose`."""
    seconds = 60 * minutes
    write_track(folder / "camera.mkv", media.video, seconds, "video")
    mics = []
    for number, wanted_s in enumerate(MICS_START_S, start=1):
        start_s = min(wanted_s, seconds / 2)  # a short recording still has three voices
        write_track(folder / f"mic-{number}.mkv", media.audio, seconds - start_s, "audio")
        mics.append({"file": f"mic-{number}.mkv", "offset_ms": int(1000 * start_s)})
    return {"duration_ms": int(1000 * seconds), "video": "camera.mkv", "audio": mics}


def before_code(folder: Path) -> Path | None:
    """recorder/composite.py as it was at BEFORE, or None without the git history."""
    try:
        done = subprocess.run(
            ["git", "show", f"{BEFORE}:recorder/composite.py"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    code = folder / "composite_before.py"
    code.write_bytes(done.stdout)
    return code


def compose_in_child(folder: Path, recording: dict[str, Any], code: Path | None) -> dict[str, Any]:
    """Run one composite in a fresh process; its own figures."""
    args = [sys.executable, "-m", "bench.composite_bench", "--child", str(folder)]
    if code is not None:
        args += ["--code", str(code)]
    done = subprocess.run(
        args, cwd=ROOT, input=json.dumps(recording), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"the composite failed: {done.stderr[-2000:]}")
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return found


def child(folder: Path, code: Path | None) -> None:
    """In the child: load the chosen composite, compose, print figures as one JSON line."""
    if code is None:
        from recorder import composite
    else:
        spec = importlib.util.spec_from_file_location("composite_before", code)
        assert spec is not None and spec.loader is not None
        composite = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = composite
        spec.loader.exec_module(composite)
    recording = json.loads(sys.stdin.read())
    video = composite.Source(folder / recording["video"], 0)
    audio = [composite.Source(folder / m["file"], m["offset_ms"]) for m in recording["audio"]]
    out = folder / "composite.webm"
    rss_before = rss_bytes(os.getpid())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0, wall0 = usage.ru_utime + usage.ru_stime, time.time()
    composite.compose(out, recording["duration_ms"], video, audio)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures = {
        "rss_before_mb": rss_before / 2**20,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "wall_s": time.time() - wall0,
        "cpu_s": usage.ru_utime + usage.ru_stime - cpu0,
        "out_mb": out.stat().st_size / 2**20,
    }
    out.unlink()
    print(json.dumps(figures))


def composite(code_name: str, minutes: float) -> dict[str, Any]:
    """Compose a fresh synthetic recording of `minutes` with the named code ("streaming" or
    "before"), in a child process; its figures."""
    with tempfile.TemporaryDirectory(prefix="bench-composite-") as scratch:
        folder = Path(scratch)
        code = None
        if code_name == "before":
            code = before_code(folder)
            if code is None:
                raise RuntimeError(f"no git history holding {BEFORE[:7]}")
        recording = make_recording(Media(video_loop(*CAMERA), audio_loop()), folder, minutes)
        figures = compose_in_child(folder, recording, code)
    return figures | {"code": code_name, "minutes": minutes}


def render(results: Sequence[dict[str, Any]]) -> str:
    rows = []
    keys = sorted({(r["code"], r["minutes"]) for r in results}, key=lambda k: (k[0], k[1]))
    for code_name, minutes in keys:
        runs = [r for r in results if (r["code"], r["minutes"]) == (code_name, minutes)]

        def col(key: str, runs: list[dict[str, Any]] = runs) -> list[float]:
            return [float(r[key]) for r in runs]

        grown = [r["peak_rss_mb"] - r["rss_before_mb"] for r in runs]
        rows.append(
            [
                "streaming (this tree)" if code_name == "streaming" else f"before ({BEFORE[:7]})",
                f"{minutes:g} min",
                cell(col("peak_rss_mb"), 0, "MB"),
                cell(grown, 0, "MB"),
                cell(col("wall_s"), 0, "s"),
                cell(col("cpu_s"), 0, "s"),
            ]
        )
    head = ["composite code", "recording", "peak RSS", "of which composing", "wall", "CPU"]
    return table(head, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60, help="recording length")
    parser.add_argument("--before-minutes", type=float, default=60, help="0: no old code")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.code)
        return
    print(f"Machine: {machine()}", flush=True)
    results = []
    lengths = [("streaming", args.minutes), ("before", args.before_minutes)]
    for _ in range(args.runs):
        for code_name, minutes in lengths:
            if not minutes:
                continue
            try:
                results.append(composite(code_name, minutes))
            except RuntimeError as exc:
                progress(f"composite {code_name} skipped: {exc}")
                continue
            progress(f"composite {code_name}, {minutes:g} min: {results[-1]}")
    print(render(results))


if __name__ == "__main__":
    main()
