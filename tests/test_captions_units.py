"""Captions from transcripts (pure), and how a track is cut into pieces for the engine."""

from __future__ import annotations

import itertools
import json
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from classroom.pseudonyms import Pseudonyms
from recorder import captions as cc
from recorder.speech import RATE, Segment, Word
from recorder.transcribe import Job, pieces, quietest, transcribe_track


def segment(start: int, end: int, text: str, words: list[tuple[int, int, str]] = ()) -> dict:  # type: ignore[assignment, type-arg]
    listed = [{"start_ms": a, "end_ms": b, "text": t} for a, b, t in words]
    return {"start_ms": start, "end_ms": end, "text": text, "words": listed}


def transcript(*segments: dict, language: str = "en") -> dict:  # type: ignore[type-arg]
    return {"pieces": [{"start_ms": 0, "language": language, "segments": list(segments)}]}


def test_cues_are_on_the_recording_clock_and_split_to_caption_size() -> None:
    words = [(i * 500, i * 500 + 400, f"word{i}") for i in range(30)]
    long = segment(0, 15_000, " ".join(w[2] for w in words), words)
    cues = cc.cues_of(transcript(long), 2000, "u1", "Ann")
    assert len(cues) > 2
    assert cues[0].start_ms == 2000 and cues[-1].end_ms == 2000 + 29 * 500 + 400
    for cue in cues:
        assert len(cue.text) <= cc.MAX_CUE_CHARS and cue.end_ms - cue.start_ms <= cc.MAX_CUE_MS
    assert " ".join(c.text for c in cues) == long["text"]


def test_trims_shift_and_cut_cues() -> None:
    cues = cc.cues_of(transcript(segment(0, 1000, "a"), segment(3000, 5000, "b")), 0, "u", "U")
    kept = cc.trimmed(cues, 4000, 10_000)
    assert [(c.start_ms, c.end_ms, c.text) for c in kept] == [(0, 1000, "b")]
    assert cc.trimmed(cues, 0, 500)[0].end_ms == 500


def test_webvtt_names_speakers_and_escapes_what_they_said() -> None:
    said = transcript(segment(0, 900, "x < y & z --> w"), segment(1000, 1900, "again"))
    cues = cc.cues_of(said, 0, "ann", "Ann <b>")
    cues += cc.cues_of(transcript(segment(2000, 2500, "hello")), 0, "bo", "Bo")
    vtt = cc.webvtt(cc.trimmed(cues, 0, 10_000))
    assert vtt.startswith("WEBVTT\n\n1\n00:00:00.000 --> 00:00:00.900\n")
    blocks = vtt.split("\n\n")[1:]
    assert blocks[0].splitlines()[2] == (
        "<v Ann &lt;b&gt;>Ann &lt;b&gt;: x &lt; y &amp; z --&gt; w</v>"
    )
    assert blocks[1].splitlines()[2] == "<v Ann &lt;b&gt;>again</v>"  # same speaker: no name
    assert blocks[2].splitlines()[2] == "<v Bo>Bo: hello</v>"


def test_languages_get_a_file_each_and_odd_codes_are_undetermined() -> None:
    cues = cc.cues_of(transcript(segment(0, 1, "hola"), language="es"), 0, "u", "U")
    cues += cc.cues_of(transcript(segment(5, 6, "hi"), segment(7, 8, "yo")), 0, "u", "U")
    cues += cc.cues_of(transcript(segment(9, 10, "?"), language="../x"), 0, "u", "U")
    assert cc.languages(cues) == ["en", "es", "und"]
    assert cc.file_name("und") == "captions-und.vtt"


def test_pseudonyms_rename_the_speaker_of_every_cue() -> None:
    aliases = Pseudonyms(frozenset({"teacher"}))
    cue = cc.cues_of(transcript(segment(0, 1, "hi")), 0, "ann", "Ann Lee")[0]
    renamed = cc.Cue.of(aliases.record("transcript:cue", cue.record()))
    assert (renamed.user_id, renamed.speaker, renamed.text) == ("p1", "Participant 1", "hi")
    host = cc.cues_of(transcript(segment(0, 1, "hi")), 0, "teacher", "Dr T")[0]
    assert cc.Cue.of(aliases.record("transcript:cue", host.record())).speaker == "Dr T"


def opus_track(path: Path, seconds: float, gap_at_s: float | None = None) -> None:
    """An Opus track of noise bursts and silences; optionally a 2 s hole in its timestamps."""
    rng = np.random.default_rng(1)
    with av.open(str(path), "w", format="matroska") as out:
        stream = out.add_stream("libopus", rate=48000)
        frames = int(seconds * 50)
        pts = 0
        for i in range(frames):
            if gap_at_s is not None and i == int(gap_at_s * 50):
                pts += 2 * 48000
            loud = (i // 25) % 2 == 0  # half a second of noise, half a second of silence
            level = 0.3 if loud else 0.0
            samples = (rng.standard_normal(960) * level * 32767).clip(-32768, 32767)
            frame = av.AudioFrame.from_ndarray(
                samples.astype(np.int16).reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate, frame.pts, frame.time_base = 48000, pts, Fraction(1, 48000)
            pts += 960
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def test_pieces_cut_at_quiet_moments_and_keep_gaps_as_silence(tmp_path: Path) -> None:
    track = tmp_path / "a.mkv"
    opus_track(track, 10, gap_at_s=4)
    cut = list(pieces(track, piece_s=3))
    total = sum(len(samples) for _, samples in cut)
    assert abs(total - 12 * RATE) < RATE // 10  # ten seconds of sound and the two-second hole
    for (start, samples), (after, _) in itertools.pairwise(cut):
        assert after == start + len(samples) * 1000 // RATE
        tail = samples[-RATE // 20 :]
        assert float(np.sqrt(np.mean(tail**2))) < 0.05  # cut in a silence, not in a burst
    resumed = list(pieces(track, from_ms=cut[1][0], piece_s=3))
    assert resumed[0][0] == cut[1][0] and np.allclose(resumed[0][1][:100], cut[1][1][:100])


def test_quietest_finds_the_silence() -> None:
    samples = np.ones(RATE * 40, np.float32)
    samples[RATE * 25 : RATE * 26] = 0
    assert RATE * 25 <= quietest(samples) <= RATE * 26


class Recorded:
    """An engine that notes what it was given: the speech engine's interface, for the files."""

    name = "noted"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def transcribe(self, samples: np.ndarray) -> tuple[str, list[Segment]]:
        self.calls.append(len(samples))
        return "en", [Segment(100, 200, "hi", (Word(100, 200, "hi"),))]


def test_a_track_resumes_after_its_last_written_piece(tmp_path: Path) -> None:
    track, out = tmp_path / "a.mkv", tmp_path / "a.json"
    opus_track(track, 8)
    job = Job(str(track), str(out), 8000)
    engine = Recorded()
    steps = transcribe_track(engine, job, piece_s=3)
    next(steps)  # one piece written, then the worker dies
    steps.close()
    written = json.loads(out.read_bytes())
    assert not written["finished"] and len(written["pieces"]) == 1
    again = Recorded()
    list(transcribe_track(again, job, piece_s=3))
    final = json.loads(out.read_bytes())
    assert final["finished"] and len(final["pieces"]) == 1 + len(again.calls)
    starts = [p["start_ms"] for p in final["pieces"]]
    assert starts == sorted(starts) and final["pieces"][1]["segments"][0]["start_ms"] > 100
    list(transcribe_track(Recorded(), job, piece_s=3))  # finished: nothing runs
    assert json.loads(out.read_bytes()) == final
