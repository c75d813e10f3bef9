"""The one downloadable video: the class as a learner saw it, with the whole class's audio.

Composed offline with PyAV: the picture is the scenes of recorder/layout.py
(the shared screen or the board's page with its ink large, the active
speaker and the other cameras beside it, else a gallery of cameras),
painted by recorder/picture.py; every audio track is decoded, placed on the
recording's clock and mixed (ffmpeg's amix). Each picture and each mixed
chunk is made once and encoded twice: VP8 and Opus into a WebM file, and
H.264 and AAC into an MP4 for the players that have no WebM. This is the
only place that decodes and encodes, and it runs after the class, never on
the forwarding path.

It streams: pictures and mixed sound are made in time order, a chunk at a
time, so memory stays the same for a ten-minute or a three-hour recording.
Each audio track is read by its own decoder and cut into chunks of the
recording's clock (silence before the track starts, in the gaps the capture
left, and after it ends); every track gives one chunk to the mixer before
any gives the next, so the mixer never waits on a late track while holding
the others. Video tracks are read the same way, one decoder each, holding
only their latest frame.

The recording's chapters (its markers, polls, breakouts and slide titles)
are the WebM's Matroska chapters and the MP4's chapter track, so a player
lists and seeks to them.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack, closing
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from recorder.layout import SIZE
from recorder.picture import FPS, TIME_BASE, Picture, pictures

MS = Fraction(1, 1000)
RATE = 48000
CHUNK = RATE // 10
"""Samples mixed at a time: 100 ms."""
JITTER = RATE // 100
"""A frame that starts within 10 ms of where the previous one ended follows it without a gap."""
SAMPLE_BYTES = 4
"""One float32 sample of one channel (fltp)."""
Progress = Callable[[float], None]


@dataclass(frozen=True)
class Source:
    path: Path
    offset_ms: int


@dataclass(frozen=True)
class Chapter:
    t_ms: int
    title: str


def compose(
    out: Path,
    duration_ms: int,
    picture: Picture | None,
    audio: list[Source],
    progress: Progress = lambda _: None,
    chapters: list[Chapter] | None = None,
    mp4: Path | None = None,
) -> None:
    """The WebM at `out` (VP8, Opus, chapters) and, given `mp4`, the same as MP4 (H.264,
    AAC): each picture and each mixed chunk is made once and encoded into both."""
    outputs: list[_Output] = []
    try:
        marks = _matroska_chapters(chapters or [], duration_ms)
        outputs.append(_webm(out, marks))
        if mp4 is not None:
            outputs.append(_mp4(mp4, marks))
        with ExitStack() as stack:
            shown = stack.enter_context(closing(pictures(picture, duration_ms)))
            sound = stack.enter_context(closing(_mixed(audio, duration_ms)))
            timed = heapq.merge(
                ((float(frame.time or 0), True, frame) for frame in shown),
                ((float(frame.time or 0), False, frame) for frame in sound),
                key=lambda item: item[0],
            )  # in time order, so the muxers interleave without holding either back
            for at_s, is_video, frame in timed:
                for output in outputs:
                    _mux(output.container, output.video if is_video else output.audio, frame)
                progress(min(1.0, 1000 * at_s / max(duration_ms, 1)))
        for output in outputs:
            for stream in (output.video, output.audio):
                for packet in stream.encode(None):
                    output.container.mux(packet)
    finally:
        for output in outputs:
            output.container.close()
    progress(1.0)


@dataclass(frozen=True)
class _Output:
    container: Any
    video: Any
    audio: Any


def _webm(path: Path, chapters: list[Any]) -> _Output:
    container = av.open(str(path), "w", format="webm")
    # Before the first packet: the header, which holds them, is written with it.
    container.set_chapters(chapters)
    video = _video_stream(container, "libvpx")
    video.codec_context.options = {"deadline": "realtime", "cpu-used": "16"}  # the fastest
    video.bit_rate = 1_500_000
    audio: Any = container.add_stream("libopus", rate=RATE)
    audio.codec_context.time_base = Fraction(1, RATE)
    return _Output(container, video, audio)


def _mp4(path: Path, chapters: list[Any]) -> _Output:
    """H.264 and AAC, for the players that play no WebM; its index first, so that a player
    starts before the whole file has come. The chapters are a QuickTime chapter track."""
    container = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
    container.set_chapters(chapters)
    video = _video_stream(container, "libx264")
    video.codec_context.options = {"preset": "superfast", "crf": "26"}
    audio: Any = container.add_stream("aac", rate=RATE)
    audio.codec_context.time_base = Fraction(1, RATE)
    audio.bit_rate = 128_000
    return _Output(container, video, audio)


def _video_stream(container: Any, codec: str) -> Any:
    stream: Any = container.add_stream(codec, rate=FPS)
    stream.width, stream.height, stream.pix_fmt = SIZE[0], SIZE[1], "yuv420p"
    stream.codec_context.time_base = TIME_BASE
    stream.codec_context.gop_size = 4 * FPS  # a keyframe every 4 s: players seek to them
    # One thread: the build runs beside live classes, and on a busy machine the
    # encoders' threads cost twice the CPU for the same pictures (and hold more frames).
    stream.codec_context.thread_count = 1
    return stream


def _matroska_chapters(chapters: list[Chapter], duration_ms: int) -> list[Any]:
    """Each chapter runs until the next one starts (the last, to the end); players list
    them by title and seek to them."""
    kept = sorted((c for c in chapters if 0 <= c.t_ms < duration_ms), key=lambda c: c.t_ms)
    bounds = [c.t_ms for c in kept] + [duration_ms]
    return [
        {
            "id": n,
            "start": c.t_ms,
            "end": bounds[n],
            "time_base": MS,
            "metadata": {"title": c.title},
        }
        for n, c in enumerate(kept, start=1)
    ]


def _mux(container: Any, stream: Any, frame: Any) -> None:
    for packet in stream.encode(frame):
        container.mux(packet)


def _mixed(audio: list[Source], duration_ms: int) -> Generator[av.AudioFrame]:
    """Every audio track at its place on the recording's clock, mixed; silence without any."""
    total = max(duration_ms, 1) * RATE // 1000
    if not audio:  # a silent class with something to see (a slide, say)
        for start in range(0, total, CHUNK):
            count = min(CHUNK, total - start)
            yield _chunk(start, [bytes(count * SAMPLE_BYTES)] * 2, count)
        return
    with ExitStack() as stack:
        tracks = [stack.enter_context(closing(Placed(source))) for source in audio]
        graph, inputs = _mixer(len(tracks))
        pts = 0
        for start in range(0, total, CHUNK):
            count = min(CHUNK, total - start)
            for track, src in zip(tracks, inputs, strict=True):
                src.push(_chunk(start, track.read(count), count))
            for frame in _pull(graph):
                frame.pts, frame.time_base = pts, Fraction(1, RATE)
                pts += frame.samples
                yield frame
        for src in inputs:
            src.push(None)
        for frame in _pull(graph):
            frame.pts, frame.time_base = pts, Fraction(1, RATE)
            pts += frame.samples
            yield frame


def _mixer(inputs: int) -> tuple[Any, list[Any]]:
    """An amix of `inputs` sources (fltp stereo at RATE), levels kept as they are."""
    graph = av.filter.Graph()
    sink = graph.add("abuffersink")
    mix = graph.add("amix", f"inputs={inputs}:duration=longest:normalize=0")
    sources = []
    for i in range(inputs):
        src = graph.add_abuffer(
            format="fltp", sample_rate=RATE, layout="stereo", time_base=Fraction(1, RATE)
        )
        src.link_to(mix, 0, i)
        sources.append(src)
    mix.link_to(sink)
    graph.configure()
    return graph, sources


def _pull(graph: Any) -> Iterator[av.AudioFrame]:
    while True:
        try:
            yield graph.pull()
        except (av.error.BlockingIOError, av.error.EOFError):
            return


def _chunk(pts: int, planes: list[bytes], count: int) -> av.AudioFrame:
    frame = av.AudioFrame(format="fltp", layout="stereo", samples=count)
    for plane, data in zip(frame.planes, planes, strict=True):
        plane.update(data)
    frame.sample_rate, frame.pts, frame.time_base = RATE, pts, Fraction(1, RATE)
    return frame


class Placed:
    """One audio track, decoded as it is read, on the recording's clock in samples.

    Frames are placed by their timestamps: a jump forward (frames the capture
    dropped, a pause of the publisher) becomes silence, a step back is cut,
    and small jitter is ignored so that a continuous track stays continuous.
    """

    def __init__(self, source: Source) -> None:
        self._offset = source.offset_ms * RATE // 1000
        self._frames = _audio_frames(source.path)
        self._planes: list[bytes] = []
        self._start = self._end = self._offset
        """Where the decoded samples in `_planes` lie on the clock."""
        self._read = 0
        """The clock up to which samples were handed out."""
        self._next()

    def read(self, count: int) -> list[bytes]:
        """The next `count` samples of each channel, silence where the track has none."""
        left, right = bytearray(count * SAMPLE_BYTES), bytearray(count * SAMPLE_BYTES)
        base, stop = self._read, self._read + count
        while self._planes and self._start < stop:
            lo, hi = max(self._start, self._read), min(self._end, stop)
            if lo < hi:  # what lies before `_read` was handed out already: cut
                into = slice((lo - base) * SAMPLE_BYTES, (hi - base) * SAMPLE_BYTES)
                have = slice((lo - self._start) * SAMPLE_BYTES, (hi - self._start) * SAMPLE_BYTES)
                left[into], right[into] = self._planes[0][have], self._planes[1][have]
                self._read = hi
            if self._end > stop:
                break
            self._next()
        self._read = stop
        return [bytes(left), bytes(right)]

    def _next(self) -> None:
        found = next(self._frames, None)
        if found is None:
            self._planes = []
            return
        at, frame = found
        start = self._offset + at if at is not None else self._end
        if abs(start - self._end) <= JITTER and self._planes:
            start = self._end
        size = frame.samples * SAMPLE_BYTES
        self._planes = [bytes(plane)[:size] for plane in frame.planes]
        self._start, self._end = start, start + frame.samples

    def close(self) -> None:
        self._frames.close()


def _audio_frames(path: Path) -> Generator[tuple[int | None, av.AudioFrame]]:
    """Decoded frames as fltp stereo at RATE, each with its start in samples (None: contiguous)."""
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
    with av.open(str(path)) as source:
        for frame in source.decode(audio=0):
            at = None if frame.time is None else round(frame.time * RATE)
            for out in resampler.resample(frame):
                yield at, out
                at = None  # what follows comes right after
    for out in resampler.resample(None):
        yield None, out
