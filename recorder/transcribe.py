"""Transcribing a recording's audio tracks in a worker process.

Recognition is CPU-bound for minutes, so it runs in a process of its own
(spawned, not forked: the server has threads), at a lower priority and on
one thread by default, and the server's event loop only relays its
progress. Each track is decoded to 16 kHz mono and cut into pieces of a few
minutes at the quietest moment near each cut, so memory stays small and no
word is cut in half; after each piece the track's transcript so far is
written (atomically) to its file in `work/transcripts/`. A restart resumes
each track after its last written piece, and a finished track is never
transcribed again.

A worker whose server died (kill -9) notices before its next piece and
exits; what it had written stays valid.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import av
import numpy as np

from journal.atomic import write_atomically
from recorder.speech import RATE, Engine, ModelChoice, Samples, WhisperEngine

PIECE_S = 300
"""Audio handed to the engine at a time (5 minutes: about 19 MB of samples)."""
CUT_SEARCH_S = 30
"""How far back from a piece's end the quietest moment to cut at is looked for."""
QUIET_WINDOW = RATE * 3 // 10
HOP = RATE // 100
GAP = RATE // 50
"""A jump in a track's timestamps beyond this (20 ms) becomes silence, as in the composite."""
NICE = 10


class TranscriptionFailed(Exception):
    """The worker could not transcribe; the message says why."""


@dataclass(frozen=True)
class Job:
    media: str
    """The captured audio file."""
    out: str
    """Its transcript, written as it grows."""
    duration_ms: int


# -- the worker process -----------------------------------------------------------------


def worker_main(conn: Connection, jobs: list[dict[str, Any]], choice: dict[str, Any]) -> None:
    """The worker's entry point: transcribe each job, telling the parent how far it got."""
    parent = os.getppid()
    try:
        os.nice(NICE)
        engine = WhisperEngine(ModelChoice(**choice) if choice else ModelChoice())
        conn.send(("engine", engine.name))
        tracks = [Job(**job) for job in jobs]
        total = max(1, sum(job.duration_ms for job in tracks))
        before = 0
        for job in tracks:
            for done in transcribe_track(engine, job):
                if os.getppid() != parent:
                    return  # the server is gone: a restarted one resumes from the files
                conn.send(("progress", (before + min(done, job.duration_ms)) / total))
            before += job.duration_ms
        conn.send(("done", None))
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))


def transcribe_track(engine: Engine, job: Job, piece_s: int = PIECE_S) -> Iterator[int]:
    """Transcribe one track piece by piece from where its file stops; yields ms done."""
    out = Path(job.out)
    kept = _load(out)
    if kept.get("finished"):
        return
    for start_ms, samples in pieces(Path(job.media), int(kept["done_ms"]), piece_s):
        language, segments = engine.transcribe(samples)
        shifted = [_shifted(asdict(s), start_ms) for s in segments]
        kept["pieces"].append({"start_ms": start_ms, "language": language, "segments": shifted})
        kept["done_ms"] = start_ms + len(samples) * 1000 // RATE
        write_atomically(out, json.dumps(kept).encode())
        yield int(kept["done_ms"])
    kept["finished"] = True
    write_atomically(out, json.dumps(kept).encode())


def _load(path: Path) -> dict[str, Any]:
    try:
        kept: dict[str, Any] = json.loads(path.read_bytes())
    except (FileNotFoundError, ValueError):
        return {"done_ms": 0, "finished": False, "pieces": []}
    return kept


def _shifted(segment: dict[str, Any], by_ms: int) -> dict[str, Any]:
    words = [
        w | {"start_ms": w["start_ms"] + by_ms, "end_ms": w["end_ms"] + by_ms}
        for w in segment["words"]
    ]
    return segment | {
        "start_ms": segment["start_ms"] + by_ms,
        "end_ms": segment["end_ms"] + by_ms,
        "words": words,
    }


def pieces(path: Path, from_ms: int = 0, piece_s: int = PIECE_S) -> Iterator[tuple[int, Samples]]:
    """(start ms, samples) of the track from `from_ms` on, cut at quiet moments."""
    limit = piece_s * RATE
    buffer = np.zeros(0, np.float32)
    start = from_ms * RATE // 1000
    for chunk in _placed(path, start):
        buffer = np.concatenate((buffer, chunk))
        while len(buffer) >= limit:
            cut = quietest(buffer[:limit])
            yield start * 1000 // RATE, buffer[:cut]
            start, buffer = start + cut, buffer[cut:]
    if len(buffer):
        yield start * 1000 // RATE, buffer


def quietest(samples: Samples) -> int:
    """Where to cut: the middle of the quietest window in the last CUT_SEARCH_S."""
    begin = max(0, len(samples) - CUT_SEARCH_S * RATE)
    tail = samples[begin:]
    if len(tail) < QUIET_WINDOW:
        return len(samples)
    energy = np.convolve(tail**2, np.ones(QUIET_WINDOW, np.float32), mode="valid")[::HOP]
    return begin + int(np.argmin(energy)) * HOP + QUIET_WINDOW // 2


def _placed(path: Path, skip: int) -> Iterator[Samples]:
    """The track's samples at 16 kHz from sample `skip` on, gaps in its timestamps as silence."""
    resampler = av.AudioResampler(format="flt", layout="mono", rate=RATE)
    position = 0
    with av.open(str(path)) as source:
        for frame in source.decode(audio=0):
            at = None if frame.time is None else round(frame.time * RATE)
            if at is not None and at - position > GAP:
                yield from _after(np.zeros(at - position, np.float32), position, skip)
                position = at
            for out in resampler.resample(frame):
                samples = out.to_ndarray().reshape(-1).astype(np.float32)
                yield from _after(samples, position, skip)
                position += len(samples)
    for out in resampler.resample(None):
        yield from _after(out.to_ndarray().reshape(-1).astype(np.float32), position, skip)


def _after(samples: Samples, position: int, skip: int) -> Iterator[Samples]:
    """What of `samples` (starting at `position`) lies at or after `skip`."""
    if position + len(samples) <= skip:
        return
    yield samples[max(0, skip - position) :]


# -- the server's side -------------------------------------------------------------------


async def transcribe(
    jobs: list[Job], choice: ModelChoice | None, progress: Callable[[float], None]
) -> str:
    """Run the jobs in a worker process; returns the engine's name, or TranscriptionFailed.

    Cancelling (the server stops) ends the worker; its files let the next run resume.
    """
    spawn = multiprocessing.get_context("spawn")
    ours, theirs = spawn.Pipe(duplex=False)
    options = asdict(choice) if choice else {}
    worker = spawn.Process(
        target=worker_main,
        args=(theirs, [asdict(job) for job in jobs], options),
        name="captions-worker",
        daemon=True,
    )
    worker.start()
    theirs.close()
    engine = ""
    try:
        while True:
            try:
                kind, value = await asyncio.to_thread(ours.recv)
            except EOFError:
                worker.join(5)
                raise TranscriptionFailed(
                    f"the transcription worker stopped (exit code {worker.exitcode})"
                ) from None
            if kind == "engine":
                engine = str(value)
            elif kind == "progress":
                progress(float(value))
            elif kind == "error":
                raise TranscriptionFailed(str(value))
            else:
                return engine
    finally:
        if worker.is_alive():
            worker.terminate()
        await asyncio.to_thread(worker.join, 5)
        ours.close()


@dataclass(frozen=True)
class Captions:
    """The captions stage's settings: on by default, with the bundled model."""

    on: bool = True
    model: ModelChoice | None = None
