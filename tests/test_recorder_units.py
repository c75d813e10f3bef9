"""Pure and file-level tests of the recorder: clocks, privacy, chapters, stream copy."""

from __future__ import annotations

import fractions
import itertools
from pathlib import Path

import av
import pytest

from classroom import commands as c
from classroom import events as e
from media.encoded import EncodedFrame
from recorder.mkv import TrackWriter, opus_head, vp8_size
from recorder.package import remux
from recorder.timeline import Span, chapters_vtt, collect, find_span
from tests.domain import Harness


def test_span_clock_skips_pauses() -> None:
    span = Span("r", started=1000, stopped=9000, pauses=[(3000, 5000), (7000, 7500)])
    assert span.clock(999) is None and span.clock(9001) is None
    assert span.clock(1000) == 0 and span.clock(2999) == 1999
    assert span.clock(4000) is None  # paused
    assert span.clock(5000) == 2000 and span.clock(7600) == 4100
    assert span.duration_ms == 8000 - 2000 - 500


def _recorded_class() -> Harness:
    h = Harness("Optics")
    h.join("teach", "host")
    h.join("ann")
    h.clock.advance(100)
    h.do("teach", c.RecordingStart())
    h.clock.advance(1000)
    h.do("ann", c.ChatSend(text="public"))
    h.do("ann", c.ChatSend(text="private", to_user="teach"))
    h.clock.advance(1000)
    h.do("teach", c.RecordingPause())
    h.clock.advance(5000)
    h.do("ann", c.ChatSend(text="during the pause"))
    h.do("teach", c.RecordingResume())
    h.clock.advance(500)
    h.do("teach", c.RecordingMark(title="Part two"))
    h.do("ann", c.ChatSend(text="after"))
    h.clock.advance(500)
    h.do("teach", c.RecordingStop())
    h.do("ann", c.ChatSend(text="after the stop"))
    return h


def test_collect_keeps_what_learners_saw_on_the_recording_clock() -> None:
    h = _recorded_class()
    rid = h.room.recording.made[0]
    span = find_span(h.history, rid)
    assert span is not None
    got = collect(h.history, span)
    chats = [(e["t"], e["data"]["text"]) for e in got.events if e["name"] == "chat:message"]
    assert chats == [(1000, "public"), (2500, "after")]
    assert got.chapters == [{"t_ms": 2500, "title": "Part two"}]
    assert span.duration_ms == 3000
    assert got.participants == {"teach": "Teach", "ann": "Ann"} and got.hosts == {"teach"}


def test_chapters_vtt() -> None:
    vtt = chapters_vtt(
        [{"t_ms": 0, "title": "Start"}, {"t_ms": 61_500, "title": "A --> B"}], 90_000
    )
    assert vtt.splitlines()[:8] == [
        "WEBVTT", "", "1", "00:00:00.000 --> 00:01:01.500", "Start", "",
        "2", "00:01:01.500 --> 00:01:30.000",
    ]  # fmt: skip
    assert "-->" not in vtt.splitlines()[8]


def _vp8_frames(count: int) -> list[EncodedFrame]:
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = 160, 120, "yuv420p"
    encoder.time_base = fractions.Fraction(1, 90000)
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "g": "10"}
    frames = []
    for i in range(count):
        picture = av.VideoFrame(160, 120, "yuv420p")
        for plane in picture.planes:
            plane.update(bytes([(i * 5) % 256]) * plane.buffer_size)
        picture.pts, picture.time_base = i * 3000, encoder.time_base
        for packet in encoder.encode(picture):
            assert packet.pts is not None
            frames.append(
                EncodedFrame(bytes(packet), packet.pts, 90000, "video/VP8", packet.is_keyframe)
            )
    return frames


def test_stream_copy_waits_for_a_keyframe_and_pauses_leave_no_gap(tmp_path: Path) -> None:
    frames = _vp8_frames(60)
    assert vp8_size(frames[0].data) == (160, 120) and vp8_size(frames[1].data) is None
    waiting = TrackWriter(tmp_path / "w.mkv", "video", "video/VP8")
    assert not waiting.write(frames[1])  # no keyframe yet: nothing to start a file with
    assert waiting.write(frames[0])
    writer = TrackWriter(tmp_path / "v.mkv", "video", "video/VP8")
    for frame in frames[:20]:
        writer.write(frame)
    writer.pause()  # frames 20..39 never reach it; the next keyframe resumes it
    assert not writer.write(next(f for f in frames[40:] if not f.keyframe))
    resumed = next(f for f in frames[40:] if f.keyframe)
    start = frames.index(resumed)
    for frame in frames[start:]:
        writer.write(frame)
    writer.close()
    with av.open(str(tmp_path / "v.mkv")) as source:
        stream = source.streams.video[0]
        base = stream.time_base or fractions.Fraction(1, 1000)
        pts = [int(p.pts * base * 1000) for p in source.demux(stream) if p.pts is not None]
    gaps = [b - a for a, b in itertools.pairwise(pts)]
    assert max(gaps) <= 40  # about one frame at 30 fps, no hole where the pause was
    assert len(pts) == 20 + (60 - start)
    with av.open(str(tmp_path / "v.mkv")) as source:
        assert sum(1 for _ in source.decode(video=0)) == len(pts)


def test_remux_trims_at_keyframes(tmp_path: Path) -> None:
    writer = TrackWriter(tmp_path / "v.mkv", "video", "video/VP8")
    for frame in _vp8_frames(60):
        writer.write(frame)
    writer.close()
    shift, duration = remux(tmp_path / "v.mkv", tmp_path / "cut.webm", 500, 1500)
    assert 0 <= shift < 400 and 500 <= duration <= 1000
    with av.open(str(tmp_path / "cut.webm")) as source:
        assert sum(1 for _ in source.decode(video=0)) > 10


def test_unsupported_codecs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        TrackWriter(tmp_path / "x.mkv", "video", "video/AV1")
    assert len(opus_head()) == 19


def test_who_was_in_a_breakout_room_when_recording_started_is_on_the_timeline() -> None:
    h = Harness("Optics")
    h.join("teach", "host")
    h.join("ann")
    h.join("ben")
    rooms = [c.BreakoutRoomSpec(name="Red")]
    setup = c.BreakoutOpen(rooms=rooms, assignment="manual", assignments={"ann": 0})
    opened = h.do("teach", setup)[0]
    assert isinstance(opened, e.BreakoutOpened)
    red = opened.rooms[0].id
    h.clock.advance(100)
    h.do("teach", c.RecordingStart())
    h.clock.advance(1000)
    h.do("teach", c.RecordingStop())
    span = find_span(h.history, h.room.recording.made[0])
    assert span is not None
    moves = [
        (entry["t"], entry["data"])
        for entry in collect(h.history, span).events
        if entry["name"] == "participant:updated"
    ]
    assert moves == [(0, {"user_id": "ann", "room": red})]
