"""Captions: word error rate and CPU cost of each speech-to-text engine that installs here.

A lecture made on this machine: espeak-ng (en-us) says SENTENCES one after
the other with two seconds of silence between them; the sound is encoded to
Opus at 48 kHz in Matroska, as the recorder captures a microphone, and goes
through the captions stage's own reading (recorder/transcribe.py: decoded,
placed, 16 kHz mono, cut into pieces). Each engine transcribes it on one
thread, as the server's worker does by default. The word error rate is
jiwer's, on lower-cased words without punctuation; CPU seconds are the
process's own (`time.process_time`), loading the model apart.

Engines: the bundled Whisper tiny.en (the default), pocketsphinx with the
English model its wheel carries (the `bench` extra installs it; its
endpointer cuts utterances), and any `--model` directory given.
Synthetic speech is clean and regular: figures on real lecture audio
(accents, room echo, several voices) will be worse.

    python -m bench.captions [--repeat 2] [--sentences 16] [--model PATH]
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from bench.all import write_section
from bench.harness import machine, progress, table
from recorder.speech import RATE, Engine, ModelChoice, Samples, Segment, WhisperEngine
from recorder.transcribe import pieces
from tests.speech import said

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- bench:captions:begin -->", "<!-- bench:captions:end -->"
SENTENCES = [
    "today we will talk about the speed of light in water",
    "please open your notebooks to the second chapter",
    "the experiment shows that energy is always conserved",
    "a prism splits white light into many colors",
    "who can tell me what a wavelength is",
    "we measured the temperature every ten minutes",
    "the results of the quiz will be posted on friday",
    "remember to bring a calculator to the next class",
    "this graph shows how the population grew over time",
    "the cell membrane controls what enters and leaves the cell",
    "let us take a short break and come back in five minutes",
    "your essays are due at the end of next week",
    "the angle of incidence equals the angle of reflection",
    "we will start the lecture with a short review",
    "can everyone hear me at the back of the room",
    "the final exam covers every topic from this term",
]
GAP_S = 2.0


def lecture(folder: Path, sentences: list[str], repeat: int) -> tuple[Path, float]:
    """The sentences spoken `repeat` times, as an Opus track; returns it and its seconds."""
    samples = np.tile(said(sentences, lead_s=0, gap_s=GAP_S).samples, repeat)
    track = folder / "lecture.mkv"
    with av.open(str(track), "w", format="matroska") as out:
        stream: Any = out.add_stream("libopus", rate=48000)
        stream.bit_rate = 32000
        for start in range(0, len(samples), 960):
            chunk = samples[start : start + 960]
            chunk = np.pad(chunk, (0, 960 - len(chunk)))
            frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 48000, start, Fraction(1, 48000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return track, len(samples) / 48000


class Pocketsphinx:
    """pocketsphinx 5 with the en-us model of its wheel, utterances cut by its endpointer."""

    name = "pocketsphinx en-us (bundled)"

    def __init__(self) -> None:
        from pocketsphinx import Decoder, Segmenter

        self._decoder = Decoder()
        self._segmenter = Segmenter(sample_rate=RATE)

    def transcribe(self, samples: Samples) -> tuple[str, list[Segment]]:
        import io

        pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16).tobytes()
        out = []
        for speech in self._segmenter.segment(io.BytesIO(pcm)):
            self._decoder.start_utt()
            self._decoder.process_raw(speech.pcm, full_utt=True)
            self._decoder.end_utt()
            hyp = self._decoder.hyp()
            if hyp is not None and hyp.hypstr:
                start, end = round(speech.start_time * 1000), round(speech.end_time * 1000)
                out.append(Segment(start, end, hyp.hypstr))
        return "en", out


def words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9' ]", " ", text.lower()).split())


def measure(make: Any, track: Path, seconds: float, sentences: list[str]) -> dict[str, Any]:
    import jiwer

    started = time.process_time()
    engine: Engine = make()
    load = time.process_time() - started
    said: list[str] = []
    cpu = 0.0
    for _, samples in pieces(track):
        started = time.process_time()
        _, segments = engine.transcribe(samples)
        cpu += time.process_time() - started
        said += [s.text for s in segments]
    reference = words(" ".join(sentences))
    error = jiwer.wer(reference, words(" ".join(said)))
    return {
        "engine": engine.name,
        "wer": error,
        "cpu_per_min": 60 * cpu / seconds,
        "load_s": load,
        "sample": said[:3],
    }


def engines(model: Path | None) -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = [("whisper", lambda: WhisperEngine(ModelChoice()))]
    try:
        import pocketsphinx  # noqa: F401
    except ImportError:
        progress("pocketsphinx is not installed (pip install -e '.[bench]'): left out")
    else:
        found.append(("pocketsphinx", Pocketsphinx))
    if model is not None:
        found.append(("model", lambda: WhisperEngine(ModelChoice(path=model))))
    return found


def render(results: list[dict[str, Any]], sentences: list[str], seconds: float, repeat: int) -> str:
    rows = [
        [
            r["engine"] + (" (default)" if i == 0 else ""),
            f"{100 * r['wer']:.1f} %",
            f"{r['cpu_per_min']:.1f}",
            f"{r['load_s']:.1f}",
        ]
        for i, r in enumerate(results)
    ]
    head = ["engine", "word error rate", "CPU s per minute of audio", "model load, CPU s"]
    return "\n\n".join(
        [
            BEGIN,
            f"_Generated by `python -m bench.captions` on {time.strftime('%Y-%m-%d')}: "
            f"{len(sentences)} sentences ({len(' '.join(sentences).split())} words) "
            f"spoken by espeak-ng, {repeat} times ({seconds / 60:.1f} minutes of audio, "
            f"{GAP_S:.0f} s of silence between sentences), Opus at 48 kHz, one thread. "
            f"Machine: {machine()}._",
            table(head, rows),
            END,
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=2, help="times the sentences are said")
    parser.add_argument("--sentences", type=int, default=len(SENTENCES), help="the first N only")
    parser.add_argument("--model", type=Path, help="also a local CTranslate2 Whisper model")
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    sentences = SENTENCES[: args.sentences]
    with tempfile.TemporaryDirectory() as folder:
        track, seconds = lecture(Path(folder), sentences, args.repeat)
        results = []
        for name, make in engines(args.model):
            progress(f"captions: {name}")
            results.append(measure(make, track, seconds, sentences * args.repeat))
            progress(f"captions: {name}: {results[-1]}")
    section = render(results, sentences, seconds, args.repeat)
    write_section(args.doc, section, BEGIN, END)
    print(section, flush=True)


if __name__ == "__main__":
    main()
