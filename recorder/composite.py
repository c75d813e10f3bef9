"""The one downloadable video: the presenter's picture with the whole class's audio.

Composed offline with PyAV: the chosen video track is decoded, scaled and
re-encoded (VP8), every audio track is decoded, delayed to its place on the
recording's clock and mixed (an ffmpeg filter graph), and both go into one
WebM file. This is the only place that decodes and encodes, and it runs
after the class, never on the forwarding path.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

MS = Fraction(1, 1000)
RATE = 48000
Progress = Callable[[float], None]


@dataclass(frozen=True)
class Source:
    path: Path
    offset_ms: int


def compose(
    out: Path,
    duration_ms: int,
    video: Source | None,
    audio: list[Source],
    progress: Progress = lambda _: None,
    max_height: int = 720,
) -> None:
    container = av.open(str(out), "w", format="webm")
    try:
        size = _video_size(video, max_height)
        vstream: Any = container.add_stream("libvpx", rate=30)
        vstream.width, vstream.height, vstream.pix_fmt = size[0], size[1], "yuv420p"
        vstream.codec_context.time_base = MS
        vstream.codec_context.options = {"deadline": "realtime", "cpu-used": "8"}
        vstream.bit_rate = 1_000_000
        astream: Any = container.add_stream("libopus", rate=RATE)
        astream.codec_context.time_base = Fraction(1, RATE)
        _write_video(container, vstream, video, size, duration_ms, progress)
        _write_audio(container, astream, audio, duration_ms)
        for stream in (vstream, astream):
            for packet in stream.encode(None):
                container.mux(packet)
    finally:
        container.close()
    progress(1.0)


def _video_size(video: Source | None, max_height: int) -> tuple[int, int]:
    if video is None:
        return 640, 360
    with av.open(str(video.path)) as probe:
        stream = probe.streams.video[0]
        width, height = stream.codec_context.width or 640, stream.codec_context.height or 360
    if height > max_height:
        width, height = width * max_height // height, max_height
    return width - width % 2, height - height % 2


def _black(size: tuple[int, int], pts: int) -> av.VideoFrame:
    frame = av.VideoFrame(size[0], size[1], "yuv420p")
    for plane, value in zip(frame.planes, (16, 128, 128), strict=True):
        plane.update(bytes([value]) * plane.buffer_size)
    frame.pts, frame.time_base = pts, MS
    return frame


def _write_video(
    container: Any,
    stream: Any,
    video: Source | None,
    size: tuple[int, int],
    duration_ms: int,
    progress: Progress,
) -> None:
    """The presenter's frames at their times; black before the first and after the last."""
    last = -1
    frames = _frames(video, size) if video is not None else iter(())
    for pts, frame in frames:
        if pts > duration_ms:
            break
        if last < 0 and pts > 0:
            _mux(container, stream, _black(size, 0))
        if pts <= last:
            continue
        frame.pts, frame.time_base = pts, MS
        _mux(container, stream, frame)
        last = pts
        progress(0.9 * pts / max(duration_ms, 1))
    if last < 0:
        _mux(container, stream, _black(size, 0))
        last = 0
    if duration_ms - last > 100:  # hold the picture (or black) to the end
        _mux(container, stream, _black(size, duration_ms))


def _frames(video: Source, size: tuple[int, int]) -> Any:
    with av.open(str(video.path)) as source:
        stream = source.streams.video[0]
        for frame in source.decode(stream):
            if frame.pts is None:
                continue
            pts = video.offset_ms + int(frame.pts * (stream.time_base or MS) * 1000)
            yield pts, frame.reformat(width=size[0], height=size[1], format="yuv420p")


def _mux(container: Any, stream: Any, frame: Any) -> None:
    for packet in stream.encode(frame):
        container.mux(packet)


def _write_audio(container: Any, stream: Any, audio: list[Source], duration_ms: int) -> None:
    """Every audio track delayed to its offset and mixed; silence when there is none."""
    graph = av.filter.Graph()
    sink = graph.add("abuffersink")
    inputs = []
    if audio:
        mix = graph.add("amix", f"inputs={len(audio)}:duration=longest:normalize=0")
        for i, source in enumerate(audio):
            src = graph.add_abuffer(
                format="fltp", sample_rate=RATE, layout="stereo", time_base=Fraction(1, RATE)
            )
            delay = graph.add("adelay", f"delays={max(0, source.offset_ms)}:all=1")
            src.link_to(delay)
            delay.link_to(mix, 0, i)
            inputs.append(src)
        trim = graph.add("atrim", f"end={duration_ms / 1000}")
        mix.link_to(trim)
        trim.link_to(sink)
    else:
        silence = graph.add("anullsrc", f"channel_layout=stereo:sample_rate={RATE}")
        trim = graph.add("atrim", f"end={max(duration_ms, 1) / 1000}")
        silence.link_to(trim)
        trim.link_to(sink)
    graph.configure()
    for src, source in zip(inputs, audio, strict=True):
        for frame in _audio_frames(source.path):
            src.push(frame)
        src.push(None)
    _drain_audio(graph, container, stream)


def _audio_frames(path: Path) -> Any:
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=RATE)
    with av.open(str(path)) as source:
        for frame in source.decode(audio=0):
            for out in resampler.resample(frame):
                yield out
    for out in resampler.resample(None):
        yield out


def _drain_audio(graph: Any, container: Any, stream: Any) -> None:
    pts = 0
    while True:
        try:
            frame = graph.pull()
        except (av.error.BlockingIOError, av.error.EOFError):
            break
        frame.pts, frame.time_base = pts, Fraction(1, RATE)
        pts += frame.samples
        _mux(container, stream, frame)
