"""Publishing a recording: collect -> check -> captions -> build -> publish, each idempotent.

Each stage reads what the one before it left in `work/`, writes its own
output there, then a marker in `stages/`. A stage with a marker is never run
again, so the pipeline resumes where a crash stopped it and re-running it
does nothing. The package is assembled in `work/package` and appears under
`package/` by a rename: nothing is ever half-written under the published
name. Heavy stages run in a thread, one recording at a time, so live classes
keep their share of the CPU; transcribing (the captions stage, unless turned
off) runs in a worker process of lower priority (recorder/transcribe.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from classroom import events as e
from classroom.pseudonyms import Pseudonyms
from classroom.replay import RecordedPoll, encode_polls
from journal import Journal
from journal.atomic import write_atomically
from recorder import captions as cc
from recorder.composite import Chapter, Source, compose
from recorder.layout import plan
from recorder.package import decodes, package_name, probe, remux
from recorder.picture import Picture
from recorder.slides_package import HISTORY as BOARD_HISTORY
from recorder.slides_package import package_slides
from recorder.store import RecordingStore
from recorder.timeline import Span, chapters_vtt, collect, dumps, find_span
from recorder.transcribe import Captions, Job, TranscriptionFailed, transcribe
from slides.store import DeckStore

log = logging.getLogger(__name__)

STAGES = ("collect", "check", "captions", "build", "publish")
BUILT = ("build", "publish")
"""Stages whose output depends on the publish options (their markers name them)."""
DEFAULT_OPTIONS: dict[str, Any] = {"pseudonyms": False, "trim_start_ms": None, "trim_end_ms": None}
MAX_ROUNDS = 5


T = TypeVar("T")


async def _io(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """A file operation, off the event loop: a slow disk must not stall every class."""
    return await asyncio.to_thread(call, *args, **kwargs)


class PublishError(Exception):
    """A stage cannot go on; its message says why, for the status."""


class Interrupted(Exception):
    """The server is stopping: the stage gives up, to be resumed on the next start."""


class Publisher:
    def __init__(
        self,
        store: RecordingStore,
        journal: Journal,
        captions: Captions | None = None,
        decks: DeckStore | None = None,
    ) -> None:
        self.store = store
        self.decks = decks
        """The class's slides, whose shown pages go into the package."""
        self.journal = journal
        self.captions = captions or Captions()
        self.stages = tuple(s for s in STAGES if s != "captions" or self.captions.on)
        self._running: dict[str, asyncio.Task[None]] = {}
        self._one_at_a_time = asyncio.Semaphore(1)
        self._stopping = threading.Event()
        """Seen by stages running in a thread, which cannot be cancelled from outside."""
        self.on_published: list[Callable[[dict[str, Any]], None]] = []
        """Called with the recording's metadata each time its package is complete."""

    async def start(self, recording_id: str) -> asyncio.Task[None]:
        """Start (or join) the pipeline of a recording."""
        task = self._running.get(recording_id)
        if task is None or task.done():
            if not await _io(self._all_done, recording_id):
                # Say so before answering, so a client never reads a stale "published".
                await _io(self.store.update, recording_id, state="publishing", error=None)
            task = self._running.get(recording_id)
            if task is None or task.done():  # nobody started it while we wrote
                task = asyncio.create_task(self._run(recording_id))
                self._running[recording_id] = task
        return task

    async def set_options(self, recording_id: str, options: dict[str, Any]) -> None:
        """New publish options redo the build (the collected journal stays valid).

        The state turns to "publishing" in the same write: a package built with
        other options (say, without pseudonyms) is never taken for this one.
        """
        wanted = DEFAULT_OPTIONS | options
        if await _io(self._options, recording_id) != wanted:
            await _io(
                self.store.update, recording_id, options=wanted, state="publishing", error=None
            )

    def _options(self, recording_id: str) -> dict[str, Any]:
        meta = self.store.load(recording_id) or {}
        options: dict[str, Any] = DEFAULT_OPTIONS | meta.get("options", {})
        return options

    async def _run(self, recording_id: str) -> None:
        async with self._one_at_a_time:
            try:
                # Options changed while a build ran leave its marker stale: build again.
                for _ in range(MAX_ROUNDS):
                    if await _io(self._all_done, recording_id):
                        break
                    await self._stages(recording_id)
                else:
                    raise PublishError("the publish options kept changing; publish again")
                await _io(self._status, recording_id, "published", "publish", 100)
                meta = await _io(self.store.load, recording_id) or {"id": recording_id}
                for hook in self.on_published:
                    hook(meta)
            except Exception as exc:
                log.exception("publishing %s failed", recording_id)
                await _io(self.store.update, recording_id, state="failed", error=str(exc))

    async def _stages(self, recording_id: str) -> None:
        for stage in self.stages:
            if await _io(self._done, recording_id, stage):
                continue
            await _io(self._status, recording_id, "publishing", stage, 0)
            options = await getattr(self, f"_{stage}")(recording_id)
            await _io(self._mark, recording_id, stage, options)

    async def _collect(self, recording_id: str) -> None:
        meta = await _io(self.store.load, recording_id) or {}
        class_id = meta.get("class_id", "")
        history = [e.decode(data) async for _, data in self.journal.read(class_id)]
        span = find_span(history, recording_id)
        if span is None:
            raise PublishError("the class journal has no such recording")
        collected = await asyncio.to_thread(collect, history, span)
        body = {
            "span": {"started": span.started, "stopped": span.stopped, "pauses": span.pauses},
            "title": collected.title,
            "events": collected.events,
            "chapters": collected.chapters,
            "tracks": collected.tracks,
            "participants": collected.participants,
            "hosts": sorted(collected.hosts),
            "polls": msgspec.to_builtins(collected.polls),
        }
        await _io(self._write, recording_id, "collected.json", dumps(body))

    async def _check(self, recording_id: str) -> None:
        collected = await _io(self._read, recording_id, "collected.json")
        media = self.store.media_dir(recording_id)

        def check() -> dict[str, Any]:
            kept, problems = [], []
            for track in collected["tracks"]:
                found = probe(media / track["file"])
                if found is None or not decodes(media / track["file"]):
                    problems.append(f"{track['file']}: no decodable media")
                    continue
                kept.append(track | {"duration_ms": found.duration_ms, "codec": found.codec})
            return {"tracks": kept, "problems": problems}

        await _io(self._write, recording_id, "checked.json", dumps(await _io(check)))

    async def _captions(self, recording_id: str) -> None:
        """Transcribe every audio track; a failure is noted and publishing goes on without."""
        checked = await _io(self._read, recording_id, "checked.json")
        media = self.store.media_dir(recording_id)
        folder = await _io(self._work, recording_id, "transcripts")
        jobs = [
            Job(
                str(media / t["file"]),
                str(folder / f"{Path(t['file']).stem}.json"),
                t["duration_ms"],
            )
            for t in checked["tracks"]
            if t["kind"] == "audio"
        ]

        def progress(fraction: float) -> None:  # on the loop: the write goes to a thread
            self.store.later(self._status, recording_id, None, "captions", 100 * fraction)

        summary: dict[str, Any] = {"engine": None, "error": None}
        if jobs:
            try:
                summary["engine"] = await transcribe(jobs, self.captions.model, progress)
            except TranscriptionFailed as exc:
                log.error("captions of %s: %s", recording_id, exc)
                summary["error"] = str(exc)
        await _io(self._write, recording_id, "captions.json", dumps(summary))
        for stage in BUILT:  # a package built before this stage has no captions: build again
            await _io(self._marker(recording_id, stage).unlink, missing_ok=True)

    async def _build(self, recording_id: str) -> dict[str, Any]:
        """Build with the options as they are now; returns them, for the stage's marker."""
        collected = await _io(self._read, recording_id, "collected.json")
        checked = await _io(self._read, recording_id, "checked.json")
        options = await _io(self._options, recording_id)
        build = Build(self.store, recording_id, collected, checked, options, self.decks)

        shown = [-1]

        def progress(percent: float) -> None:
            if self._stopping.is_set():
                raise Interrupted("the server is stopping")
            if round(percent) != shown[0]:  # one status write per percent, not per frame
                shown[0] = round(percent)
                self._status(recording_id, None, "build", percent)

        await _io(build.run, progress)
        return options

    async def _publish(self, recording_id: str) -> dict[str, Any] | None:
        return await _io(self._swap_package, recording_id)

    def _swap_package(self, recording_id: str) -> dict[str, Any] | None:
        """Put the built package in place (in one rename) and say what it was built with."""
        built = self._work(recording_id) / "package"
        if not built.exists():
            raise PublishError("nothing was built")
        target = self.store.package_dir(recording_id)
        old = target.with_name(".package-old")
        if target.exists():
            os.replace(target, old)
        os.replace(built, target)
        shutil.rmtree(old, ignore_errors=True)
        built_with: dict[str, Any] | None = self._marked_options(recording_id, "build")
        return built_with

    # -- files ----------------------------------------------------------------

    def _work(self, recording_id: str, *inside: str) -> Path:
        work = self.store.folder(recording_id).joinpath("work", *inside)
        work.mkdir(parents=True, exist_ok=True)
        return work

    def _write(self, recording_id: str, name: str, data: bytes) -> None:
        write_atomically(self._work(recording_id) / name, data)

    def _read(self, recording_id: str, name: str) -> Any:
        return json.loads((self._work(recording_id) / name).read_bytes())

    def _marker(self, recording_id: str, stage: str) -> Path:
        return self.store.folder(recording_id) / "stages" / f"{stage}.done"

    def _mark(self, recording_id: str, stage: str, options: dict[str, Any] | None) -> None:
        marker = self._marker(recording_id, stage)
        marker.parent.mkdir(exist_ok=True)
        write_atomically(marker, dumps({"at": int(time.time() * 1000), "options": options}))

    def _marked_options(self, recording_id: str, stage: str) -> Any:
        """The options a stage's output was made with; None if it has not run."""
        try:
            marked = json.loads(self._marker(recording_id, stage).read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        if not isinstance(marked, dict):
            return None
        # Markers from before options were noted: options changes then removed them.
        return marked.get("options", self._options(recording_id))

    def _done(self, recording_id: str, stage: str) -> bool:
        if stage in BUILT:
            return bool(self._marked_options(recording_id, stage) == self._options(recording_id))
        return self._marker(recording_id, stage).exists()

    def _all_done(self, recording_id: str) -> bool:
        return all(self._done(recording_id, stage) for stage in self.stages)

    def _status(self, recording_id: str, state: str | None, stage: str, percent: float) -> None:
        changes: dict[str, Any] = {"stage": stage, "percent": round(percent), "error": None}
        if state is not None:
            changes["state"] = state
        self.store.update(recording_id, **changes)

    async def close(self) -> None:
        self._stopping.set()
        for task in self._running.values():
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)


class Build:
    """The build stage: media, timeline, chapters, manifest and the composite video."""

    def __init__(
        self,
        store: RecordingStore,
        recording_id: str,
        collected: dict[str, Any],
        checked: dict[str, Any],
        options: dict[str, Any],
        decks: DeckStore | None = None,
    ) -> None:
        self.store = store
        self.decks = decks
        self.recording_id = recording_id
        self.collected = collected
        self.checked = checked
        span = collected["span"]
        self.span = Span(recording_id, span["started"], span["stopped"], span["pauses"])
        total = self.span.duration_ms
        self.start = max(0, min(int(options.get("trim_start_ms") or 0), total))
        end = options.get("trim_end_ms")
        self.end = total if end is None else max(self.start, min(int(end), total))
        self.pseudonyms = bool(options.get("pseudonyms"))
        self.out = store.folder(recording_id) / "work" / "package"
        self.problems: list[str] = []

    @property
    def duration_ms(self) -> int:
        return self.end - self.start

    def run(self, progress: Any) -> None:
        shutil.rmtree(self.out, ignore_errors=True)
        self.out.mkdir(parents=True)
        tracks = self._media()
        progress(10)
        events = self._events()
        seen = (tracks, events)  # the composite plans with the real ids, names as below
        participants = [
            {"user_id": u, "name": n} for u, n in self.collected["participants"].items()
        ]
        aliases = Pseudonyms(frozenset(self.collected["hosts"]))
        if self.pseudonyms:
            events = _pseudonymised(aliases, events)
            named = [aliases.record("manifest:participant", p) for p in participants]
            shown = {p["user_id"]: a["name"] for p, a in zip(participants, named, strict=True)}
            participants = named
            tracks = [aliases.record("manifest:track", t) for t in tracks]
        else:
            shown = {p["user_id"]: p["name"] for p in participants}
        meta = self.store.load(self.recording_id) or {}
        slides, slide_chapters = package_slides(
            self.decks, meta.get("class_id", ""), events, self.out
        )
        chapters = self._chapters(slide_chapters)
        captions = self._captions(aliases if self.pseudonyms else None)
        self._write("timeline.json", dumps({"events": events}))
        self._write("chapters.vtt", chapters_vtt(chapters, self.duration_ms).encode())
        composite = self._composite(*seen, shown, chapters, lambda p: progress(10 + 85 * p))
        manifest = self._manifest(participants, tracks, chapters) | composite | captions
        manifest["slides"] = slides
        manifest["slide_images"] = sorted(p.name for p in self.out.glob("slide-*.webp"))
        self._write("manifest.json", dumps(manifest))
        self._replay_polls()

    def _replay_polls(self) -> None:
        """The recorded polls for the replay's stream, on the trimmed clock. Kept beside the
        package, not in it: they hold answer keys and live tallies, which a learner sees
        only once they have voted (anything in the package is theirs to fetch)."""
        polls = msgspec.convert(self.collected.get("polls", []), list[RecordedPoll])
        kept = [
            dataclasses.replace(p, at_ms=p.at_ms - self.start)
            for p in polls
            if self.start <= p.at_ms <= self.end
        ]
        write_atomically(self.store.replay_polls(self.recording_id), encode_polls(kept))

    def _media(self) -> list[dict[str, Any]]:
        media = self.store.media_dir(self.recording_id)
        tracks = []
        for index, track in enumerate(self.checked["tracks"], start=1):
            name = package_name(index, track["kind"], track["codec"])
            offset = track["offset_ms"] - self.start
            shift, duration = remux(
                media / track["file"],
                self.out / name,
                max(0, -offset),
                self.end - track["offset_ms"],
            )
            if duration <= 0:
                (self.out / name).unlink(missing_ok=True)
                continue
            tracks.append(
                {
                    "file": name,
                    "user_id": track["user_id"],
                    "kind": track["kind"],
                    "source": track["source"],
                    "offset_ms": max(0, offset) + shift,
                    "duration_ms": duration,
                }
            )
        return tracks

    def _events(self) -> list[dict[str, Any]]:
        """The entries within the trim; the board's before it too, at 0 (what it showed then)."""
        return [
            entry | {"t": max(0, entry["t"] - self.start)}
            for entry in self.collected["events"]
            if self.start <= entry["t"] <= self.end
            or (entry["t"] < self.start and entry["name"] in BOARD_HISTORY)
        ]

    def _chapters(self, slides: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The recording's chapters and the slides' (already in package time), in order."""
        kept = [
            c | {"t_ms": c["t_ms"] - self.start}
            for c in self.collected["chapters"]
            if self.start <= c["t_ms"] <= self.end
        ]
        kept = sorted(kept + slides, key=lambda c: c["t_ms"])
        if not kept or kept[0]["t_ms"] > 0:
            kept.insert(0, {"t_ms": 0, "title": "Start"})
        return kept

    def _captions(self, aliases: Pseudonyms | None) -> dict[str, Any]:
        """captions-<language>.vtt and transcript.json from the captions stage's transcripts.

        Returns the manifest's entries for them (none when the stage did not run).
        """
        work = self.store.folder(self.recording_id) / "work"
        try:
            summary = json.loads((work / "captions.json").read_bytes())
        except FileNotFoundError:
            return {"captions": [], "transcript": None}
        if summary.get("error"):
            self.problems.append(f"captions: {summary['error']}")
        names = self.collected["participants"]
        cues: list[cc.Cue] = []
        for track in self.checked["tracks"]:
            found = work / "transcripts" / f"{Path(track['file']).stem}.json"
            if track["kind"] == "audio" and found.exists():
                name = names.get(track["user_id"], "Someone")
                transcript = json.loads(found.read_bytes())
                cues += cc.cues_of(transcript, track["offset_ms"], track["user_id"], name)
        cues = cc.trimmed(cues, self.start, self.end)
        if aliases is not None:
            cues = [cc.Cue.of(aliases.record("transcript:cue", c.record())) for c in cues]
        if not cues:
            return {"captions": [], "transcript": None}
        entries = []
        for language in cc.languages(cues):
            name = cc.file_name(language)
            self._write(name, cc.webvtt([c for c in cues if c.language == language]).encode())
            entries.append({"language": language, "file": name})
        transcript = {"engine": summary.get("engine"), "cues": [c.record() for c in cues]}
        self._write("transcript.json", dumps(transcript))
        return {"captions": entries, "transcript": "transcript.json"}

    def _composite(
        self,
        tracks: list[dict[str, Any]],
        events: list[dict[str, Any]],
        names: dict[str, str],
        chapters: list[dict[str, Any]],
        progress: Any,
    ) -> dict[str, str | None]:
        """composite.webm and composite.mp4: the class as learners saw it, each camera named
        (`names`: user id -> name, as the package names them); their manifest entries (None
        without anything to show or hear)."""
        scenes = plan(self.duration_ms, tracks, events, self.collected["hosts"])
        audio = [
            Source(self.out / t["file"], t["offset_ms"]) for t in tracks if t["kind"] == "audio"
        ]
        if all(scene.empty for scene in scenes) and not audio:
            return {"composite": None, "composite_mp4": None}
        videos = [t for t in tracks if t["kind"] == "video"]
        picture = Picture(
            scenes,
            videos={t["file"]: self.out / t["file"] for t in videos},
            offsets={t["file"]: t["offset_ms"] for t in videos},
            events=events,
            slides=self.out,
            names={
                t["file"]: names.get(t["user_id"], "") for t in videos if t["source"] != "screen"
            },
        )
        marks = [Chapter(c["t_ms"], c["title"]) for c in chapters]
        webm, mp4 = self.out / "composite.webm", self.out / "composite.mp4"
        compose(webm, self.duration_ms, picture, audio, progress, marks, mp4)
        return {"composite": webm.name, "composite_mp4": mp4.name}

    def _manifest(
        self,
        participants: list[dict[str, Any]],
        tracks: list[dict[str, Any]],
        chapters: list[dict[str, Any]],
    ) -> dict[str, Any]:
        meta = self.store.load(self.recording_id) or {}
        return {
            "id": self.recording_id,
            "class_id": meta.get("class_id"),
            "title": self.collected["title"],
            "started_at": self.span.started + self.start,
            "duration_ms": self.duration_ms,
            "participants": participants,
            "tracks": tracks,
            "chapters": chapters,
            "problems": self.checked.get("problems", []) + self.problems,
            "notes": meta.get("notes", []),
        }

    def _write(self, name: str, data: bytes) -> None:
        write_atomically(self.out / name, data)


def _pseudonymised(aliases: Pseudonyms, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The timeline under pseudonyms; an entry of a kind without known references is left out."""
    out = []
    for entry in events:
        data = aliases.message(entry["name"], entry["data"])
        if data is not None:
            out.append(entry | {"data": data})
    return out
