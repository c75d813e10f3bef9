"""Capture off the event loop: a stalled disk costs frames (noted), never the loop's time."""

from __future__ import annotations

import asyncio
import fractions
from pathlib import Path

import av

from recorder.capture import Capture, Note, TrackInfo
from tests.slow_disk import StalledDisk
from tests.test_recorder_units import _vp8_frames

CAMERA = TrackInfo("t1", "teacher", "video", "camera", "video/VP8")


async def drained(capture: Capture) -> None:
    """Until the writer has written every queued frame (bounded)."""
    for _ in range(2000):
        if not capture.backlog:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the writer never caught up")


async def test_a_stalled_writer_drops_to_the_next_keyframe_and_notes_it(tmp_path: Path) -> None:
    frames = _vp8_frames(90)
    disk, notes, firsts, asked = StalledDisk(), list[Note](), list[str](), list[int]()
    limit = sum(len(f.data) for f in frames[:11])  # the first 11 frames fit in the queue
    capture = Capture(
        tmp_path / "r1" / "media",
        lambda _, name, __: firsts.append(name),
        notes.append,
        disk.writer,
        max_pending_bytes=limit,
    )
    sink = capture.add(CAMERA, lambda: asked.append(1))
    assert sink is not None
    disk.stall()
    sink(frames[0])
    assert await asyncio.to_thread(disk.blocked.wait, 20)  # the writer waits on the disk
    for frame in frames[1:40]:
        sink(frame)  # returns at once: the loop never waits on the disk
    assert capture.dropped == 29 and capture.backlog == limit
    assert not notes and not asked  # still behind: no keyframe is asked for yet
    disk.resume()
    await drained(capture)
    assert firsts == ["track-01-video.mkv"]
    # Caught up, the track waits for a keyframe (and asks for one) before it writes again.
    resume_at = next(i for i in range(41, 90) if frames[i].keyframe)
    for frame in frames[41:]:
        sink(frame)
        await drained(capture)  # a disk that keeps up again
    await capture.close()
    assert len(asked) == resume_at - 41
    assert len(notes) == 1 and notes == capture.notes
    note = notes[0]
    assert note["frames"] == capture.dropped == 29 + resume_at - 41
    assert note["file"] == "track-01-video.mkv" and note["kind"] == "video"
    assert note["from_ms"] <= note["to_ms"]

    with av.open(str(tmp_path / "r1" / "media" / "track-01-video.mkv")) as source:
        stream = source.streams.video[0]
        base = stream.time_base or fractions.Fraction(1, 1000)
        pts = [int(p.pts * base * 1000) for p in source.demux(stream) if p.pts is not None]
    with av.open(str(tmp_path / "r1" / "media" / "track-01-video.mkv")) as source:
        assert sum(1 for _ in source.decode(video=0)) == len(pts) == 11 + 90 - resume_at
    # The dropped stretch stays a stretch of time in the file: later frames keep their place.
    assert abs(pts[11] - (resume_at * 1000 // 30)) <= 1


async def test_a_capture_stops_taking_frames_when_closed(tmp_path: Path) -> None:
    frames = _vp8_frames(12)
    capture = Capture(tmp_path / "r2" / "media", lambda *_: None)
    sink = capture.add(CAMERA)
    assert sink is not None and capture.add(CAMERA) is None  # one writer per track
    for frame in frames[:6]:
        sink(frame)
    capture.pause()
    for frame in frames[6:]:
        sink(frame)  # paused: not recorded
    await capture.close()
    sink(frames[0])  # closed: ignored, nothing is written after the file was closed
    assert capture.add(TrackInfo("t2", "u", "audio", "mic", "audio/opus")) is None
    with av.open(str(tmp_path / "r2" / "media" / "track-01-video.mkv")) as source:
        assert sum(1 for _ in source.decode(video=0)) == 6
