"""Building the replay package's files: probe and remux tracks, write manifest and timeline."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av


@dataclass(frozen=True)
class Probe:
    packets: int
    duration_ms: int
    codec: str


def probe(path: Path) -> Probe | None:
    """Packets and duration of a captured track; None if it holds nothing usable."""
    try:
        with av.open(str(path)) as source:
            stream = source.streams[0]
            packets, last = 0, 0
            for packet in source.demux(stream):
                if packet.pts is None:
                    continue
                packets += 1
                last = max(last, _ms(packet.pts, stream.time_base))
            name = stream.codec_context.name
    except (av.error.FFmpegError, IndexError, OSError):
        return None
    return Probe(packets, last, name) if packets else None


def decodes(path: Path, frames: int = 3) -> bool:
    """Whether the first frames of a track decode (the file is valid media, not just bytes)."""
    try:
        with av.open(str(path)) as source:
            for i, _ in enumerate(source.decode(source.streams[0])):
                if i + 1 >= frames:
                    return True
    except av.error.FFmpegError:
        return False
    return True


def remux(source: Path, target: Path, start_ms: int, end_ms: int | None) -> tuple[int, int]:
    """Copy packets between two recording times; returns (shift of the start, duration) in ms.

    Video starts at its first keyframe at or after `start_ms`, so the copy
    stays decodable without re-encoding; the returned shift says how far in.
    """
    with av.open(str(source)) as inp, av.open(str(target), "w", format=_format(target)) as out:
        stream = inp.streams[0]
        copy: Any = out.add_stream_from_template(stream)
        first: int | None = None
        last = 0
        for packet in inp.demux(stream):
            if packet.pts is None or packet.size == 0:
                continue
            at = _ms(packet.pts, stream.time_base)
            if at < start_ms or (end_ms is not None and at > end_ms):
                continue
            if first is None:
                if stream.type == "video" and not packet.is_keyframe:
                    continue
                first = packet.pts
            packet.pts -= first
            packet.dts = packet.pts
            packet.stream = copy
            out.mux(packet)
            last = at
        if first is None:
            return 0, 0
        shift = _ms(first, stream.time_base)
        return shift - start_ms, last - shift


def _ms(pts: int, time_base: Fraction | None) -> int:
    return int(pts * (time_base or Fraction(1, 1000)) * 1000)


def _format(target: Path) -> str:
    return "webm" if target.suffix == ".webm" else "matroska"


def package_name(index: int, kind: str, codec: str) -> str:
    """WebM for what browsers play from it (VP8, VP9, Opus); Matroska otherwise."""
    suffix = ".webm" if codec in ("vp8", "vp9", "opus") else ".mkv"
    return f"track-{index:02d}-{kind}{suffix}"
