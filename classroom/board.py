"""The whiteboard: ink on the page each room shows (classroom/slides.py).

A stroke travels as a few events, not one per point: the drawing client
simplifies its points and sends a batch every 50 ms or so (`board:draw`),
each batch one `InkDrawn`; its first batch says how it looks, its last is
`done`. Shapes and text come whole. Every room has boards of its own, one
per page, and a breakout room's boards go when the rooms close.

Ink is journaled like everything else, so its volume is capped: points per
batch (commands.py), per stroke, strokes per page and points per room. A
full board refuses more ink until it is cleared; nothing is ever dropped
silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from classroom import commands as c
from classroom import events as e
from classroom.dispatch import handles
from classroom.errors import DomainError
from classroom.live import Context, Member
from classroom.roles import Action, allowed
from classroom.slides import Slides, Surface

if TYPE_CHECKING:
    from classroom.aggregate import Classroom

STROKE_POINTS = 5000
"""Points of one stroke (after the client's simplification)."""
PAGE_STROKES = 2000
ROOM_POINTS = 100_000
"""Points on all of a room's pages together: what a joining client receives at most."""
WHOLE: frozenset[e.BoardTool] = frozenset({"line", "arrow", "rect", "ellipse", "text"})
"""Tools whose strokes come in one batch: two points (corners, ends), or one for text."""


@dataclass
class Stroke:
    stroke_id: str
    user_id: str
    ink: e.Ink
    points: list[int]
    done: bool = False


@dataclass
class Page:
    strokes: dict[str, Stroke] = field(default_factory=dict)
    """In drawing order, which is also the order they are painted in."""


@dataclass
class Board:
    """The ink of one room, page by page."""

    pages: dict[Surface, Page] = field(default_factory=dict)
    where: dict[str, Surface] = field(default_factory=dict)
    """stroke id -> the page it is on."""
    points: int = 0

    def stroke(self, stroke_id: str) -> Stroke | None:
        surface = self.where.get(stroke_id)
        return None if surface is None else self.pages[surface].strokes[stroke_id]


@dataclass
class Boards:
    rooms: dict[str, Board] = field(default_factory=dict)

    def of(self, room: str) -> Board:
        return self.rooms.get(room) or Board()

    # -- commands --------------------------------------------------------

    def draw(self, actor: Member, slides: Slides, cmd: c.BoardDraw) -> list[e.Event]:
        if len(cmd.points) % 2:
            raise DomainError("bad_request", "points come as x, y pairs")
        board = self.of(actor.room)
        stroke = board.stroke(cmd.stroke)
        if stroke is None:
            ink = _new_ink(cmd)
            surface = slides.surface(actor.room)
            strokes = len(board.pages.get(surface, Page()).strokes)
            if strokes >= PAGE_STROKES:
                raise DomainError("too_large", "this page holds all the strokes it can: clear it")
            done = cmd.done or ink.tool in WHOLE
        else:
            if stroke.user_id != actor.user_id or stroke.done:
                raise DomainError("conflict", f"stroke {cmd.stroke!r} is not yours to go on with")
            if cmd.tool or cmd.color or cmd.width or cmd.text:
                raise DomainError("bad_request", "a stroke's look is set by its first batch")
            ink, surface, done = None, board.where[cmd.stroke], cmd.done
            if len(stroke.points) + len(cmd.points) > 2 * STROKE_POINTS:
                raise DomainError("too_large", f"a stroke has at most {STROKE_POINTS} points")
        if board.points + len(cmd.points) // 2 > ROOM_POINTS:
            raise DomainError("too_large", "the board holds all the ink it can: clear a page")
        return [
            e.InkDrawn(
                actor=actor.user_id,
                room=actor.room,
                deck_id=surface[0],
                page=surface[1],
                user_id=actor.user_id,
                stroke_id=cmd.stroke,
                points=list(cmd.points),
                ink=ink,
                done=done,
            )
        ]

    def erase(self, actor: Member, slides: Slides, cmd: c.BoardErase) -> list[e.Event]:
        board = self.of(actor.room)
        anyone = allowed(actor.role, Action.BOARD_CLEAR, slides.granted(actor.user_id))
        by_page: dict[Surface, list[str]] = {}
        for stroke_id in dict.fromkeys(cmd.strokes):
            stroke = board.stroke(stroke_id)
            if stroke is None:
                continue  # erased already, by someone else maybe
            if stroke.user_id != actor.user_id and not anyone:
                raise DomainError("forbidden", "you may erase your own strokes only")
            by_page.setdefault(board.where[stroke_id], []).append(stroke_id)
        return [_erased(actor, surface, ids) for surface, ids in by_page.items()]

    def undo(self, actor: Member, slides: Slides) -> list[e.Event]:
        surface = slides.surface(actor.room)
        page = self.of(actor.room).pages.get(surface, Page())
        mine = [s.stroke_id for s in page.strokes.values() if s.user_id == actor.user_id]
        if not mine:
            raise DomainError("conflict", "you have nothing on this page to undo")
        return [_erased(actor, surface, mine[-1:])]

    def clear(self, actor: Member, slides: Slides) -> list[e.Event]:
        surface = slides.surface(actor.room)
        if not self.of(actor.room).pages.get(surface, Page()).strokes:
            return []
        return [
            e.BoardCleared(
                actor=actor.user_id, room=actor.room, deck_id=surface[0], page=surface[1]
            )
        ]

    # -- events ----------------------------------------------------------

    def apply(self, ev: e.Event) -> None:
        match ev:
            case e.InkDrawn():
                self._drawn(ev)
            case e.InkErased():
                board = self.rooms.get(ev.room)
                if board is not None:
                    for stroke_id in ev.stroke_ids:
                        _remove(board, stroke_id)
            case e.BoardCleared():
                board = self.rooms.get(ev.room)
                page = board.pages.get((ev.deck_id, ev.page)) if board else None
                if board is not None and page is not None:
                    for stroke_id in list(page.strokes):
                        _remove(board, stroke_id)
            case e.BreakoutClosed():
                self.rooms = {r: b for r, b in self.rooms.items() if r == e.MAIN_ROOM}
            case e.ParticipantLeft():
                for board in self.rooms.values():  # a stroke cut short by leaving ends there
                    for stroke in _open_strokes(board, ev.user_id):
                        stroke.done = True

    def _drawn(self, ev: e.InkDrawn) -> None:
        board = self.rooms.setdefault(ev.room, Board())
        stroke = board.stroke(ev.stroke_id)
        if stroke is None:
            if ev.ink is None:
                return  # its start is not in this history (it cannot be, but never guess)
            surface = (ev.deck_id, ev.page)
            stroke = Stroke(ev.stroke_id, ev.user_id, ev.ink, [])
            board.pages.setdefault(surface, Page()).strokes[ev.stroke_id] = stroke
            board.where[ev.stroke_id] = surface
        stroke.points.extend(ev.points)
        stroke.done = ev.done
        board.points += len(ev.points) // 2


def _new_ink(cmd: c.BoardDraw) -> e.Ink:
    if cmd.tool is None or cmd.color is None or cmd.width is None:
        raise DomainError("bad_request", "a stroke's first batch says its tool, color and width")
    pairs = len(cmd.points) // 2
    if cmd.tool == "text":
        if cmd.text is None or pairs != 1:
            raise DomainError("bad_request", "text is one point and its text")
    elif cmd.text is not None:
        raise DomainError("bad_request", "only the text tool takes text")
    elif cmd.tool in WHOLE and pairs != 2:
        raise DomainError("bad_request", f"a {cmd.tool} is two points")
    return e.Ink(tool=cmd.tool, color=cmd.color.lower(), width=cmd.width, text=cmd.text)


def _erased(actor: Member, surface: Surface, stroke_ids: list[str]) -> e.InkErased:
    return e.InkErased(
        actor=actor.user_id,
        room=actor.room,
        deck_id=surface[0],
        page=surface[1],
        stroke_ids=stroke_ids,
    )


def _remove(board: Board, stroke_id: str) -> None:
    surface = board.where.pop(stroke_id, None)
    if surface is None:
        return
    stroke = board.pages[surface].strokes.pop(stroke_id)
    board.points -= len(stroke.points) // 2
    if not board.pages[surface].strokes:
        del board.pages[surface]


def _open_strokes(board: Board, user_id: str) -> list[Stroke]:
    return [
        stroke
        for page in board.pages.values()
        for stroke in page.strokes.values()
        if stroke.user_id == user_id and not stroke.done
    ]


@handles(c.BoardDraw)
def _draw(room: Classroom, actor: Member, cmd: c.BoardDraw, ctx: Context) -> list[e.Event]:
    return room.boards.draw(actor, room.slides, cmd)


@handles(c.BoardErase)
def _erase(room: Classroom, actor: Member, cmd: c.BoardErase, ctx: Context) -> list[e.Event]:
    return room.boards.erase(actor, room.slides, cmd)


@handles(c.BoardUndo)
def _undo(room: Classroom, actor: Member, cmd: c.BoardUndo, ctx: Context) -> list[e.Event]:
    return room.boards.undo(actor, room.slides)


@handles(c.BoardClear)
def _clear(room: Classroom, actor: Member, cmd: c.BoardClear, ctx: Context) -> list[e.Event]:
    return room.boards.clear(actor, room.slides)
