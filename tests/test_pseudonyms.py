"""Pseudonyms reach every user reference: a table of every event type's fields.

Each field of each event in classroom/events.py is either personal (it can
hold a user id or a display name) or listed as not personal. A new event
type, or a new field, fails here until it is classified; a personal field
that reaches a published message without a pseudonym fails too.
"""

from __future__ import annotations

import json
from typing import Any, get_args

import msgspec
import msgspec.inspect as mi
import pytest

from classroom import events as e
from classroom.pseudonyms import REFS, Pseudonyms
from classroom.visibility import audience
from classroom.wire import public_form, to_wire

ID, NAME = "id", "name"
EVERY_EVENT: tuple[type[e.Event], ...] = get_args(e.AnyEvent)

PERSONAL: dict[type[e.Event], dict[str, str]] = {
    e.ClassCreated: {"created_by": ID},
    e.ClassEnded: {},
    e.ParticipantJoined: {"user_id": ID, "name": NAME},
    e.ParticipantLeft: {"user_id": ID},
    e.RoleChanged: {"user_id": ID},
    e.ChatSent: {"user_id": ID, "name": NAME, "to_user": ID},
    e.HandChanged: {"user_id": ID},
    e.ReactionSent: {"user_id": ID},
    e.ParticipantMoved: {"user_id": ID},
    e.BreakoutPlanned: {"assignments": ID},
    e.BreakoutPlanDiscarded: {},
    e.BreakoutOpened: {},
    e.BreakoutAssigned: {"user_id": ID},
    e.BreakoutMessage: {"user_id": ID, "name": NAME},
    e.BreakoutHelpRequested: {"user_id": ID, "name": NAME},
    e.BreakoutExtended: {},
    e.BreakoutWarning: {},
    e.BreakoutClosing: {},
    e.BreakoutClosed: {},
    e.PollCreated: {},
    e.PollOpened: {},
    e.PollVoted: {"voter": ID},
    e.PollResultsShown: {},
    e.PollClosed: {},
    e.PollPublished: {},
    e.PollGraded: {"user_id": ID},
    e.QuestionAsked: {"question.author_id": ID, "question.author_name": NAME},
    e.QuestionApproved: {"question.author_id": ID, "question.author_name": NAME},
    e.QuestionDismissed: {"question.author_id": ID, "question.author_name": NAME},
    e.QuestionPinned: {"question.author_id": ID, "question.author_name": NAME},
    e.QuestionAnswered: {"question.author_id": ID, "question.author_name": NAME},
    e.QuestionVoted: {"user_id": ID},
    e.QaModerationSet: {},
    e.TrackPublished: {"user_id": ID},
    e.TrackUnpublished: {"user_id": ID},
    e.MediaMuted: {"user_id": ID},
    e.PublishLockSet: {},
    e.SpeakerChanged: {"user_id": ID},
    e.RecordingStarted: {},
    e.RecordingPaused: {},
    e.RecordingResumed: {},
    e.RecordingStopped: {},
    e.RecordingMarker: {},
    e.CaptureFileStarted: {"user_id": ID},
    e.DeckAdded: {},
    e.SlideShown: {},
    e.PresenterSet: {"user_id": ID},
    e.BoardOpened: {},
    e.InkDrawn: {"user_id": ID},
    e.InkErased: {},
    e.BoardCleared: {},
}
"""Per event type: the paths of its fields that hold user ids or names (`actor`: every one)."""

NOT_PERSONAL = frozenset(
    {
        *("seq", "ts", "class_id", "title", "media", "role", "room", "reason", "id", "text"),
        *("raised", "emoji", "from_room", "rooms.id", "rooms.name", "assignment"),
        *("duration_s", "grace_s", "cap", "ends_at", "room_id", "in_s", "closes_at"),
        *("poll_id", "question", "kind", "options", "anonymous", "correct", "min", "max"),
        *("quiz", "answer", "shown", "public", "question_id", "up", "on", "track_id"),
        *("source", "muted", "publish", "recording_id", "file", "at_ms"),
        *("scheduled_at", "time_zone", "capacity"),
        *(f"results.{f}" for f in ("kind", "counts", "words", "total", "voters", "mean")),
        *(f"question.{f}" for f in ("id", "text", "room", "votes", "status", "pinned")),
        *("question.answer", "question.asked_at"),
        *("deck_id", "page", "pages", "zoom", "x", "y", "everyone", "stroke_id", "stroke_ids"),
        *("points", "done", "ink.tool", "ink.color", "ink.width", "ink.text"),
    }
)
"""Field paths that never hold a user id or name, whatever the event."""


class Sampler:
    """Builds an event with a distinct real-looking id or name in every personal field."""

    def __init__(self, personal: dict[str, str]) -> None:
        self.personal = personal | {"actor": ID}
        self.planted: list[str] = []
        self.unclassified: list[str] = []

    def value(self, t: mi.Type, path: str) -> Any:
        """A sample of type `t` for the field at `path` (dotted, from the event)."""
        match t:
            case mi.StructType():
                fields = {
                    f.name: self.value(f.type, f"{path}.{f.name}".lstrip(".")) for f in t.fields
                }
                return t.cls(**fields)
            case mi.UnionType():
                usable = [u for u in t.types if not isinstance(u, mi.NoneType)]
                return self.value(usable[0], path)
            case mi.ListType():
                return [self.value(t.item_type, path)]
            case mi.DictType():
                return {self.value(t.key_type, path): "b-room"}
            case mi.TupleType():
                return tuple(self.value(item, path) for item in t.item_types)
        if path not in self.personal and path not in NOT_PERSONAL:
            self.unclassified.append(path)
        return self._leaf(t, self.personal.get(path))

    def _leaf(self, t: mi.Type, kind: str | None) -> Any:
        match t:
            case mi.LiteralType():
                return t.values[0]
            case mi.StrType() if kind is not None:
                real = (
                    f"u-real-{len(self.planted)}" if kind == ID else f"Realname {len(self.planted)}"
                )
                self.planted.append(real)
                return real
            case mi.StrType():
                return "plain"
            case mi.BoolType():
                return True
            case mi.IntType():
                return 1
            case mi.FloatType():
                return 1.5
        raise AssertionError(f"no sample for {t}")


def sample(cls: type[e.Event]) -> tuple[e.Event, Sampler]:
    sampler = Sampler(PERSONAL[cls])
    ev = sampler.value(mi.type_info(cls), "")
    assert isinstance(ev, cls)
    return ev, sampler


def test_every_event_type_is_in_the_table() -> None:
    assert set(EVERY_EVENT) == set(PERSONAL), "classify the user fields of new event types"


@pytest.mark.parametrize("cls", EVERY_EVENT, ids=lambda cls: cls.__name__)
def test_no_user_reference_survives_pseudonyms(cls: type[e.Event]) -> None:
    ev, sampler = sample(cls)
    assert sampler.unclassified == [], f"classify these fields of {cls.__name__}"
    wire = to_wire(ev)
    if wire is None:
        return  # never sent to anyone, so never published
    name, payload = public_form(wire)
    who = audience(ev)
    mapped = Pseudonyms().message(name, payload)
    if who.everyone or who.rooms:  # what a learner could see is in the timeline
        assert mapped is not None, f"{name} needs an entry in classroom.pseudonyms.REFS"
    if mapped is None:
        return
    published = json.dumps(mapped)
    leaked = [real for real in sampler.planted if real in published]
    assert leaked == [], f"{name} still shows {leaked}: {published}"


def test_hosts_keep_their_names_and_one_learner_keeps_one_pseudonym() -> None:
    aliases = Pseudonyms(keep=frozenset({"teach"}))
    chat = {"from": {"user_id": "ann@x.org", "name": "Ann"}, "to_user": "teach", "text": "hi"}
    muted = {"user_id": "ann@x.org", "source": "mic", "muted": True, "by": "teach"}
    person = {"user_id": "ann@x.org", "name": "Ann"}
    joined = person | {"participant": person}
    out = [
        aliases.message("chat:message", chat),
        aliases.message("rtc:muted", muted),
        aliases.message("participant:joined", joined),
        aliases.message("chat:message", {"from": {"user_id": "teach", "name": "Dr T"}}),
    ]
    assert out[0] == {"from": {"user_id": "p1", "name": "Participant 1"}, "to_user": "teach"} | {
        "text": "hi"
    }
    assert out[1] == muted | {"user_id": "p1"}
    assert out[2] is not None and out[2]["participant"]["name"] == "Participant 1"
    assert out[3] == {"from": {"user_id": "teach", "name": "Dr T"}}
    assert "ann" not in repr(out).lower()
    assert chat["from"]["name"] == "Ann"  # the input is left as it was


def test_a_message_kind_without_an_entry_is_left_out() -> None:
    assert "breakout:help_requested" not in REFS
    assert Pseudonyms().message("breakout:help_requested", {"user_id": "ann"}) is None
    assert msgspec.json.encode(Pseudonyms().record("manifest:track", {"user_id": "ann"})) == (
        b'{"user_id":"p1"}'
    )
