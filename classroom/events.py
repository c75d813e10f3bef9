"""Every event a class can hold: the one vocabulary of what happened.

Events are immutable msgspec structs, tagged by `type`, encoded to msgpack for
the journal. `seq` and `ts` are stamped when the event is committed; the
domain builds events with both at 0.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from classroom.roles import Role

MediaMode = Literal["sfu", "mesh"]
MAIN_ROOM = "main"


class Event(msgspec.Struct, tag_field="type", kw_only=True):
    seq: int = 0
    ts: int = 0
    actor: str = ""
    """The user whose command caused the event; empty for the server itself."""


class ClassCreated(Event, tag="class.created"):
    class_id: str
    title: str
    media: MediaMode = "sfu"
    scheduled_at: int | None = None
    """When the class is due to start (epoch ms), if it was scheduled."""
    time_zone: str | None = None
    """The IANA time zone it was scheduled in, to show the time as it was meant."""
    capacity: int | None = None
    """Participants at once (staff not counted); None: the server's limit alone."""
    created_by: str | None = None
    """The organizer who created the class (their user id); None: the admin."""


class ClassEnded(Event, tag="class.ended"):
    pass


class ParticipantJoined(Event, tag="participant.joined"):
    user_id: str
    name: str
    role: Role
    room: str = MAIN_ROOM


class ParticipantLeft(Event, tag="participant.left"):
    user_id: str
    reason: str = "left"


class RoleChanged(Event, tag="participant.role_changed"):
    user_id: str
    role: Role


class ChatSent(Event, tag="chat.sent"):
    id: str
    user_id: str
    name: str
    text: str
    room: str
    to_user: str | None = None


class HandChanged(Event, tag="hand.changed"):
    user_id: str
    raised: bool
    room: str


class ReactionSent(Event, tag="reaction.sent"):
    user_id: str
    emoji: str
    room: str


# -- breakout rooms -------------------------------------------------------

BreakoutAssignment = Literal["manual", "random", "self"]


class ParticipantMoved(Event, tag="participant.moved"):
    """A user's current room changes (breakout assignment, choice, visit, close)."""

    user_id: str
    room: str
    from_room: str


class BreakoutRoom(msgspec.Struct, frozen=True):
    id: str
    name: str


class BreakoutPlanned(Event, tag="breakout.planned"):
    """The host's draft for the next breakout rooms, replaced whole on every edit."""

    rooms: list[BreakoutRoom]
    assignment: BreakoutAssignment
    assignments: dict[str, str] = {}
    """user id -> room id (manual plans)."""
    duration_s: int | None = None
    grace_s: int = 0
    cap: int | None = None


class BreakoutPlanDiscarded(Event, tag="breakout.plan_discarded"):
    pass


class BreakoutOpened(Event, tag="breakout.opened"):
    rooms: list[BreakoutRoom]
    assignment: BreakoutAssignment
    ends_at: int | None = None
    grace_s: int = 0
    cap: int | None = None


class BreakoutAssigned(Event, tag="breakout.assigned"):
    """Where a user belongs while the rooms are open; `main` takes the assignment back."""

    user_id: str
    room_id: str


class BreakoutMessage(Event, tag="breakout.message"):
    user_id: str
    name: str
    text: str


class BreakoutHelpRequested(Event, tag="breakout.help_requested"):
    user_id: str
    name: str
    room_id: str


class BreakoutExtended(Event, tag="breakout.extended"):
    ends_at: int


class BreakoutWarning(Event, tag="breakout.warning"):
    ends_at: int
    in_s: int


class BreakoutClosing(Event, tag="breakout.closing"):
    in_s: int
    closes_at: int


class BreakoutClosed(Event, tag="breakout.closed"):
    pass


# -- polls ----------------------------------------------------------------

PollKind = Literal["single", "multiple", "truefalse", "rating", "text"]
PollBallot = list[int] | int | str
"""An answer: option indices (choice kinds), a value (rating) or free text (text)."""


class PollResults(msgspec.Struct, kw_only=True):
    """Tallies as clients see them: never who voted what."""

    kind: PollKind
    counts: list[int] = []
    """Per option (choice kinds) or per value from the scale's min (rating)."""
    words: list[tuple[str, int]] = []
    """Text polls: the most frequent words and their counts, for a word cloud."""
    total: int = 0
    """Choices made (a multiple-choice ballot counts each option it picks)."""
    voters: int = 0
    mean: float | None = None
    """Rating polls: the average value."""


class PollEvent(Event, kw_only=True):
    """Something that happened to one poll; `room` scopes it (a breakout or main)."""

    poll_id: str
    room: str = MAIN_ROOM


class PollCreated(PollEvent, tag="poll.created"):
    """A draft poll, seen by hosts and moderators only."""

    question: str
    kind: PollKind
    options: list[str] = []
    anonymous: bool = False
    correct: list[int] | None = None
    """Quiz questions: the right option indices. Never sent before publishing."""
    min: int | None = None
    max: int | None = None
    duration_s: int | None = None


class PollOpened(PollEvent, tag="poll.opened"):
    """Carries the public definition (never `correct`) so the event stands alone."""

    question: str
    kind: PollKind
    options: list[str] = []
    anonymous: bool = False
    quiz: bool = False
    min: int | None = None
    max: int | None = None
    duration_s: int | None = None
    ends_at: int | None = None


class PollVoted(PollEvent, tag="poll.voted"):
    """One ballot, replacing the voter's previous one.

    The journal keeps the voter so that a restarted or failed-over server
    still counts one ballot per person, anonymous polls included. The event is
    never sent to anyone (its audience is nobody): clients see only coalesced
    tallies, exports of anonymous polls carry no voter, and replay timelines
    leave it out.
    """

    voter: str
    answer: PollBallot


class PollResultsShown(PollEvent, tag="poll.results_shown"):
    """The host shows (or hides again) the live results to participants."""

    shown: bool
    results: PollResults | None = None


class PollClosed(PollEvent, tag="poll.closed"):
    reason: Literal["host", "timer"] = "host"
    results: PollResults | None = None
    """Present only when participants may see results; staff get `poll:results`."""


class PollPublished(PollEvent, tag="poll.published"):
    results: PollResults
    correct: list[int] | None = None


class PollGraded(PollEvent, tag="poll.graded"):
    """A quiz voter's own feedback at publishing, sent to that voter only."""

    user_id: str
    answer: PollBallot
    correct: bool


# -- questions and answers ------------------------------------------------

QuestionStatus = Literal["pending", "open", "answered", "dismissed"]


class QuestionView(msgspec.Struct, kw_only=True):
    """A question as it stands after the change its event records."""

    id: str
    text: str
    author_id: str | None = None
    """None for anonymous questions: the server never records who asked them."""
    author_name: str | None = None
    room: str = MAIN_ROOM
    votes: int = 0
    status: QuestionStatus = "open"
    pinned: bool = False
    answer: str | None = None
    asked_at: int = 0


class QuestionEvent(Event, kw_only=True):
    question: QuestionView
    public: bool = True
    """Whether participants of the question's room may see this change."""


class QuestionAsked(QuestionEvent, tag="qa.asked"):
    pass


class QuestionApproved(QuestionEvent, tag="qa.approved"):
    pass


class QuestionDismissed(QuestionEvent, tag="qa.dismissed"):
    pass


class QuestionPinned(QuestionEvent, tag="qa.pinned"):
    """Pinned or unpinned (see `question.pinned`); pinning unpins the room's previous one."""


class QuestionAnswered(QuestionEvent, tag="qa.answered"):
    pass


class QuestionVoted(Event, tag="qa.voted"):
    """An upvote or its withdrawal; never sent as such (coalesced into `qa:votes`)."""

    question_id: str
    user_id: str
    up: bool


class QaModerationSet(Event, tag="qa.moderation"):
    on: bool


# -- media ------------------------------------------------------------------

TrackKind = Literal["audio", "video"]
TrackSource = Literal["camera", "mic", "screen"]


class TrackPublished(Event, tag="media.track_published"):
    """A track starts flowing through the SFU; its start time lines up recorded media."""

    track_id: str
    user_id: str
    kind: TrackKind
    source: TrackSource
    room: str
    muted: bool = False


class TrackUnpublished(Event, tag="media.track_unpublished"):
    track_id: str
    user_id: str
    room: str
    reason: str = "unpublished"


class MediaMuted(Event, tag="media.muted"):
    """A user's source is muted or unmuted (by them, or muted by a host or moderator)."""

    user_id: str
    source: TrackSource
    muted: bool
    room: str


class PublishLockSet(Event, tag="class.publish_lock"):
    """`publish` false: only hosts and moderators may publish media."""

    publish: bool


class SpeakerChanged(Event, tag="media.speaker"):
    """The loudest voice of a room, from the audio level header; None when all are quiet."""

    room: str
    user_id: str | None = None


# -- recording ---------------------------------------------------------------


class RecordingStarted(Event, tag="recording.started"):
    recording_id: str


class RecordingPaused(Event, tag="recording.paused"):
    recording_id: str


class RecordingResumed(Event, tag="recording.resumed"):
    recording_id: str


class RecordingStopped(Event, tag="recording.stopped"):
    recording_id: str
    reason: str = "stopped"


class RecordingMarker(Event, tag="recording.marker"):
    """A chapter mark the host set while recording."""

    recording_id: str
    title: str


class CaptureFileStarted(Event, tag="recording.track_started"):
    """Recorder bookkeeping, not something that happened in the class: the capture began
    file `file` with track `track_id`, whose first frame it wrote at `at_ms`.

    It is journaled so that which file holds which track, and when it began, survives a
    crash and reaches whichever node publishes the recording; it lines the media up with
    the timeline. Nobody is sent it (its tag is older than its name).
    """

    recording_id: str
    track_id: str
    user_id: str
    kind: str
    source: str
    file: str
    at_ms: int
    """Wall-clock time of that first frame (epoch ms)."""


# -- slides and the whiteboard ---------------------------------------------------

BoardTool = Literal["pen", "highlighter", "line", "arrow", "rect", "ellipse", "text"]


class DeckAdded(Event, tag="slides.deck_added"):
    """An uploaded PDF whose pages were rendered: it may be shown from now on."""

    deck_id: str
    title: str
    """The deck's name, as its uploader gave it."""
    pages: int


class SlideShown(Event, tag="slides.shown"):
    """What a room's board shows: a deck's page, or blank page `page` when `deck_id` is
    empty; `zoom` (percent) and the point at the view's centre (`x`, `y`, in 1/10000 of
    the page's width and height)."""

    room: str
    deck_id: str
    page: int
    zoom: int = 100
    x: int = 5000
    y: int = 5000


class PresenterSet(Event, tag="slides.presenter"):
    """The host makes someone a presenter (`on`) or takes it back."""

    user_id: str
    on: bool


class BoardOpened(Event, tag="board.opened"):
    """The host lets everyone draw (`everyone`), or only hosts, moderators and presenters."""

    everyone: bool


class Ink(msgspec.Struct, frozen=True, kw_only=True):
    """How a stroke looks: set by its first batch of points."""

    tool: BoardTool
    color: str
    width: int
    text: str | None = None


class InkDrawn(Event, tag="board.drawn"):
    """A batch of a stroke's points (x, y pairs, flat, in 1/10000 of the page) on a board:
    the room's and the page's (`deck_id` empty: a blank page). The first batch of a
    stroke carries its `ink`; `done` ends it."""

    room: str
    deck_id: str
    page: int
    user_id: str
    stroke_id: str
    points: list[int]
    ink: Ink | None = None
    done: bool = False


class InkErased(Event, tag="board.erased"):
    """Strokes removed from a board (the eraser, or an undo)."""

    room: str
    deck_id: str
    page: int
    stroke_ids: list[str]


class BoardCleared(Event, tag="board.cleared"):
    room: str
    deck_id: str
    page: int


AnyEvent = (
    ClassCreated
    | ClassEnded
    | ParticipantJoined
    | ParticipantLeft
    | RoleChanged
    | ChatSent
    | HandChanged
    | ReactionSent
    | ParticipantMoved
    | BreakoutPlanned
    | BreakoutPlanDiscarded
    | BreakoutOpened
    | BreakoutAssigned
    | BreakoutMessage
    | BreakoutHelpRequested
    | BreakoutExtended
    | BreakoutWarning
    | BreakoutClosing
    | BreakoutClosed
    | PollCreated
    | PollOpened
    | PollVoted
    | PollResultsShown
    | PollClosed
    | PollPublished
    | PollGraded
    | QuestionAsked
    | QuestionApproved
    | QuestionDismissed
    | QuestionPinned
    | QuestionAnswered
    | QuestionVoted
    | QaModerationSet
    | TrackPublished
    | TrackUnpublished
    | MediaMuted
    | PublishLockSet
    | SpeakerChanged
    | RecordingStarted
    | RecordingPaused
    | RecordingResumed
    | RecordingStopped
    | RecordingMarker
    | CaptureFileStarted
    | DeckAdded
    | SlideShown
    | PresenterSet
    | BoardOpened
    | InkDrawn
    | InkErased
    | BoardCleared
)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(AnyEvent)


def encode(event: Event) -> bytes:
    return _encoder.encode(event)


def decode(data: bytes) -> AnyEvent:
    """Decode one journal record; raises msgspec.DecodeError on garbage."""
    event: AnyEvent = _decoder.decode(data)
    return event


def stamp(event: Event, seq: int, ts: int) -> Event:
    return msgspec.structs.replace(event, seq=seq, ts=ts)


def stamp_after(drafts: list[Event], seq: int, ts: int) -> list[Event]:
    """Drafts numbered on from `seq` and stamped with `ts`: a stream's next events."""
    return [stamp(d, seq + i + 1, ts) for i, d in enumerate(drafts)]
