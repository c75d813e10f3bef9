"""What learners saw, as scenes: the plan of the composite video's picture.

Pure. From the package's tracks (when each camera and screen ran) and its
timeline (who spoke, what the main room's board showed), the recording is
cut into scenes, each with the place of every picture in it:

- while a screen is shared, the screen large on the left; beside it, the
  active speaker's camera and below that a strip of the other cameras;
- else while the main room's board shows a page (a slide, or a blank page
  to draw on), that page large, with the speaker and the strip beside it;
- else a gallery of every camera, the one speaking marked.

Cameras of people in a breakout room are left out while they are there:
the main room did not see them.

A muted camera keeps its place without a picture, as in the class.

The featured camera is the speaker's, else the one featured before while it
runs, else the first in order (hosts' cameras first, then by start): a
pause in speech does not make the picture jump. The pictures are painted by
recorder/picture.py; the ink on a page changes within a scene and is
folded there, from the same timeline.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

MAIN_ROOM = "main"
SIZE = (1280, 720)
"""The composite's picture: 720p, which keeps a shared screen's text readable."""
SIDE = 320
"""Width of the column beside a large screen or page."""
FEATURED_HEIGHT = 240
STRIP_COLUMNS = 2
STRIP_MAX = 8
"""Cameras in the strip below the featured one (2 columns of 4 at 160x120)."""
GALLERY_MAX = 16
SEEN = frozenset(
    {"rtc:speaker", "rtc:muted", "slides:state", "slides:view", "participant:updated"}
    | {"participant:joined"}
)
"""The timeline's entries that change the picture's layout."""

Entry = dict[str, Any]
Kind = Literal["screen", "page", "gallery"]


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True)
class Tile:
    track: str
    """The file of the camera track shown here."""
    rect: Rect
    speaking: bool = False
    dark: bool = False
    """The camera is muted: no picture, as the class saw it."""


@dataclass(frozen=True)
class View:
    """A page of the board and where it is looked at (recorder/ink.py paints it)."""

    deck_id: str | None
    page: int
    zoom: int = 100
    x: int = 5000
    y: int = 5000


@dataclass(frozen=True)
class Scene:
    start_ms: int
    end_ms: int
    kind: Kind
    main: Rect | None = None
    """Where the screen or the page goes."""
    screen: str | None = None
    """The shared screen's track file."""
    view: View | None = None
    tiles: tuple[Tile, ...] = ()

    @property
    def empty(self) -> bool:
        return self.screen is None and self.view is None and not self.tiles


@dataclass(frozen=True)
class Video:
    """A video track as the package lists it."""

    file: str
    user_id: str
    source: str
    start_ms: int
    end_ms: int

    @classmethod
    def of(cls, track: Entry) -> Video:
        start = int(track["offset_ms"])
        return cls(
            track["file"], track["user_id"], track["source"], start, start + track["duration_ms"]
        )


def plan(
    duration_ms: int,
    tracks: Sequence[Entry],
    events: Sequence[Entry],
    hosts: Iterable[str] = (),
) -> list[Scene]:
    """The scenes covering [0, duration_ms), in order; neighbours always differ."""
    hosted = set(hosts)
    videos = [Video.of(t) for t in tracks if t["kind"] == "video"]
    videos.sort(key=lambda v: (v.user_id not in hosted, v.start_ms, v.file))
    changes = _changes(duration_ms, videos, events)
    scenes: list[Scene] = []
    seen = _Seen()
    featured: str | None = None
    pending = iter(sorted(events, key=lambda entry: entry["t"]))
    entry = next(pending, None)
    for start, end in itertools.pairwise(changes):
        while entry is not None and entry["t"] <= start:
            seen.apply(entry)
            entry = next(pending, None)
        live = [v for v in videos if v.start_ms <= start < v.end_ms]
        cameras = [v for v in live if v.source != "screen" and v.user_id not in seen.away]
        featured = _featured(cameras, seen.speaker, featured)
        screens = [v for v in live if v.source == "screen"]
        screen = max(screens, key=lambda v: v.start_ms).file if screens else None
        scene = _scene(start, end, cameras, featured, seen, screen)
        if scenes and _same(scenes[-1], scene):
            scenes[-1] = dataclasses.replace(scenes[-1], end_ms=end)
        else:
            scenes.append(scene)
    return scenes


def _changes(duration_ms: int, videos: list[Video], events: Sequence[Entry]) -> list[int]:
    """Every time the picture may change, within the recording."""
    times = {0, duration_ms}
    times |= {v.start_ms for v in videos} | {v.end_ms for v in videos}
    times |= {int(entry["t"]) for entry in events if entry["name"] in SEEN}
    return sorted(t for t in times if 0 <= t <= duration_ms)


@dataclass
class _Seen:
    """What the timeline says so far: who speaks, whose camera is off, the main room's page."""

    speaker: str | None = None
    dark: set[str] = field(default_factory=set)
    """Users whose camera is muted: the class saw their tile without a picture."""
    view: View | None = None
    away: set[str] = field(default_factory=set)
    """Users in a breakout room: the main room did not see their camera."""

    def apply(self, entry: Entry) -> None:
        data = entry["data"]
        if entry["name"] == "rtc:muted" and data.get("source") == "camera":
            user = str(data.get("user_id"))
            self.dark = self.dark | {user} if data.get("muted") else self.dark - {user}
        if entry["name"] in ("participant:updated", "participant:joined") and "room" in data:
            user = str(data.get("user_id"))
            moved = data["room"] != MAIN_ROOM
            self.away = self.away | {user} if moved else self.away - {user}
            return
        if entry["name"] not in SEEN or data.get("room", MAIN_ROOM) != MAIN_ROOM:
            return
        if entry["name"] == "rtc:speaker":
            self.speaker = data.get("user_id")
        elif entry["name"] in ("slides:state", "slides:view"):
            shown = data.get("view") if entry["name"] == "slides:state" else data
            self.view = _view(shown) if shown else None


def _view(data: Entry) -> View:
    return View(
        data.get("deck_id"),
        int(data.get("page", 1)),
        int(data.get("zoom", 100)),
        int(data.get("x", 5000)),
        int(data.get("y", 5000)),
    )


def _featured(cameras: list[Video], speaker: str | None, before: str | None) -> str | None:
    for camera in cameras:
        if speaker is not None and camera.user_id == speaker:
            return camera.file
    if any(camera.file == before for camera in cameras):
        return before
    return cameras[0].file if cameras else None


def _scene(
    start: int,
    end: int,
    cameras: list[Video],
    featured: str | None,
    seen: _Seen,
    screen: str | None,
) -> Scene:
    speaker, view = seen.speaker, seen.view
    speaking = {c.file for c in cameras if speaker is not None and c.user_id == speaker}
    dark = {c.file for c in cameras if c.user_id in seen.dark}
    if screen is None and view is None:
        shown = cameras[:GALLERY_MAX]
        if featured is not None and all(c.file != featured for c in shown):
            shown[-1] = next(c for c in cameras if c.file == featured)
        rects = gallery(len(shown))
        tiles = tuple(
            Tile(c.file, r, c.file in speaking, c.file in dark)
            for c, r in zip(shown, rects, strict=True)
        )
        return Scene(start, end, "gallery", tiles=tiles)
    kind: Kind = "screen" if screen is not None else "page"
    if featured is None:
        return Scene(start, end, kind, Rect(0, 0, *SIZE), screen, view if screen is None else None)
    others = [c.file for c in cameras if c.file != featured][:STRIP_MAX]
    main, first, strip = beside(len(others))
    tiles = (Tile(featured, first, featured in speaking, featured in dark),)
    tiles += tuple(Tile(f, r, f in speaking, f in dark) for f, r in zip(others, strip, strict=True))
    return Scene(start, end, kind, main, screen, view if screen is None else None, tiles)


def gallery(count: int) -> list[Rect]:
    """A grid of `count` cells filling the picture, row by row."""
    if not count:
        return []
    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    w, h = SIZE[0] // columns, SIZE[1] // rows
    return [Rect((n % columns) * w, (n // columns) * h, w, h) for n in range(count)]


def beside(others: int) -> tuple[Rect, Rect, list[Rect]]:
    """The large area, the featured camera beside it, and `others` cells of the strip."""
    left = SIZE[0] - SIDE
    main = Rect(0, 0, left, SIZE[1])
    featured = Rect(left, 0, SIDE, FEATURED_HEIGHT)
    w = SIDE // STRIP_COLUMNS
    h = w * 3 // 4
    strip = [
        Rect(left + (n % STRIP_COLUMNS) * w, FEATURED_HEIGHT + (n // STRIP_COLUMNS) * h, w, h)
        for n in range(others)
    ]
    return main, featured, strip


def fit(width: int, height: int, rect: Rect) -> Rect:
    """The largest `width` x `height` shape inside `rect`, centred (even sizes, for video)."""
    scale = min(rect.w / max(width, 1), rect.h / max(height, 1))
    w = max(2, int(width * scale) // 2 * 2)
    h = max(2, int(height * scale) // 2 * 2)
    return Rect(rect.x + (rect.w - w) // 2, rect.y + (rect.h - h) // 2, w, h)


def _same(a: Scene, b: Scene) -> bool:
    return (a.kind, a.main, a.screen, a.view, a.tiles) == (
        b.kind,
        b.main,
        b.screen,
        b.view,
        b.tiles,
    )
