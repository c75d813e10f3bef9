"""From transcribed tracks to the package's captions: WebVTT per language and a transcript.

Pure functions. A transcript holds what one audio track said, timed from
the start of its file; the track's offset puts it on the recording's clock
(pauses leave no gap in a captured file, so that clock already skips them),
and the package's trim shifts and cuts it. Segments longer than a caption
should be are split at word boundaries, by the words' own times.

Captions name their speaker twice: a WebVTT voice span (`<v Name>`, for
players and tools that read it) and, each time the speaker changes, the name
in front of the words (players do not show voice spans). Names and words are
escaped: a cue never holds markup that was not put there here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from recorder.timeline import vtt_time

MAX_CUE_MS = 7000
MAX_CUE_CHARS = 84
"""About two lines of a caption."""
LANGUAGE = re.compile(r"^[a-z]{2,3}$")


@dataclass(frozen=True)
class Cue:
    start_ms: int
    end_ms: int
    user_id: str
    speaker: str
    language: str
    text: str

    def record(self) -> dict[str, Any]:
        """The cue in transcript.json (and as the pseudonyms see it)."""
        return {
            "t": self.start_ms,
            "end": self.end_ms,
            "user_id": self.user_id,
            "speaker": self.speaker,
            "language": self.language,
            "text": self.text,
        }

    @classmethod
    def of(cls, record: dict[str, Any]) -> Cue:
        return cls(
            record["t"],
            record["end"],
            record["user_id"],
            record["speaker"],
            record["language"],
            record["text"],
        )


def cues_of(transcript: dict[str, Any], offset_ms: int, user_id: str, speaker: str) -> list[Cue]:
    """The cues of one track's transcript, on the recording's clock (untrimmed)."""
    out = []
    for piece in transcript.get("pieces", []):
        language = piece.get("language", "")
        language = language if LANGUAGE.match(language) else "und"
        for segment in piece.get("segments", []):
            for start, end, text in _split(segment):
                out.append(
                    Cue(offset_ms + start, offset_ms + end, user_id, speaker, language, text)
                )
    return out


def trimmed(cues: list[Cue], start_ms: int, end_ms: int) -> list[Cue]:
    """Cues within the package's span, on its clock; a cue across a cut keeps its part."""
    out = []
    for cue in cues:
        if cue.end_ms <= start_ms or cue.start_ms >= end_ms:
            continue
        begin = max(cue.start_ms, start_ms) - start_ms
        stop = min(cue.end_ms, end_ms) - start_ms
        out.append(_with_times(cue, begin, max(stop, begin + 1)))
    return sorted(out, key=lambda c: (c.start_ms, c.end_ms, c.user_id))


def _with_times(cue: Cue, start_ms: int, end_ms: int) -> Cue:
    return Cue(start_ms, end_ms, cue.user_id, cue.speaker, cue.language, cue.text)


def _split(segment: dict[str, Any]) -> list[tuple[int, int, str]]:
    """A segment as caption-sized pieces: at most MAX_CUE_MS and MAX_CUE_CHARS each."""
    start, end, text = int(segment["start_ms"]), int(segment["end_ms"]), str(segment["text"])
    words = segment.get("words") or []
    if (end - start <= MAX_CUE_MS and len(text) <= MAX_CUE_CHARS) or not words:
        return [(start, max(end, start + 1), text)]
    pieces: list[tuple[int, int, str]] = []
    group: list[dict[str, Any]] = []
    for word in words:
        if group and _too_long(group, word):
            pieces.append(_joined(group))
            group = []
        group.append(word)
    pieces.append(_joined(group))
    return pieces


def _too_long(group: list[dict[str, Any]], word: dict[str, Any]) -> bool:
    chars = sum(len(w["text"]) + 1 for w in group) + len(word["text"])
    return chars > MAX_CUE_CHARS or int(word["end_ms"]) - int(group[0]["start_ms"]) > MAX_CUE_MS


def _joined(words: list[dict[str, Any]]) -> tuple[int, int, str]:
    start, end = int(words[0]["start_ms"]), int(words[-1]["end_ms"])
    return start, max(end, start + 1), " ".join(str(w["text"]) for w in words)


def languages(cues: list[Cue]) -> list[str]:
    """The languages spoken, the most captioned first."""
    counts: dict[str, int] = {}
    for cue in cues:
        counts[cue.language] = counts.get(cue.language, 0) + 1
    return sorted(counts, key=lambda lang: (-counts[lang], lang))


def webvtt(cues: list[Cue]) -> str:
    lines = ["WEBVTT", ""]
    previous = None
    for i, cue in enumerate(cues, start=1):
        said = _escape(cue.text)
        if cue.user_id != previous:
            said = f"{_escape(cue.speaker)}: {said}"
        previous = cue.user_id
        lines += [str(i), f"{vtt_time(cue.start_ms)} --> {vtt_time(cue.end_ms)}"]
        lines += [f"<v {_escape(cue.speaker)}>{said}</v>", ""]
    return "\n".join(lines)


def _escape(text: str) -> str:
    flat = " ".join(text.split())
    return flat.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def file_name(language: str) -> str:
    return f"captions-{language}.vtt"
