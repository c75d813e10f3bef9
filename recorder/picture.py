"""The composite video's pictures: the scenes of recorder/layout.py painted at a fixed rate.

It streams like the sound does. Each video track is read by a decoder of its
own, opened when a scene first needs it and advanced in time order, holding
only its latest frame; a picture at time t shows each track's latest frame
at or before t. A picture is composed once (Pillow pastes the tiles, each
scaled by FFmpeg's swscale) and handed to every encoder; while nothing in it
changes (a slide without new ink, a camera between two of its frames) the
last one is handed again, which costs nothing to compose.

The rate is 15 pictures a second: a lecture's picture is slides, a screen
and small cameras, which 15 fps shows well, and every picture is composed
and then encoded twice (VP8 and H.264), so doubling the rate would double
the build's cost for motion few would notice.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import ExitStack
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from PIL import Image, ImageDraw

from recorder.fonts import font_for
from recorder.ink import Board, page_image, page_picture
from recorder.layout import SIZE, Rect, Scene, View, fit

FPS = 15
TIME_BASE = Fraction(1, FPS)
BACKGROUND = (0, 0, 0)
SPEAKING = (255, 196, 0)
"""The border of the camera whose user is speaking."""
BORDER = 4
DARK = (48, 48, 48)
"""A camera's tile while it is muted."""
LABEL = (255, 255, 255)
LABEL_BACK = (24, 24, 24)
"""A name on its tile: white on near black, in the tile's bottom left corner."""


@dataclass(frozen=True)
class Picture:
    """What the composite shows: its scenes, the files they name, the board's timeline."""

    scenes: list[Scene]
    videos: dict[str, Path]
    """Track file -> its path."""
    offsets: dict[str, int]
    """Track file -> where it starts on the recording's clock (ms)."""
    events: list[dict[str, Any]] = field(default_factory=list)
    slides: Path | None = None
    """The folder holding the slides' images."""
    names: dict[str, str] = field(default_factory=dict)
    """Camera track file -> the name on its tile (as the package names people)."""


class Latest:
    """One video track, decoded as it is read; holds only its latest frame."""

    def __init__(self, path: Path, offset_ms: int) -> None:
        self._frames = _video_frames(path, offset_ms)
        self._ahead = next(self._frames, None)
        self.frame: av.VideoFrame | None = None
        self.serial = 0
        """Counts the frames held so far: a picture changes when it does."""

    def at(self, t_ms: float) -> av.VideoFrame | None:
        """The last frame at or before `t_ms` (None before the first)."""
        while self._ahead is not None and self._ahead[0] <= t_ms:
            self.frame = self._ahead[1]
            self.serial += 1
            self._ahead = next(self._frames, None)
        return self.frame

    def close(self) -> None:
        self._frames.close()


def _video_frames(path: Path, offset_ms: int) -> Generator[tuple[float, av.VideoFrame]]:
    with av.open(str(path)) as source:
        stream = source.streams.video[0]
        for frame in source.decode(stream):
            if frame.time is not None:
                yield offset_ms + 1000 * frame.time, frame


def pictures(picture: Picture | None, duration_ms: int) -> Generator[av.VideoFrame]:
    """The composite's pictures (yuv420p, SIZE) at FPS; a recording with nothing to show
    is one black picture held to the end."""
    if picture is None or all(scene.empty for scene in picture.scenes):
        black = _frame(_blank())
        yield from (_at(black, pts) for pts in sorted({0, duration_ms * FPS // 1000}))
        return
    with ExitStack() as stack:
        painter = stack.enter_context(_Painter(picture))
        for pts in range(max(1, duration_ms * FPS // 1000)):
            yield painter.paint(pts)


class _Painter:
    def __init__(self, picture: Picture) -> None:
        self._picture = picture
        self._index = 0
        """The scene being painted (past the last: the end)."""
        self._last_use = {
            track: n for n, scene in enumerate(picture.scenes) for track in _tracks_of(scene)
        }
        """The last scene each track is in: its decoder is closed after it, not before,
        since one opened again would decode the track from its start."""
        self._tracks: dict[str, Latest] = {}
        self._board = Board(picture.events)
        self._pages: dict[tuple[str | None, int], Image.Image] = {}
        self._backdrop: tuple[Any, Image.Image] | None = None
        self._tiles: dict[tuple[str, Rect], tuple[int, Image.Image]] = {}
        self._labels: dict[tuple[str, int], Image.Image] = {}
        self._last: tuple[Any, av.VideoFrame] | None = None

    def __enter__(self) -> _Painter:
        return self

    def __exit__(self, *_: object) -> None:
        for track in self._tracks.values():
            track.close()

    def paint(self, pts: int) -> av.VideoFrame:
        t = 1000 * pts / FPS
        scenes = self._picture.scenes
        while self._index < len(scenes) and scenes[self._index].end_ms <= t:
            self._index += 1
            self._close_finished()
        scene = scenes[self._index] if self._index < len(scenes) else None
        if scene is None:
            return _at(self._last[1] if self._last else _frame(_blank()), pts)
        self._board.advance(t)
        shown = {track: self._latest(track, t) for track in _tracks_of(scene)}
        ink = self._board.version if scene.view else None
        key = (scene, ink, tuple(shown[track].serial for track in sorted(shown)))
        if self._last is None or self._last[0] != key:
            canvas = self._backdrop_of(scene, shown.get(scene.screen or "")).copy()
            for tile in scene.tiles:
                if tile.dark:
                    _fill(canvas, tile.rect, DARK)
                else:
                    self._paste(canvas, tile.track, shown[tile.track], tile.rect)
                self._label(canvas, tile.track, tile.rect)
                if tile.speaking:
                    _outline(canvas, tile.rect)
            self._last = (key, _frame(canvas))
        return _at(self._last[1], pts)

    def _latest(self, track: str, t: float) -> Latest:
        if track not in self._tracks:
            path, offset = self._picture.videos[track], self._picture.offsets[track]
            self._tracks[track] = Latest(path, offset)
        self._tracks[track].at(t)
        return self._tracks[track]

    def _close_finished(self) -> None:
        """Decoders no scene from now on needs are closed (their buffers freed)."""
        for track in [k for k in self._tracks if self._last_use[k] < self._index]:
            self._tracks.pop(track).close()
            self._tiles = {k: v for k, v in self._tiles.items() if k[0] != track}

    def _backdrop_of(self, scene: Scene, screen: Latest | None) -> Image.Image:
        """The picture under the tiles: the screen, the page with its ink, or black."""
        shown = screen.serial if screen else 0
        key = (scene.main, scene.view, self._board.version if scene.view else 0, shown)
        if self._backdrop is not None and self._backdrop[0] == key:
            return self._backdrop[1]
        canvas = _blank()
        if screen is not None and scene.main is not None:
            self._paste(canvas, scene.screen or "", screen, scene.main)
        elif scene.view is not None and scene.main is not None:
            page = self._page(scene.view)
            strokes = self._board.strokes(scene.view.deck_id, scene.view.page)
            inked = page_picture(page, strokes, scene.view)
            place = fit(inked.width, inked.height, scene.main)
            canvas.paste(
                inked.resize((place.w, place.h), Image.Resampling.BILINEAR), (place.x, place.y)
            )
        self._backdrop = (key, canvas)
        return canvas

    def _label(self, canvas: Image.Image, track: str, rect: Rect) -> None:
        """The camera's owner's name, in the tile's bottom left corner (drawn once per size)."""
        name = self._picture.names.get(track)
        if not name:
            return
        size = max(11, min(22, rect.h // 14))
        if (name, size) not in self._labels:
            self._labels[(name, size)] = _name_tag(name, size)
        tag = self._labels[(name, size)]
        width = min(tag.width, rect.w - 2 * BORDER)
        if width > 0:
            at = (rect.x + BORDER, rect.y + rect.h - BORDER - tag.height)
            canvas.paste(tag.crop((0, 0, width, tag.height)), at)

    def _page(self, view: View) -> Image.Image:
        surface = (view.deck_id, view.page)
        if surface not in self._pages:
            self._pages = {surface: page_image(self._picture.slides, view)}
        return self._pages[surface]

    def _paste(self, canvas: Image.Image, track: str, latest: Latest | None, rect: Rect) -> None:
        """The track's latest frame, scaled into `rect` (once per frame and place)."""
        frame = latest.frame if latest else None
        if latest is None or frame is None:
            return
        place = fit(frame.width, frame.height, rect)
        cached = self._tiles.get((track, rect))
        if cached is None or cached[0] != latest.serial:
            rgb: Any = frame.reformat(width=place.w, height=place.h, format="rgb24")
            scaled: Image.Image = rgb.to_image()
            cached = (latest.serial, scaled)
            self._tiles[(track, rect)] = cached
        canvas.paste(cached[1], (place.x, place.y))


def _tracks_of(scene: Scene) -> set[str]:
    return {tile.track for tile in scene.tiles} | ({scene.screen} if scene.screen else set())


def _blank() -> Image.Image:
    return Image.new("RGB", SIZE, BACKGROUND)


def _fill(canvas: Image.Image, rect: Rect, colour: tuple[int, int, int]) -> None:
    box = (rect.x, rect.y, rect.x + rect.w - 1, rect.y + rect.h - 1)
    ImageDraw.Draw(canvas).rectangle(box, fill=colour)


def _name_tag(name: str, size: int) -> Image.Image:
    """A name as plain text on a dark band (too long a name is cut where the tile ends)."""
    font = font_for(name, size)
    left, top, right, bottom = (int(edge) for edge in font.getbbox(name))
    pad = max(2, size // 4)
    tag = Image.new("RGB", (right - left + 2 * pad, bottom - top + 2 * pad), LABEL_BACK)
    ImageDraw.Draw(tag).text((pad - left, pad - top), name, font=font, fill=LABEL)
    return tag


def _outline(canvas: Image.Image, rect: Rect) -> None:
    box = (rect.x, rect.y, rect.x + rect.w - 1, rect.y + rect.h - 1)
    ImageDraw.Draw(canvas).rectangle(box, outline=SPEAKING, width=BORDER)


def _frame(image: Image.Image) -> av.VideoFrame:
    rgb: Any = av.VideoFrame
    frame: av.VideoFrame = rgb.from_image(image).reformat(format="yuv420p")
    return frame


def _at(frame: av.VideoFrame, pts: int) -> av.VideoFrame:
    frame.pts, frame.time_base = pts, TIME_BASE
    return frame
