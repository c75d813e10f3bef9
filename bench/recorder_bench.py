"""Recorder: capture cost per stream, publish time per recorded minute.

Capture. A camera and a microphone stream as the SFU hands them to the
recorder: VP8 640x480 at 30 fps (a moving pattern, about 1 Mbit/s) and
Opus at 50 packets per second. The encoded frames are made once, before
timing, and replayed with advancing timestamps; then `--seconds` of each go
through `recorder.mkv.TrackWriter` (stream copy into Matroska, as
`recorder/capture.py` does for a live track), in this process. The CPU
seconds this costs, divided by the seconds of media, is the share of a core
one recorded stream takes.

Publish. The captured files become the media of a recording: a class
journal (a host and 30 participants chatting, the recording started and
stopped `--seconds` apart, one `recording.track_started` per file, as the
recorder commits them) goes into a file journal, the recording's folder is
laid out as `recorder/service.py` leaves it, and `recorder.publish.Publisher`
runs its pipeline (collect -> check -> build -> publish). Each stage's time
comes from the marker it leaves; the build includes the composite video
(decode, scale, VP8 re-encode), which dominates.

Figures, not a pass/fail: `python -m bench.recorder_bench [--seconds 60] [--runs 3]`.
"""

from __future__ import annotations

import argparse
import array
import asyncio
import itertools
import json
import math
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from bench.harness import cell, machine, progress, table
from classroom import commands as c
from classroom import events as e
from classroom.aggregate import Classroom
from classroom.live import Context
from journal.files import FileJournal
from media.encoded import EncodedFrame
from recorder.mkv import TrackWriter
from recorder.publish import STAGES, Publisher
from recorder.store import RecordingStore

WIDTH, HEIGHT, FPS = 640, 480, 30
VIDEO_CLOCK, AUDIO_CLOCK = 90000, 48000
AUDIO_FRAME = 960
"""20 ms of Opus at 48 kHz."""
LOOP_S = 4
"""Seconds of media encoded once and replayed (one keyframe at the start of each loop)."""


def video_loop(width: int = WIDTH, height: int = HEIGHT, fps: int = FPS) -> list[bytes]:
    """LOOP_S seconds of VP8 with a moving gradient; the first frame is the only keyframe."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, VIDEO_CLOCK)
    encoder.bit_rate = 1_000_000
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "g": str(fps * LOOP_S)}
    ramp = bytes(range(256)) * (width * height // 256 + 4)
    packets: list[bytes] = []
    for i in range(fps * LOOP_S + 1):
        picture = av.VideoFrame(width, height, "yuv420p")
        luma, *chroma = picture.planes
        shift = (i * 5) % 256
        luma.update(ramp[shift : shift + luma.buffer_size])
        for plane in chroma:
            plane.update(bytes([128 + (i % 32)]) * plane.buffer_size)
        picture.pts, picture.time_base = i * (VIDEO_CLOCK // fps), encoder.time_base
        packets.extend(bytes(p) for p in encoder.encode(picture))
    packets.extend(bytes(p) for p in encoder.encode(None))
    return packets[: fps * LOOP_S]


def audio_loop() -> list[bytes]:
    """LOOP_S seconds of Opus: a 440 Hz tone, stereo."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = AUDIO_CLOCK, "stereo", "s16"
    encoder.bit_rate = 64_000
    packets: list[bytes] = []
    for i in range(AUDIO_CLOCK * LOOP_S // AUDIO_FRAME):
        samples = array.array("h")
        for n in range(AUDIO_FRAME):
            value = int(8000 * math.sin(2 * math.pi * 440 * (i * AUDIO_FRAME + n) / AUDIO_CLOCK))
            samples.extend((value, value))
        frame = av.AudioFrame(format="s16", layout="stereo", samples=AUDIO_FRAME)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate, frame.pts = AUDIO_CLOCK, i * AUDIO_FRAME
        packets.extend(bytes(p) for p in encoder.encode(frame))
    return packets[: AUDIO_CLOCK * LOOP_S // AUDIO_FRAME]


@dataclass(frozen=True)
class Media:
    video: list[bytes]
    audio: list[bytes]

    @classmethod
    def make(cls) -> Media:
        return cls(video_loop(), audio_loop())


def frames(loop: list[bytes], count: int, step: int, clock: int, mime: str) -> list[EncodedFrame]:
    """`count` frames replaying `loop` with timestamps `step` apart."""
    return [
        EncodedFrame(data, i * step, clock, mime, keyframe=i % len(loop) == 0)
        for i, data in zip(range(count), itertools.cycle(loop), strict=False)
    ]


def capture(media: Media, folder: Path, seconds: float) -> dict[str, float]:
    """Stream-copy `seconds` of a camera and a microphone; CPU seconds of each."""
    video = frames(media.video, int(FPS * seconds), VIDEO_CLOCK // FPS, VIDEO_CLOCK, "video/VP8")
    count = int(seconds * AUDIO_CLOCK / AUDIO_FRAME)
    audio = frames(media.audio, count, AUDIO_FRAME, AUDIO_CLOCK, "audio/opus")
    cpu: dict[str, float] = {}
    for kind, name, stream in (("video", "camera.mkv", video), ("audio", "mic.mkv", audio)):
        started = time.process_time()
        writer = TrackWriter(folder / name, kind, stream[0].mime)
        for frame in stream:
            writer.write(frame)
        writer.close()
        cpu[kind] = time.process_time() - started
    return {
        "seconds": seconds,
        "video_cpu_s": cpu["video"],
        "audio_cpu_s": cpu["audio"],
        "stream_core_pct": 100 * (cpu["video"] + cpu["audio"]) / seconds,
        "video_mb": (folder / "camera.mkv").stat().st_size / 2**20,
        "audio_mb": (folder / "mic.mkv").stat().st_size / 2**20,
    }


class Clock:
    def __init__(self) -> None:
        self.now = int(time.time() * 1000) - 3_600_000
        self._ids = itertools.count(1)

    def ctx(self) -> Context:
        return Context(self.now, lambda: f"b{next(self._ids)}")


def history(seconds: float, people: int = 30) -> tuple[list[e.Event], str]:
    """A class that records `seconds` of chat, with a camera and a mic track noted."""
    room, clock, out = Classroom(), Clock(), []

    def commit(drafts: list[e.Event]) -> None:
        out.extend(room.commit(drafts, clock.now))

    commit(room.create("bench", "Recorded class", "sfu"))
    commit(room.join("teach", "Teacher", "host"))
    for i in range(people):
        commit(room.join(f"p{i:03d}", f"Learner {i}", "participant"))
    commit(room.handle("teach", c.RecordingStart(), clock.ctx()))
    recording_id = room.recording.made[0]
    for kind, name in (("video", "camera.mkv"), ("audio", "mic.mkv")):
        note = e.CaptureFileStarted(
            recording_id=recording_id, track_id=f"t-{kind}", user_id="teach", kind=kind,
            source="camera" if kind == "video" else "mic", file=name, at_ms=clock.now + 50,
        )  # fmt: skip
        commit([note])
    for second in range(int(seconds)):
        clock.now += 1000
        who = f"p{second % people:03d}"
        commit(room.handle(who, c.ChatSend(text=f"message {second}"), clock.ctx()))
    clock.now += int(1000 * (seconds - int(seconds))) + 100
    commit(room.handle("teach", c.RecordingStop(), clock.ctx()))
    return out, recording_id


async def publish(media_dir: Path, root: Path, seconds: float) -> dict[str, float]:
    """Lay out a stopped recording over the captured files and time its publish pipeline."""
    events, recording_id = history(seconds)
    journal = FileJournal(root / "journal")
    await journal.append("bench", [(ev.seq, e.encode(ev)) for ev in events])
    store = RecordingStore(root / "recordings")
    store.create(recording_id, {"id": recording_id, "class_id": "bench", "state": "stopped"})
    for name in ("camera.mkv", "mic.mkv"):
        shutil.copy(media_dir / name, store.media_dir(recording_id) / name)
    publisher = Publisher(store, journal)
    cpu0, started = time.process_time(), time.time()
    await (await publisher.start(recording_id))
    wall, cpu = time.time() - started, time.process_time() - cpu0
    await publisher.close()
    await journal.close()
    meta = store.load(recording_id) or {}
    if meta.get("state") != "published":
        raise RuntimeError(f"publishing failed: {meta.get('error')}")
    marks = [1000 * started]
    for stage in STAGES:
        marker = store.folder(recording_id) / "stages" / f"{stage}.done"
        marks.append(json.loads(marker.read_bytes())["at"])
    spans = zip(STAGES, marks, marks[1:], strict=False)
    result = {f"{stage}_s": (b - a) / 1000 for stage, a, b in spans}
    minutes = seconds / 60
    return result | {"publish_s_per_min": wall / minutes, "publish_cpu_s_per_min": cpu / minutes}


async def run(media: Media, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-recorder-") as scratch:
        root = Path(scratch)
        (root / "capture").mkdir()
        captured = capture(media, root / "capture", seconds)
        return captured | await publish(root / "capture", root / "publish", seconds)


def render(results: Sequence[dict[str, Any]]) -> str:
    def col(key: str) -> list[float]:
        """A figure of every run that has it (runs from before a stage existed lack it)."""
        return [float(r[key]) for r in results if key in r]

    seconds = results[0]["seconds"]
    per_min = 60 / seconds
    capture_rows = table(
        ["stream", "CPU per minute of media", "share of one core", "file per minute"],
        [
            [
                "camera, VP8 640x480 30 fps",
                cell([v * 1000 * per_min for v in col("video_cpu_s")], 0, "ms"),
                cell([100 * v / seconds for v in col("video_cpu_s")], 2, "%"),
                cell([v * per_min for v in col("video_mb")], 1, "MB"),
            ],
            [
                "microphone, Opus 50 packets/s",
                cell([v * 1000 * per_min for v in col("audio_cpu_s")], 0, "ms"),
                cell([100 * v / seconds for v in col("audio_cpu_s")], 2, "%"),
                cell([v * per_min for v in col("audio_mb")], 2, "MB"),
            ],
        ],
    )
    publish_rows = table(
        ["stage", *STAGES, "whole pipeline", "its CPU"],
        [
            [
                "seconds per recorded minute",
                *(cell([v * per_min for v in col(f"{s}_s")], 2, "s") for s in STAGES),
                cell(col("publish_s_per_min"), 1, "s"),
                cell(col("publish_cpu_s_per_min"), 1, "s"),
            ]
        ],
    )
    return f"{capture_rows}\n\n{publish_rows}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="media per stream")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"Machine: {machine()}", flush=True)
    media = Media.make()
    results = []
    for number in range(args.runs):
        results.append(asyncio.run(run(media, args.seconds)))
        progress(f"run {number + 1}: {results[-1]}")
    print(render(results))


if __name__ == "__main__":
    main()
