"""A small replay package written by hand: a VP8 camera track, a timeline and a manifest."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path
from typing import Any

import av


def make_webm(path: Path, seconds: int, fps: int = 10) -> None:
    """A small VP8 video whose brightness changes every frame."""
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(seconds * fps):
            frame = av.VideoFrame(160, 120, "yuv420p")
            for plane, value in zip(frame.planes, (16 + (8 * i) % 200, 128, 128), strict=True):
                plane.update(bytes([value]) * plane.buffer_size)
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def replay_package(folder: Path, track: str, recording_id: str = "r-replay-test") -> None:
    """A published package without a composite video: one camera track from 1 s on."""
    folder.mkdir(parents=True)
    make_webm(folder / track, 4)
    poll: dict[str, Any] = {"id": "p1", "question": "Which shape has three sides?"}
    poll |= {"kind": "single", "options": ["Triangle", "Square"], "status": "open"}
    chat = {"id": "m1", "seq": 3, "ts": 1, "from": {"user_id": "ana", "name": "Ana"}}
    events = [
        {"t": 1500, "name": "chat:message", "data": chat | {"text": "Hi", "room": "main"}},
        {"t": 3000, "name": "poll:opened", "data": {"seq": 4, "ts": 2, "poll": poll}},
    ]
    (folder / "timeline.json").write_text(json.dumps({"events": events}))
    manifest = {
        "id": recording_id,
        "class_id": "c",
        "title": "Geometry",
        "started_at": 1_700_000_000_000,
        "duration_ms": 5000,
        "participants": [{"user_id": "ana", "name": "Ana"}],
        "tracks": [
            {"file": track, "user_id": "ana", "kind": "video", "source": "camera"}
            | {"offset_ms": 1000, "duration_ms": 4000}
        ],
        "chapters": [{"t_ms": 3000, "title": "Poll: Which shape has three sides?"}],
        "composite": None,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


CAPTIONS = [
    (1000, 3000, "teacher", "Dr Teach", "today we talk about the speed of light"),
    (3500, 4800, "ana", "Ana", "what is refraction"),
]


def captioned_package(folder: Path, recording_id: str) -> None:
    """A package whose composite video has English captions and a transcript."""
    replay_package(folder, "ana-camera.webm", recording_id)
    make_webm(folder / "composite.webm", 5)
    cues = [
        {"t": t, "end": end, "user_id": u, "speaker": s, "language": "en", "text": text}
        for t, end, u, s, text in CAPTIONS
    ]
    vtt = ["WEBVTT", ""]
    for i, (t, end, _, speaker, text) in enumerate(CAPTIONS, start=1):
        vtt += [
            str(i),
            f"00:00:0{t // 1000}.{t % 1000:03d} --> 00:00:0{end // 1000}.{end % 1000:03d}",
        ]
        vtt += [f"<v {speaker}>{speaker}: {text}</v>", ""]
    (folder / "captions-en.vtt").write_text("\n".join(vtt))
    (folder / "transcript.json").write_text(json.dumps({"engine": "test", "cues": cues}))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest |= {"composite": "composite.webm", "transcript": "transcript.json"}
    manifest["captions"] = [{"language": "en", "file": "captions-en.vtt"}]
    (folder / "manifest.json").write_text(json.dumps(manifest))


def published_for_replay(
    data_dir: Path, recording_id: str, polls: bytes = b"[]", class_id: str = "c"
) -> None:
    """A recording published for learners, as the store keeps it: its metadata, a manifest,
    and the recorded polls its stream folds over (no media: the stream needs none)."""
    folder = data_dir / "recordings" / recording_id
    (folder / "package").mkdir(parents=True)
    meta = {"id": recording_id, "class_id": class_id, "state": "published"}
    meta["visibility"] = "learners"
    (folder / "recording.json").write_text(json.dumps(meta))
    manifest = {"id": recording_id, "title": "Geometry", "duration_ms": 600_000, "tracks": []}
    (folder / "package" / "manifest.json").write_text(json.dumps(manifest))
    (folder / "replay-polls.json").write_bytes(polls)
