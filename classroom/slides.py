"""Slides: the class's decks, what each room's board shows, and who presents.

A deck is a PDF a host or presenter uploaded, rendered to one image per page
off the domain (slides/); the domain learns of it once it is ready
(`DeckAdded`). Each room shows one page at a time, a deck's or a blank one
(`SlideShown`), which is also the page its whiteboard draws on
(classroom/board.py). Presenters and "everyone draws" are grants the class
adds to a member's role (classroom/roles.py's `PRESENTER` and `DRAWER`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from classroom import commands as c
from classroom import events as e
from classroom.dispatch import answers, handles
from classroom.errors import DomainError
from classroom.live import Context, Live, Member
from classroom.roles import DRAWER, NONE, PRESENTER, Action

if TYPE_CHECKING:
    from classroom.aggregate import Classroom

Surface = tuple[str, int]
"""A page a board draws on: (deck id, page), or ("", n) for blank page n."""
BLANK: Surface = ("", 1)


@dataclass(frozen=True)
class Deck:
    deck_id: str
    name: str
    pages: int


@dataclass
class Slides:
    decks: dict[str, Deck] = field(default_factory=dict)
    views: dict[str, e.SlideShown] = field(default_factory=dict)
    """room -> what it shows now (absent: nothing yet)."""
    presenters: set[str] = field(default_factory=set)
    everyone_draws: bool = False
    shown: set[Surface] = field(default_factory=set)
    """Deck pages shown in some room: the only ones participants may load."""

    # -- queries ---------------------------------------------------------

    def granted(self, user_id: str) -> frozenset[Action]:
        """What the class grants this member besides their role."""
        grants = PRESENTER if user_id in self.presenters else NONE
        return (grants | DRAWER) if self.everyone_draws else grants

    def surface(self, room: str) -> Surface:
        """The page the room's board draws on: the one it shows, else blank page 1."""
        view = self.views.get(room)
        return (view.deck_id, view.page) if view is not None else BLANK

    def may_load(self, deck_id: str, page: int, everything: bool) -> bool:
        """Whether a page's image may be served: any page of a known deck to hosts and
        presenters (`everything`), a page shown in the class to anyone else."""
        deck = self.decks.get(deck_id)
        if deck is None or not 1 <= page <= deck.pages:
            return False
        return everything or (deck_id, page) in self.shown

    # -- commands --------------------------------------------------------

    def show(self, actor: Member, cmd: c.SlidesShow) -> list[e.Event]:
        deck_id = cmd.deck_id or ""
        if deck_id:
            deck = self.decks.get(deck_id)
            if deck is None:
                raise DomainError("not_found", f"no deck {deck_id!r}")
            if cmd.page > deck.pages:
                raise DomainError("bad_request", f"{deck.name} has {deck.pages} pages")
        elif cmd.page > c.BLANK_PAGES:
            raise DomainError("bad_request", f"there are {c.BLANK_PAGES} blank pages")
        shown = e.SlideShown(
            actor=actor.user_id,
            room=actor.room,
            deck_id=deck_id,
            page=cmd.page,
            zoom=cmd.zoom,
            x=cmd.x,
            y=cmd.y,
        )
        now = self.views.get(actor.room)
        if now is not None and _same_view(now, shown):
            return []
        return [shown]

    def set_presenter(self, actor: Member, live: Live, cmd: c.SlidesPresenter) -> list[e.Event]:
        live.member(cmd.user_id)
        if (cmd.user_id in self.presenters) == cmd.on:
            return []
        return [e.PresenterSet(actor=actor.user_id, user_id=cmd.user_id, on=cmd.on)]

    def open_board(self, actor: Member, cmd: c.BoardOpen) -> list[e.Event]:
        if self.everyone_draws == cmd.everyone:
            return []
        return [e.BoardOpened(actor=actor.user_id, everyone=cmd.everyone)]

    # -- events ----------------------------------------------------------

    def apply(self, ev: e.Event) -> None:
        match ev:
            case e.DeckAdded():
                self.decks[ev.deck_id] = Deck(ev.deck_id, ev.title, ev.pages)
            case e.SlideShown():
                self.views[ev.room] = ev
                if ev.deck_id:
                    self.shown.add((ev.deck_id, ev.page))
            case e.PresenterSet(on=True):
                self.presenters.add(ev.user_id)
            case e.PresenterSet():
                self.presenters.discard(ev.user_id)
            case e.BoardOpened():
                self.everyone_draws = ev.everyone
            case e.BreakoutClosed():
                # The rooms are gone, and what they showed with them.
                self.views = {r: v for r, v in self.views.items() if r == e.MAIN_ROOM}


def _same_view(a: e.SlideShown, b: e.SlideShown) -> bool:
    return (a.deck_id, a.page, a.zoom, a.x, a.y) == (b.deck_id, b.page, b.zoom, b.x, b.y)


def deck_view(deck: Deck) -> dict[str, Any]:
    return {"id": deck.deck_id, "name": deck.name, "pages": deck.pages}


@handles(c.SlidesShow)
def _show(room: Classroom, actor: Member, cmd: c.SlidesShow, ctx: Context) -> list[e.Event]:
    return room.slides.show(actor, cmd)


@handles(c.SlidesPresenter)
def _presenter(
    room: Classroom, actor: Member, cmd: c.SlidesPresenter, ctx: Context
) -> list[e.Event]:
    return room.slides.set_presenter(actor, room.live, cmd)


@handles(c.BoardOpen)
def _open(room: Classroom, actor: Member, cmd: c.BoardOpen, ctx: Context) -> list[e.Event]:
    return room.slides.open_board(actor, cmd)


@answers(c.SlidesDecks)
def _decks(room: Classroom, actor: Member, cmd: c.SlidesDecks) -> dict[str, Any]:
    return {"decks": [deck_view(d) for d in room.slides.decks.values()]}
