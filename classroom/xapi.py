"""xAPI 1.0.3 statements of a live class, in the Virtual Classroom profile's vocabulary.

The profile is https://w3id.org/xapi/virtual-classroom (version
https://w3id.org/xapi/virtual-classroom/v/1 on the ADL profile server). Its
templates used here: initialized and terminated (the class), joined and left
(one pair per span of presence, so a reconnect is no leave: see
classroom/reports.py), started-poll and answered-poll, posted-public-message,
and raised/lowered hand, muted/unmuted, started/stopped camera and
shared/unshared screen (the profile's `interacted` verb with its
hand-raised, micro-activated, camera-activated and screen-shared extensions).

Identifiers are derived, never stored, so the same journal and base URL
always give the same statements (an LRS takes a re-export as the same
statements, not new ones). With `base` the server's public URL:

- the class: `{base}/c/{class_id}` (its page);
- a poll: `{base}/c/{class_id}/polls/{poll_id}` (`poll_activity_id`): the same
  activity whether it is answered live or later in the replay;
- a chat message: `{base}/c/{class_id}/chat/{message_id}`;
- a person: the account `{homePage: base, name: user_id}`;
- `context.registration` and the cmi5 session id: UUIDv5 of the class's id
  above (one planned session, one technical session per class);
- statement ids: UUIDv5 of the class's id and what the statement records.

Left out on purpose: direct messages, reactions and questions (the profile
has no template for them) and every ballot of an anonymous poll (an answered
statement would name its voter). Chat statements carry no text.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from classroom import events as e
from classroom.polls import Answer, Poll
from classroom.reports import ReportFold

VERSION = "1.0.3"
PROFILE = "https://w3id.org/xapi/virtual-classroom"
CLASS_TYPE = f"{PROFILE}/activity-types/virtual-classroom"
PROFILE_TYPE = "http://adlnet.gov/expapi/activities/profile"
INTERACTION_TYPE = "http://adlnet.gov/expapi/activities/cmi.interaction"
MESSAGE_TYPE = "https://w3id.org/xapi/acrossx/activities/message"
SESSION_ID = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
PLATFORM = "classroom-server"

Json = dict[str, Any]
Entry = tuple[int, int, int, Json]
"""(timestamp, seq, order within the seq, statement): statements sort by it."""


def verb(iri: str, word: str) -> Json:
    return {"id": iri, "display": {"en-US": word}}


INITIALIZED = verb("http://adlnet.gov/expapi/verbs/initialized", "initialized")
TERMINATED = verb("http://adlnet.gov/expapi/verbs/terminated", "terminated")
JOINED = verb("http://activitystrea.ms/join", "joined")
LEFT = verb("http://activitystrea.ms/leave", "left")
ASKED = verb("http://adlnet.gov/expapi/verbs/asked", "asked")
ANSWERED = verb("http://adlnet.gov/expapi/verbs/answered", "answered")
POSTED = verb("https://w3id.org/xapi/acrossx/verbs/posted", "posted")
INTERACTED = verb("http://adlnet.gov/expapi/verbs/interacted", "interacted")
CATEGORY = [{"id": PROFILE, "definition": {"type": PROFILE_TYPE}}]

HAND_RAISED = f"{PROFILE}/extensions/hand-raised"
SOURCE_EXTENSIONS: dict[e.TrackSource, str] = {
    "mic": f"{PROFILE}/extensions/micro-activated",
    "camera": f"{PROFILE}/extensions/camera-activated",
    "screen": f"{PROFILE}/extensions/screen-shared",
}


def class_activity_id(base_url: str, class_id: str) -> str:
    return f"{base_url.rstrip('/')}/c/{class_id}"


def poll_activity_id(base_url: str, class_id: str, poll_id: str) -> str:
    """The poll's activity id, shared by its live and replay answers."""
    return f"{class_activity_id(base_url, class_id)}/polls/{poll_id}"


def iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def iso_duration(ms: int) -> str:
    return f"PT{ms // 1000}.{ms % 1000 // 10:02d}S"


class StatementFold:
    """Statements event by event, beside the report fold that knows people and polls."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/")
        self.report = ReportFold()
        self.out: list[Entry] = []
        self.seqs: dict[tuple[str, str, int | str], int] = {}
        """The seq of the joins, leaves and ballots whose statements are made at the end."""
        self.tracks: dict[str, tuple[str, e.TrackSource]] = {}
        self.muted: set[tuple[str, e.TrackSource]] = set()
        self.on: set[tuple[str, e.TrackSource]] = set()
        # Made once per class, person and poll: most statements share them.
        self.class_iri = self.registration = self.session = ""
        self.activity: Json = {}
        self.actors: dict[tuple[str, str], Json] = {}
        self.polls: dict[str, Json] = {}

    def apply(self, ev: e.Event) -> None:
        self.report.apply(ev)
        match ev:
            case e.ClassCreated():
                self._created(ev)
            case e.ParticipantJoined():
                self.seqs.setdefault(("join", ev.user_id, ev.ts), ev.seq)
            case e.ParticipantLeft():
                self.seqs[("leave", ev.user_id, ev.ts)] = ev.seq
                self._media_off(ev, ev.user_id)
            case e.PollVoted():
                self.seqs[("vote", ev.poll_id, ev.voter)] = ev.seq
            case e.HandChanged():
                ext = {HAND_RAISED: ev.raised}
                self._add(f"{ev.seq}/hand", ev, ev.user_id, INTERACTED, self._class(), ext=ext)
            case e.ChatSent(to_user=None):
                message = {
                    "objectType": "Activity",
                    "id": f"{self.class_iri}/chat/{ev.id}",
                    "definition": {"type": MESSAGE_TYPE},
                }
                self._add(f"{ev.seq}/chat", ev, ev.user_id, POSTED, message, parent=True)
            case e.PollOpened():
                poll = self.report.polls.polls[ev.poll_id]
                self._add(f"{ev.seq}/poll", ev, ev.actor, ASKED, self._poll(poll), parent=True)
            case e.ClassEnded():
                self.seqs[("end", "", ev.ts)] = ev.seq
                self._media_off(ev, None)
                started = self.report.started_at or ev.ts
                result = {"duration": iso_duration(ev.ts - started)}
                actor = ev.actor or self.report.started_by
                self._add("terminated", ev, actor, TERMINATED, self._class(), result=result)
            case e.TrackPublished():
                self.tracks[ev.track_id] = (ev.user_id, ev.source)
                self._media(ev, ev.user_id, ev.source)
            case e.TrackUnpublished() if ev.track_id in self.tracks:
                user_id, source = self.tracks.pop(ev.track_id)
                self._media(ev, user_id, source)
            case e.MediaMuted():
                (self.muted.add if ev.muted else self.muted.discard)((ev.user_id, ev.source))
                self._media(ev, ev.user_id, ev.source)

    def _media(self, ev: e.Event, user_id: str, source: e.TrackSource) -> None:
        """A statement when a source goes on (published and unmuted) or off."""
        key = (user_id, source)
        published = any(t == key for t in self.tracks.values())
        on = published and key not in self.muted
        if on == (key in self.on):
            return
        (self.on.add if on else self.on.discard)(key)
        ext = {SOURCE_EXTENSIONS[source]: on}
        self._add(f"{ev.seq}/{source}", ev, user_id, INTERACTED, self._class(), ext=ext)

    def _media_off(self, ev: e.Event, user_id: str | None) -> None:
        """Leaving (`user_id`) or the class ending (None) stops media, before the leave itself."""
        for track_id, (owner, _) in list(self.tracks.items()):
            if user_id is None or owner == user_id:
                del self.tracks[track_id]
        for owner, source in sorted(self.on):
            if user_id is None or owner == user_id:
                self.on.discard((owner, source))
                ext = {SOURCE_EXTENSIONS[source]: False}
                key = f"{ev.seq}/{owner}/{source}"
                self._add(key, ev, owner, INTERACTED, self._class(), ext=ext, order=0)

    def statements(self) -> list[Json]:
        """Every statement so far, in journal order; presence and ballots are added here."""
        report = self.report
        extra: list[Entry] = []
        if report.started_at is not None:
            at, by = report.started_at, report.started_by
            seq = self.seqs.get(("join", by, at), 0)
            extra.append((at, seq, 0, self._made("initialized", at, by, INITIALIZED)))
        for person in report.people.values():
            uid = person.user_id
            for start, end in person.spans:
                start = start or 0
                seq = self.seqs.get(("join", uid, start), 0)
                extra.append((start, seq, 1, self._made(f"join/{uid}/{start}", start, uid, JOINED)))
                if end is not None:
                    seq = self.seqs.get(("leave", uid, end), self.seqs.get(("end", "", end), 0))
                    stmt = self._made(f"leave/{uid}/{start}", end, uid, LEFT)
                    extra.append((end, seq, 0, stmt))
        for poll in report.polls.polls.values():
            if not poll.anonymous:  # an answered statement would name the voter
                extra.extend(self._answers(poll))
        return [entry[3] for entry in sorted([*self.out, *extra], key=lambda x: x[:3])]

    def _answers(self, poll: Poll) -> list[Entry]:
        out: list[Entry] = []
        for voter, ballot in poll.ballots.items():
            result: Json = {"response": response(ballot.answer)}
            if poll.quiz:
                result["success"] = poll.is_correct(ballot.answer)
            key = f"answer/{poll.id}/{voter}"
            stmt = self._statement(key, ballot.ts, voter, ANSWERED, self._poll(poll), result=result)
            stmt["context"]["contextActivities"]["parent"] = [self._class()]
            out.append((ballot.ts, self.seqs.get(("vote", poll.id, voter), 0), 1, stmt))
        return out

    # -- building statements -----------------------------------------------

    def _made(self, key: str, ts: int, user_id: str, verb: Json) -> Json:
        return self._statement(key, ts, user_id, verb, self._class())

    def _add(
        self,
        key: str,
        ev: e.Event,
        user_id: str,
        verb: Json,
        obj: Json,
        *,
        ext: Json | None = None,
        result: Json | None = None,
        parent: bool = False,
        order: int = 1,
    ) -> None:
        stmt = self._statement(key, ev.ts, user_id, verb, obj, ext=ext, result=result)
        if parent:
            stmt["context"]["contextActivities"]["parent"] = [self._class()]
        self.out.append((ev.ts, ev.seq, order, stmt))

    def _statement(
        self,
        key: str,
        ts: int,
        user_id: str,
        verb: Json,
        obj: Json,
        *,
        ext: Json | None = None,
        result: Json | None = None,
    ) -> Json:
        stmt: Json = {
            "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.class_iri}/statements/{key}")),
            "actor": self._actor(user_id),
            "verb": verb,
            "object": obj,
            "context": {
                "registration": self.registration,
                "platform": PLATFORM,
                "contextActivities": {"category": CATEGORY},
                "extensions": {SESSION_ID: self.session, **(ext or {})},
            },
            "timestamp": iso(ts),
            "version": VERSION,
        }
        if result is not None:
            stmt["result"] = result
        return stmt

    def _created(self, ev: e.ClassCreated) -> None:
        self.class_iri = iri = class_activity_id(self.base, ev.class_id)
        self.registration = str(uuid.uuid5(uuid.NAMESPACE_URL, iri))
        self.session = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{iri}/session"))
        self.activity = {
            "objectType": "Activity",
            "id": iri,
            "definition": {"type": CLASS_TYPE, "name": {"en-US": ev.title}},
        }

    def _actor(self, user_id: str) -> Json:
        person = self.report.people.get(user_id)
        name = person.name if person is not None else ""
        actor = self.actors.get((user_id, name))
        if actor is None:
            account = {"homePage": self.base, "name": user_id}
            actor = {"objectType": "Agent", "account": account} | ({"name": name} if name else {})
            self.actors[(user_id, name)] = actor
        return actor

    def _class(self) -> Json:
        return self.activity

    def _poll(self, poll: Poll) -> Json:
        made = self.polls.get(poll.id)
        if made is None:
            made = self.polls[poll.id] = self._poll_activity(poll)
        return made

    def _poll_activity(self, poll: Poll) -> Json:
        return poll_activity(self.base, self.report.class_id, poll)


def poll_activity(base_url: str, class_id: str, poll: Poll) -> Json:
    """A poll as an xAPI activity (a cmi.interaction), the same live and in the replay."""
    definition: Json = {
        "type": INTERACTION_TYPE,
        "name": {"en-US": poll.question},
        "description": {"en-US": poll.question},
    }
    if poll.kind == "rating":
        definition["interactionType"] = "likert"
        steps = map(str, range(poll.min, poll.max + 1))
        definition["scale"] = [_component(v, v) for v in steps]
    elif poll.kind == "text":
        definition["interactionType"] = "fill-in"
    else:
        definition["interactionType"] = "choice"
        definition["choices"] = _components(poll.options)
        if poll.correct is not None:
            definition["correctResponsesPattern"] = ["[,]".join(map(str, poll.correct))]
    return {
        "objectType": "Activity",
        "id": poll_activity_id(base_url, class_id, poll.id),
        "definition": definition,
    }


def _component(id: str, text: str) -> Json:
    return {"id": id, "description": {"en-US": text}}


def _components(options: list[str]) -> list[Json]:
    return [_component(str(i), text) for i, text in enumerate(options)]


def response(answer: Answer) -> str:
    """A ballot in the xAPI response format of the poll's interaction type."""
    if isinstance(answer, tuple):
        return "[,]".join(map(str, answer))
    return str(answer)


def class_statements(history: Iterable[e.Event], base_url: str) -> list[Json]:
    fold = StatementFold(base_url)
    for ev in history:
        fold.apply(ev)
    return fold.statements()
