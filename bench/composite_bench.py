"""Composite video: build time and memory per recorded minute, as the recording grows.

Two synthetic recordings of `--minutes` (60 by default), with three
microphones (Opus, 50 packets a second) that start 0 s, 20 s and 10 minutes
in, as a class's tracks do when people join late:

- "one camera": one camera (VP8 320x240 at 15 fps; small, so that its
  decoding, which costs the same with every code, keeps the run short);
- "class layout" (`--layout-minutes`, 10 by default): two such cameras, a
  shared screen (VP8 1280x720 at 5 fps) in the middle third, a slide with a
  pen stroke drawn every 2 s in the last third, and the speaker changing
  every 20 s among the three: every scene of recorder/layout.py, and the
  pictures change all the time.

They are made quickly: four seconds of each track are encoded once
(bench/recorder_bench.py's loops) and their packets written again and again
with advancing timestamps, through `recorder.mkv.TrackWriter`, as the
capture writes a live track.

`recorder.composite.compose` then runs in a child process of its own, which
reports its peak RSS (`ru_maxrss`), its RSS before composing, and its wall
and CPU seconds: with this tree's code ("layout" on the class layout,
"streaming" on one camera; both write the WebM and the MP4), with the code
of commit ONE_TRACK ("one track": one camera's picture, WebM alone, as the
composite was before the layout) and with that of commit BEFORE ("before":
every decoded sample of every track went into the mixer before any came
out). `--before-minutes` sets the length the oldest code runs at (0: not at
all); its memory grows with the recording, about 70 MB a minute with three
tracks, so 60 minutes needs some 5 GB.

Figures, not a pass/fail: `python -m bench.composite_bench [--minutes 60]
[--layout-minutes 10] [--before-minutes 60] [--runs 1]`.
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
from functools import partial
from pathlib import Path
from typing import Any

from PIL import Image

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
from recorder.layout import plan
from recorder.mkv import TrackWriter
from recorder.picture import Picture
from recorder.slides_package import image_name

BEFORE = "ca66769c9e7cb67171762866e2e43ec76dabd4cc"
"""The last commit whose composite mixed the whole recording's audio in memory."""
ONE_TRACK = "f775446bf88369320cdf4ccfd21ae2cccd250270"
"""The last commit whose composite showed one video track (WebM alone)."""
COMMITS = {"before": BEFORE, "one track": ONE_TRACK}
SCREEN = (1280, 720, 5)
SLIDE = ("bench", 1)
"""The deck and page the class layout's slide is."""
SPEAKER_EVERY_S = 20
INK_EVERY_S = 2
ROOT = Path(__file__).resolve().parent.parent
CAMERA = (320, 240, 15)
"""Width, height and frame rate of the recording's video track."""
MICS_START_S = (0, 20, 600)
"""When each microphone starts, in seconds of the recording."""


def write_track(
    path: Path, loop: list[bytes], seconds: float, kind: str, shape: tuple[int, int, int] = CAMERA
) -> None:
    """`seconds` of `loop` replayed with advancing timestamps, as the capture writes it."""
    video = kind == "video"
    step, clock = (VIDEO_CLOCK // shape[2], VIDEO_CLOCK) if video else (AUDIO_FRAME, AUDIO_CLOCK)
    mime = "video/VP8" if video else "audio/opus"
    writer = TrackWriter(path, kind, mime)
    for i in range(int(seconds * clock / step)):
        keyframe = not video or i % len(loop) == 0
        writer.write(EncodedFrame(loop[i % len(loop)], i * step, clock, mime, keyframe))
    writer.close()


def make_recording(media: Media, folder: Path, minutes: float, layout: bool) -> dict[str, Any]:
    """The tracks (as the package lists them) and the timeline, as the build stage has them."""
    seconds = 60 * minutes
    tracks = [track("camera-1.mkv", "u1", "video", "camera", 0, seconds)]
    write_track(folder / "camera-1.mkv", media.video, seconds, "video")
    for number, wanted_s in enumerate(MICS_START_S, start=1):
        start_s = min(wanted_s, seconds / 2)  # a short recording still has three voices
        name = f"mic-{number}.mkv"
        write_track(folder / name, media.audio, seconds - start_s, "audio")
        tracks.append(track(name, f"u{number}", "audio", "mic", start_s, seconds - start_s))
    events: list[dict[str, Any]] = []
    if layout:
        write_track(folder / "camera-2.mkv", media.video, seconds, "video")
        tracks.append(track("camera-2.mkv", "u2", "video", "camera", 0, seconds))
        write_track(folder / "screen.mkv", video_loop(*SCREEN), seconds / 3, "video", SCREEN)
        tracks.append(track("screen.mkv", "u1", "video", "screen", seconds / 3, seconds / 3))
        events = class_timeline(seconds)
        Image.new("RGB", (1600, 900), "white").save(folder / image_name(*SLIDE))
    return {"duration_ms": int(1000 * seconds), "tracks": tracks, "events": events}


def track(name: str, user: str, kind: str, source: str, start_s: float, seconds: float) -> Any:
    return {"file": name, "user_id": user, "kind": kind, "source": source} | {
        "offset_ms": int(1000 * start_s),
        "duration_ms": int(1000 * seconds),
    }


def class_timeline(seconds: float) -> list[dict[str, Any]]:
    """Speakers taking turns all along; the slide shown in the last third, with ink."""
    events = []
    for n, t in enumerate(range(0, int(seconds), SPEAKER_EVERY_S)):
        speaker = {"room": "main", "user_id": f"u{n % len(MICS_START_S) + 1}"}
        events.append({"t": 1000 * t, "name": "rtc:speaker", "data": speaker})
    shown_s = 2 * seconds / 3
    page = {"room": "main", "deck_id": SLIDE[0], "page": SLIDE[1]}
    events.append({"t": int(1000 * shown_s), "name": "slides:view", "data": page})
    pen = {"tool": "pen", "color": "#c00000", "width": 30}
    for n, t in enumerate(range(int(shown_s), int(seconds), INK_EVERY_S)):
        y = 500 + 900 * (n % 10)
        stroke = {"stroke_id": f"s{n}", "points": [1000, y, 5000, y + 300, 9000, y], "ink": pen}
        events.append({"t": 1000 * t, "name": "board:ink", "data": page | stroke | {"done": True}})
    return sorted(events, key=lambda e: e["t"])


def old_code(folder: Path, commit: str) -> Path | None:
    """recorder/composite.py as it was at `commit`, or None without the git history."""
    try:
        done = subprocess.run(
            ["git", "show", f"{commit}:recorder/composite.py"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    code = folder / f"composite_{commit[:7]}.py"
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
    recording = json.loads(sys.stdin.read())
    audio = [t for t in recording["tracks"] if t["kind"] == "audio"]
    out, mp4 = folder / "composite.webm", folder / "composite.mp4"
    if code is None:
        from recorder import composite

        run = partial(composite.compose, mp4=mp4)
        shown: Any = this_picture(folder, recording)
    else:
        spec = importlib.util.spec_from_file_location(code.stem, code)
        assert spec is not None and spec.loader is not None
        composite = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = composite
        spec.loader.exec_module(composite)
        run, shown = composite.compose, composite.Source(folder / "camera-1.mkv", 0)
    sources = [composite.Source(folder / t["file"], t["offset_ms"]) for t in audio]
    rss_before = rss_bytes(os.getpid())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu0, wall0 = usage.ru_utime + usage.ru_stime, time.time()
    run(out, recording["duration_ms"], shown, sources)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures = {
        "rss_before_mb": rss_before / 2**20,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "wall_s": time.time() - wall0,
        "cpu_s": usage.ru_utime + usage.ru_stime - cpu0,
        "out_mb": sum(f.stat().st_size for f in (out, mp4) if f.exists()) / 2**20,
    }
    for made in (out, mp4):
        made.unlink(missing_ok=True)
    print(json.dumps(figures))


def this_picture(folder: Path, recording: dict[str, Any]) -> Picture:
    """What the build stage hands to this tree's `compose`."""
    videos = [t for t in recording["tracks"] if t["kind"] == "video"]
    return Picture(
        plan(recording["duration_ms"], recording["tracks"], recording["events"], ["u1"]),
        videos={t["file"]: folder / t["file"] for t in videos},
        offsets={t["file"]: t["offset_ms"] for t in videos},
        events=recording["events"],
        slides=folder,
    )


def composite(code_name: str, minutes: float) -> dict[str, Any]:
    """Compose a fresh synthetic recording of `minutes` with the named code ("layout",
    "streaming", "one track" or "before"), in a child process; its figures."""
    with tempfile.TemporaryDirectory(prefix="bench-composite-") as scratch:
        folder = Path(scratch)
        code = None
        if code_name in COMMITS:
            code = old_code(folder, COMMITS[code_name])
            if code is None:
                raise RuntimeError(f"no git history holding {COMMITS[code_name][:7]}")
        media = Media(video_loop(*CAMERA), audio_loop())
        recording = make_recording(media, folder, minutes, layout=code_name == "layout")
        figures = compose_in_child(folder, recording, code)
    return figures | {"code": code_name, "minutes": minutes}


LABELS = {
    "layout": "class layout, WebM + MP4 (this tree)",
    "streaming": "one camera, WebM + MP4 (this tree)",
    "one track": f"one camera, WebM ({ONE_TRACK[:7]})",
    "before": f"one camera, audio in memory ({BEFORE[:7]})",
}


def render(results: Sequence[dict[str, Any]]) -> str:
    rows = []
    order = list(LABELS)
    keys = sorted(
        {(r["code"], r["minutes"]) for r in results}, key=lambda k: (order.index(k[0]), k[1])
    )
    for code_name, minutes in keys:
        runs = [r for r in results if (r["code"], r["minutes"]) == (code_name, minutes)]

        def col(key: str, runs: list[dict[str, Any]] = runs) -> list[float]:
            return [float(r[key]) for r in runs]

        grown = [r["peak_rss_mb"] - r["rss_before_mb"] for r in runs]
        rows.append(
            [
                LABELS[code_name],
                f"{minutes:g} min",
                cell([w / minutes for w in col("wall_s")], 1, "s"),
                cell([c / minutes for c in col("cpu_s")], 1, "s"),
                cell(col("peak_rss_mb"), 0, "MB"),
                cell(grown, 0, "MB"),
                cell(col("wall_s"), 0, "s"),
            ]
        )
    head = ["composite", "recording", "wall per minute", "CPU per minute", "peak RSS"]
    return table([*head, "of which composing", "wall"], rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60, help="one camera's recording")
    parser.add_argument("--layout-minutes", type=float, default=10, help="the class layout's")
    parser.add_argument("--before-minutes", type=float, default=60, help="0: no oldest code")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--code", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.code)
        return
    print(f"Machine: {machine()}", flush=True)
    results = []
    for _ in range(args.runs):
        for code_name, minutes in lengths(args.minutes, args.layout_minutes, args.before_minutes):
            try:
                results.append(composite(code_name, minutes))
            except RuntimeError as exc:
                progress(f"composite {code_name} skipped: {exc}")
                continue
            progress(f"composite {code_name}, {minutes:g} min: {results[-1]}")
    print(render(results))


def lengths(minutes: float, layout: float, before: float) -> list[tuple[str, float]]:
    """What runs, and for how long (a length of 0: not at all)."""
    runs = [("layout", layout), ("streaming", minutes), ("one track", minutes)]
    return [(code, m) for code, m in [*runs, ("before", before)] if m]


if __name__ == "__main__":
    main()
