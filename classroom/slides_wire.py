"""How slides and the whiteboard look to clients: event payloads and the snapshot part.

A blank page has `deck_id: null` on the wire. Points are flat x, y pairs in
1/10000 of the page's width and height, so every screen size draws them alike.
"""

from __future__ import annotations

from typing import Any

from classroom import events as e
from classroom.board import Board, Stroke
from classroom.roles import Action, allowed
from classroom.slides import Slides, deck_view
from classroom.visibility import Viewer

Payload = dict[str, Any]

SLIDES_EVENTS = (
    e.DeckAdded,
    e.SlideShown,
    e.PresenterSet,
    e.BoardOpened,
    e.InkDrawn,
    e.InkErased,
    e.BoardCleared,
)


def ink_view(ink: e.Ink) -> Payload:
    out: Payload = {"tool": ink.tool, "color": ink.color, "width": ink.width}
    if ink.text is not None:
        out["text"] = ink.text
    return out


def page_of(deck_id: str, page: int) -> Payload:
    return {"deck_id": deck_id or None, "page": page}


def view_view(ev: e.SlideShown) -> Payload:
    return page_of(ev.deck_id, ev.page) | {"zoom": ev.zoom, "x": ev.x, "y": ev.y}


def stroke_view(stroke: Stroke) -> Payload:
    return {
        "stroke_id": stroke.stroke_id,
        "user_id": stroke.user_id,
        "ink": ink_view(stroke.ink),
        "points": list(stroke.points),
        "done": stroke.done,
    }


def board_view(board: Board) -> list[Payload]:
    """Every page of a room's board that holds ink, with its strokes in drawing order."""
    return [
        page_of(*surface) | {"strokes": [stroke_view(s) for s in page.strokes.values()]}
        for surface, page in board.pages.items()
    ]


def slides_view(slides: Slides, board: Board, viewer: Viewer) -> Payload:
    """The snapshot's `slides`: the viewer's room's page and ink, who presents, and (for
    those who may show them) the decks."""
    view = slides.views.get(viewer.room)
    presents = allowed(viewer.role, Action.SLIDES_PRESENT, slides.granted(viewer.user_id))
    return {
        "view": view_view(view) if view is not None else None,
        "presenters": sorted(slides.presenters),
        "everyone_draws": slides.everyone_draws,
        "decks": [deck_view(d) for d in slides.decks.values()] if presents else [],
        "ink": board_view(board),
    }


def board_at(slides: Slides, board: Board, room: str) -> Payload | None:
    """A room's board as it stands (its page and ink, strokes without who drew them), for a
    replay that starts there; None when it shows nothing and holds no ink."""
    view = slides.views.get(room)
    if view is None and not board.pages:
        return None
    ink = [
        {
            **page,
            "strokes": [{k: v for k, v in s.items() if k != "user_id"} for s in page["strokes"]],
        }
        for page in board_view(board)
    ]
    return {"room": room, "view": view_view(view) if view is not None else None, "ink": ink}


def slides_wire(ev: e.Event, head: Payload) -> tuple[str, Payload] | None:
    match ev:
        case e.DeckAdded():
            deck = {"id": ev.deck_id, "name": ev.title, "pages": ev.pages}
            return "slides:deck", head | {"deck": deck}
        case e.SlideShown():
            return "slides:view", head | {"room": ev.room} | view_view(ev)
        case e.PresenterSet():
            return "slides:presenter", head | {"user_id": ev.user_id, "on": ev.on}
        case e.BoardOpened():
            return "board:opened", head | {"everyone": ev.everyone}
        case e.InkDrawn():
            body: Payload = {
                "room": ev.room,
                **page_of(ev.deck_id, ev.page),
                "user_id": ev.user_id,
                "stroke_id": ev.stroke_id,
                "points": ev.points,
                "done": ev.done,
            }
            if ev.ink is not None:
                body["ink"] = ink_view(ev.ink)
            return "board:ink", head | body
        case e.InkErased():
            erased = {"room": ev.room, **page_of(ev.deck_id, ev.page), "stroke_ids": ev.stroke_ids}
            return "board:erased", head | erased
        case e.BoardCleared():
            return "board:cleared", head | {"room": ev.room, **page_of(ev.deck_id, ev.page)}
    return None
