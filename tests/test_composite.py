"""The composite video's audio: every track mixed at its place, in bounded memory; its
chapters, for players."""

from __future__ import annotations

import array
import itertools
import math
from pathlib import Path

import av

from media.encoded import EncodedFrame
from recorder.composite import CHUNK, RATE, Chapter, Placed, Source, compose
from recorder.mkv import TrackWriter

FRAME = 960
"""20 ms of Opus."""
WINDOW_MS = 10


def tone_track(
    path: Path, tones: list[tuple[int, int, int]], count: int, skip: range = range(0)
) -> None:
    """An Opus track of `count` 20 ms frames, as the recorder writes it; `tones` are
    (from, to, Hz) in ms of the track's own clock, silence elsewhere. Frames in `skip`
    are never written: a gap, like frames a slow disk made the capture drop."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = RATE, "stereo", "s16"
    encoder.bit_rate = 96_000
    writer = TrackWriter(path, "audio", "audio/opus")
    packets: list[bytes] = []
    for n in range(count):
        samples = array.array("h")
        for i in range(n * FRAME, (n + 1) * FRAME):
            ms = i * 1000 // RATE
            hz = next((hz for start, end, hz in tones if start <= ms < end), 0)
            value = int(12000 * math.sin(2 * math.pi * hz * i / RATE)) if hz else 0
            samples.extend((value, value))
        frame = av.AudioFrame(format="s16", layout="stereo", samples=FRAME)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate, frame.pts = RATE, n * FRAME
        packets.extend(bytes(p) for p in encoder.encode(frame))
    packets.extend(bytes(p) for p in encoder.encode(None))
    for n, data in enumerate(packets[:count]):
        if n not in skip:
            writer.write(EncodedFrame(data, n * FRAME, RATE, "audio/opus", True))
    writer.close()


def decoded_mono(path: Path) -> array.array[float]:
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    out: array.array[float] = array.array("f")
    with av.open(str(path)) as source:
        for frame in source.decode(audio=0):
            for mono in resampler.resample(frame):
                out.frombytes(bytes(mono.planes[0])[: mono.samples * 4])
    return out


def sounding(samples: array.array[float]) -> list[tuple[int, int, int]]:
    """(from ms, to ms, Hz) of each stretch of sound, by 10 ms windows."""
    size = RATE * WINDOW_MS // 1000
    spans: list[tuple[int, int, int]] = []
    start = None
    for w in range(len(samples) // size + 1):
        window = samples[w * size : (w + 1) * size]
        loud = bool(window) and math.sqrt(sum(v * v for v in window) / len(window)) > 0.05
        if loud and start is None:
            start = w
        elif not loud and start is not None:
            piece = samples[start * size : w * size]
            crossings = sum(1 for a, b in itertools.pairwise(piece) if a < 0 <= b)
            hz = round(crossings * RATE / len(piece), -1)
            spans.append((start * WINDOW_MS, w * WINDOW_MS, int(hz)))
            start = None
    return spans


def test_tracks_are_mixed_at_their_offsets_across_gaps(tmp_path: Path) -> None:
    # a: offset 0, 440 Hz at 1.0-1.5 s. b: offset 1.5 s, 1000 Hz at its own 0.5-1.0 s and
    # 2.5-3.0 s, with frames 75-124 (1.5-2.5 s of its clock) never written. c: offset
    # 3 s (after the others began: the mixer must not wait on it), 660 Hz at 0-0.3 s.
    tone_track(tmp_path / "a.mkv", [(1000, 1500, 440)], 100)
    b_tones = [(500, 1000, 1000), (2500, 3000, 1000)]
    tone_track(tmp_path / "b.mkv", b_tones, 150, skip=range(75, 125))
    tone_track(tmp_path / "c.mkv", [(0, 300, 660)], 40)
    sources = [
        Source(tmp_path / "a.mkv", 0),
        Source(tmp_path / "b.mkv", 1500),
        Source(tmp_path / "c.mkv", 3000),
    ]
    out = tmp_path / "composite.webm"
    compose(out, 5000, None, sources)

    spans = sounding(decoded_mono(out))
    expected = [(1000, 1500, 440), (2000, 2500, 1000), (3000, 3300, 660), (4000, 4500, 1000)]
    assert len(spans) == len(expected), spans
    for (start, end, hz), (want_start, want_end, want_hz) in zip(spans, expected, strict=True):
        assert abs(start - want_start) <= 20 and abs(end - want_end) <= 20, (spans, expected)
        assert abs(hz - want_hz) <= want_hz * 0.1, (spans, expected)
    with av.open(str(out)) as video:
        assert abs(float(video.duration or 0) / 1e6 - 5.0) < 0.1


def test_the_chapters_are_the_files_matroska_chapters(tmp_path: Path) -> None:
    tone_track(tmp_path / "a.mkv", [(0, 500, 440)], 50)
    out = tmp_path / "composite.webm"
    chapters = [
        Chapter(1200, "Derivatives"),
        Chapter(0, "Start"),
        Chapter(2500, "Poll: ready?"),
        Chapter(4000, "After the end"),  # past the recording: left out
    ]
    compose(out, 3000, None, [Source(tmp_path / "a.mkv", 0)], chapters=chapters)
    with av.open(str(out)) as video:
        marks = video.chapters()
    ms = [1000 * (c["time_base"] or 0) for c in marks]
    found = [(round(c["start"] * m), round(c["end"] * m)) for c, m in zip(marks, ms, strict=True)]
    titles = [c["metadata"].get("title") for c in marks]
    assert titles == ["Start", "Derivatives", "Poll: ready?"]
    assert found == [(0, 1200), (1200, 2500), (2500, 3000)]


def test_a_placed_track_is_read_in_chunks_of_the_clock(tmp_path: Path) -> None:
    tone_track(tmp_path / "a.mkv", [(0, 200, 440)], 10)
    track = Placed(Source(tmp_path / "a.mkv", 250))
    chunks = [track.read(CHUNK) for _ in range(6)]
    track.close()
    assert all(len(left) == len(right) == CHUNK * 4 for left, right in chunks)
    heard = array.array("f", b"".join(left for left, _ in chunks))
    loud = [i for i, v in enumerate(heard) if abs(v) > 0.05]
    assert abs(loud[0] - RATE // 4) < RATE // 100  # starts at its offset, 250 ms
    assert abs(loud[-1] - RATE * 450 // 1000) < RATE // 100
