"""Speech made on this machine: espeak-ng says known sentences, a microphone track sends them.

`said()` renders sentences to 48 kHz mono samples with silences between them
and notes where each sentence begins; `Speech` is an aiortc audio track that
sends those samples in real time (encoded to Opus by aiortc, as a browser's
microphone would be) and then silence for as long as the track lives.
"""

from __future__ import annotations

import asyncio
import fractions
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
from aiortc import AudioStreamTrack
from aiortc.mediastreams import MediaStreamError

RATE = 48000
SAMPLES = 960
"""20 ms, as browsers send."""
ONSET = 0.02
"""Level (of full scale) where a sentence is taken to begin."""


@dataclass
class Said:
    samples: np.ndarray
    onsets_ms: list[int]
    """Where each sentence's first sound lies, from the first sample."""


def render(text: str, folder: Path) -> np.ndarray:
    """`text` spoken by espeak-ng, as 48 kHz mono int16."""
    wav = folder / "said.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "150", "-w", str(wav), text], check=True)
    resampler = av.AudioResampler(format="s16", layout="mono", rate=RATE)
    chunks = []
    with av.open(str(wav)) as source:
        for frame in source.decode(audio=0):
            frame.pts = None
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks).astype(np.int16)


def said(sentences: list[str], lead_s: float = 1.0, gap_s: float = 1.5) -> Said:
    parts: list[np.ndarray] = []
    onsets = []
    at = int(lead_s * RATE)
    parts.append(np.zeros(at, np.int16))
    with tempfile.TemporaryDirectory() as folder:
        for sentence in sentences:
            voice = render(sentence, Path(folder))
            loud = np.flatnonzero(np.abs(voice) > ONSET * 32767)
            onsets.append((at + int(loud[0] if len(loud) else 0)) * 1000 // RATE)
            gap = np.zeros(int(gap_s * RATE), np.int16)
            parts += [voice, gap]
            at += len(voice) + len(gap)
    return Said(np.concatenate(parts), onsets)


class Speech(AudioStreamTrack):
    """Sends `said` once, then silence: a person who spoke, then listened."""

    def __init__(self, speech: Said) -> None:
        super().__init__()
        self.samples = speech.samples
        self._sent = 0
        self._start = 0.0
        self.finished = asyncio.Event()

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._sent:
            wait = self._start + self._sent * SAMPLES / RATE - time.time()
            await asyncio.sleep(max(wait, 0))
        else:
            self._start = time.time()
        begin = self._sent * SAMPLES
        chunk = self.samples[begin : begin + SAMPLES]
        if len(chunk) < SAMPLES:
            self.finished.set()
            chunk = np.concatenate((chunk, np.zeros(SAMPLES - len(chunk), np.int16)))
        frame = av.AudioFrame(format="s16", layout="mono", samples=SAMPLES)
        frame.planes[0].update(chunk.tobytes())
        frame.sample_rate = RATE
        frame.pts = begin
        frame.time_base = fractions.Fraction(1, RATE)
        self._sent += 1
        return frame
