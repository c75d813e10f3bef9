"""Stream copy of one track's encoded frames into a Matroska file, with PyAV.

Frames come from the SFU exactly as the publisher sent them; nothing is
decoded or encoded here. Matroska stays readable when the process dies
mid-file: clusters are closed every half second and every packet is flushed
to the OS, so a crash loses at most the last cluster.

A writer runs on a capture's thread (recorder/capture.py). It writes
through a Python file object rather than a path: PyAV then hands every
write, the file's header and index included, to `io.FileIO`, which lets go
of the interpreter lock while the disk takes its time. Given a path, FFmpeg
writes the header and index itself while PyAV holds the lock, and a disk
that hangs then would hang the event loop with it.
"""

from __future__ import annotations

import io
import struct
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from media.encoded import EncodedFrame

CONTAINER_OPTIONS = {"flush_packets": "1", "cluster_time_limit": "500"}
CODECS = {"video/vp8": "vp8", "video/h264": "h264", "audio/opus": "opus"}
FRAME = {"video": 3000, "audio": 960}
"""One frame in RTP clock units: the step left over a pause."""


def opus_head(channels: int = 2, rate: int = 48000) -> bytes:
    """The OpusHead identification header (RFC 7845, 19 bytes) Matroska needs."""
    return b"OpusHead" + struct.pack("<BBHIhB", 1, channels, 312, rate, 0, 0)


def vp8_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header (RFC 6386, 9.1)."""
    if len(data) < 10 or data[0] & 1 or data[3:6] != b"\x9d\x01\x2a":
        return None
    width, height = struct.unpack("<HH", data[6:10])
    return width & 0x3FFF, height & 0x3FFF


def h264_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of an H.264 keyframe, by decoding it once (never re-encoded)."""
    decoder = av.CodecContext.create("h264", "r")
    try:
        for frame in decoder.decode(av.Packet(data)):
            return frame.width, frame.height
    except av.error.FFmpegError:
        return None
    return None


def h264_parameter_sets(data: bytes) -> bytes:
    """The SPS and PPS NAL units of an Annex B keyframe, kept in Annex B form."""
    units = [u for u in data.split(b"\x00\x00\x01") if u]
    kept = [u.rstrip(b"\x00") for u in units if u[0] & 0x1F in (7, 8)]
    return b"".join(b"\x00\x00\x00\x01" + u for u in kept)


class TrackWriter:
    """One track, one file. Video waits for a keyframe; pauses leave no gap in the file."""

    def __init__(self, path: Path, kind: str, mime: str) -> None:
        codec = CODECS.get(mime.lower())
        if codec is None:
            raise ValueError(f"cannot record {mime}")
        self.path = path
        self.kind = kind
        self.codec = codec
        self.frames = 0
        self.last_pts = -1
        self._container: Any = None
        self._file: io.FileIO | None = None
        self._stream: Any = None
        self._offset: int | None = None
        """RTP time of the file's zero, moved forward by every pause."""
        self._resuming = False
        self._time_base = Fraction(1, 90000 if kind == "video" else 48000)

    def write(self, frame: EncodedFrame) -> bool:
        """Append a frame; returns True when it is the first one in the file."""
        if self._container is None and not self._open(frame):
            return False
        if self._resuming:
            if self.kind == "video" and not frame.keyframe:
                return False
            assert self._offset is not None
            self._offset = frame.timestamp - (self.last_pts + FRAME[self.kind])
            self._resuming = False
        assert self._offset is not None
        pts = frame.timestamp - self._offset
        if pts <= self.last_pts:
            return False  # reordered or duplicate: Matroska wants increasing times
        packet = av.Packet(frame.data)
        packet.stream = self._stream
        packet.time_base = self._time_base
        packet.pts = packet.dts = pts
        packet.is_keyframe = frame.keyframe
        self._container.mux(packet)
        self.last_pts = pts
        self.frames += 1
        return self.frames == 1

    def pause(self) -> None:
        """Frames until the next `write` after this are not recorded; no gap is left."""
        self._resuming = self.frames > 0

    @property
    def duration_ms(self) -> int:
        return 0 if self.last_pts < 0 else int(self.last_pts * 1000 * self._time_base)

    def _open(self, frame: EncodedFrame) -> bool:
        size = None
        if self.kind == "video":
            if not frame.keyframe:
                return False
            size = vp8_size(frame.data) if self.codec == "vp8" else h264_size(frame.data)
            if size is None:
                return False
        self._time_base = Fraction(1, frame.clock_rate)
        self._file = io.FileIO(self.path, "w")
        container = av.open(self._file, "w", format="matroska", container_options=CONTAINER_OPTIONS)
        stream: Any
        if self.kind == "video":
            stream = container.add_stream(self.codec, rate=30)
            stream.width, stream.height = size or (0, 0)
            if self.codec == "h264":
                stream.codec_context.extradata = h264_parameter_sets(frame.data)
        else:
            stream = container.add_stream("opus", rate=48000)
            stream.codec_context.extradata = opus_head()
        self._container, self._stream = container, stream
        self._offset = frame.timestamp
        return True

    def close(self) -> None:
        try:
            if self._container is not None:
                self._container.close()
        finally:
            self._container = None
            if self._file is not None:
                self._file.close()
                self._file = None
