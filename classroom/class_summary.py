"""What a list of classes shows of each: its plan, whether it is upcoming, live or ended,
and who is there now. A fold of the class's journal, like a report, but small.

A class is `upcoming` until someone first joins it (whether or not it was
scheduled), `live` from then on, and `ended` once it is ended. `present`
counts the people connected now, as the journal has it.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from classroom import events as e
from classroom.reports import JournalGap

ClassState = Literal["upcoming", "live", "ended"]


class ClassSummary(msgspec.Struct):
    id: str
    title: str
    media: e.MediaMode
    created_at: int
    created_by: str | None
    """The organizer who created it; null: the admin."""
    scheduled_at: int | None
    """When it is due to start (epoch ms), if scheduled."""
    time_zone: str | None
    """The IANA time zone it was scheduled in."""
    capacity: int | None
    state: ClassState
    started_at: int | None
    """When the first person joined."""
    ended_at: int | None
    present: int
    people: int
    """Everyone who has joined at least once."""


class ClassSummaryFold:
    """A class's summary, folded event by event (and brought up to date later)."""

    def __init__(self) -> None:
        self.seq = 0
        self.created: e.ClassCreated | None = None
        self.started_at: int | None = None
        self.ended_at: int | None = None
        self.present: set[str] = set()
        self.came: set[str] = set()
        """Who has joined; emptied once the class ends (only the count is kept)."""
        self.people = 0

    def apply(self, ev: e.Event) -> None:
        if ev.seq != self.seq + 1:
            raise JournalGap(f"event seq {ev.seq} does not follow {self.seq}")
        self.seq = ev.seq
        match ev:
            case e.ClassCreated():
                self.created = ev
            case e.ParticipantJoined():
                self.present.add(ev.user_id)
                if ev.user_id not in self.came:
                    self.came.add(ev.user_id)
                    self.people += 1
                if self.started_at is None:
                    self.started_at = ev.ts
            case e.ParticipantLeft():
                self.present.discard(ev.user_id)
            case e.ClassEnded():
                self.ended_at = ev.ts
                self.present.clear()
                self.came.clear()

    def summary(self) -> ClassSummary | None:
        """None until the class's creation has been folded."""
        created = self.created
        if created is None:
            return None
        state: ClassState = "upcoming"
        if self.ended_at is not None:
            state = "ended"
        elif self.started_at is not None:
            state = "live"
        return ClassSummary(
            id=created.class_id,
            title=created.title,
            media=created.media,
            created_at=created.ts,
            created_by=created.created_by,
            scheduled_at=created.scheduled_at,
            time_zone=created.time_zone,
            capacity=created.capacity,
            state=state,
            started_at=self.started_at,
            ended_at=self.ended_at,
            present=len(self.present),
            people=self.people,
        )


def listed_order(summary: ClassSummary) -> tuple[int, int, int]:
    """Live classes first (latest started first), then upcoming ones (soonest first, the
    unscheduled after them, newest first), then ended ones (latest ended first)."""
    match summary.state:
        case "live":
            return 0, -(summary.started_at or 0), 0
        case "upcoming":
            due = summary.scheduled_at if summary.scheduled_at is not None else 2**62
            return 1, due, -summary.created_at
        case _:
            return 2, -(summary.ended_at or 0), 0
