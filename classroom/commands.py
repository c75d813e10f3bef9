"""Commands: what a client asks the class to do, validated before the domain sees them.

Each command struct is also the wire schema of its Socket.IO event (see
signaling/schemas.py) and names the one action of the grants table it needs.
Size limits live here, next to the fields they bound.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from classroom import events as e
from classroom.roles import Action, Role

CHAT_MAX = 2000
NAME_MAX = 100

UserId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")]
NAME_PATTERN = (
    r"^(?=.*[^\s\u200b-\u200d\u2060\ufeff])"
    r"[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]+(?![\s\S])"
)
"""A display name: no control characters, no bidirectional overrides, isolates or marks
(which reorder what surrounds the name wherever it is shown), and something visible.
(The pattern ends with "nothing follows": `$` would let a final newline through.)"""
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=NAME_MAX, pattern=NAME_PATTERN)]


def readable(error: str) -> str:
    """A validation error with the name pattern said in words."""
    return error.replace(
        f"`str` matching regex {NAME_PATTERN!r}",
        "a name with something visible and no control or text-direction characters",
    )


ChatText = Annotated[str, msgspec.Meta(min_length=1, max_length=CHAT_MAX)]
Emoji = Annotated[str, msgspec.Meta(min_length=1, max_length=16)]


class Command(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    action: ClassVar[Action]


class ChatSend(Command):
    action = Action.CHAT_SEND
    text: ChatText
    to_user: UserId | None = None


class HandRaise(Command):
    action = Action.HAND_RAISE


class HandLower(Command):
    action = Action.HAND_RAISE
    user_id: UserId | None = None
    """Another user's hand: needs HAND_LOWER_OTHERS, checked by the domain."""


class ReactionSend(Command):
    action = Action.REACT
    emoji: Emoji


class ClassEnd(Command):
    action = Action.CLASS_END


class RoleSet(Command):
    action = Action.ROLE_SET
    user_id: UserId
    role: Role


# -- breakout rooms -------------------------------------------------------

MAX_ROOMS = 50
MAX_DURATION_S = 24 * 3600
MAX_GRACE_S = 600

RoomId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
"""A breakout room id, or `main` for the main room."""


class BreakoutRoomSpec(msgspec.Struct, forbid_unknown_fields=True):
    name: Name


class BreakoutSetup(Command):
    """How to open breakout rooms: `rooms` (names) or `count`, and how people are placed.

    `assignments` (manual only) maps user ids, present or not yet joined, to room
    indices. `grace_s` is the countdown before the rooms close, at the end of the
    timer or on `breakout:close`; `cap` bounds each room's size when people choose.
    """

    action = Action.BREAKOUT_MANAGE
    rooms: (
        Annotated[list[BreakoutRoomSpec], msgspec.Meta(min_length=1, max_length=MAX_ROOMS)] | None
    ) = None
    count: Annotated[int, msgspec.Meta(ge=1, le=MAX_ROOMS)] | None = None
    assignment: Literal["manual", "random", "self"] | None = None
    assignments: (
        Annotated[dict[UserId, Annotated[int, msgspec.Meta(ge=0)]], msgspec.Meta(max_length=2000)]
        | None
    ) = None
    duration_s: Annotated[int, msgspec.Meta(ge=1, le=MAX_DURATION_S)] | None = None
    grace_s: Annotated[int, msgspec.Meta(ge=0, le=MAX_GRACE_S)] | None = None
    cap: Annotated[int, msgspec.Meta(ge=1, le=10_000)] | None = None


class BreakoutPlan(BreakoutSetup):
    """`breakout:plan`: save (or replace) a draft the host edits and opens later.

    The draft is seen by hosts and moderators only; `breakout:assign` edits its
    map while no rooms are open; `breakout:open {}` opens it.
    """


class BreakoutOpen(BreakoutSetup):
    """`breakout:open`: open rooms as described, or the draft plan when neither
    `rooms` nor `count` is given."""


class BreakoutDiscard(Command):
    """`breakout:discard`: drop the draft plan."""

    action = Action.BREAKOUT_MANAGE


class BreakoutAssign(Command):
    action = Action.BREAKOUT_MANAGE
    user_id: UserId
    room_id: RoomId


class BreakoutChoose(Command):
    action = Action.BREAKOUT_CHOOSE
    room_id: RoomId


class BreakoutVisit(Command):
    action = Action.BREAKOUT_MANAGE
    room_id: RoomId


class BreakoutBroadcast(Command):
    action = Action.BREAKOUT_MANAGE
    text: ChatText


class BreakoutHelp(Command):
    action = Action.BREAKOUT_HELP


class BreakoutExtend(Command):
    action = Action.BREAKOUT_MANAGE
    seconds: Annotated[int, msgspec.Meta(ge=1, le=MAX_DURATION_S)]


class BreakoutClose(Command):
    action = Action.BREAKOUT_MANAGE
    grace_s: Annotated[int, msgspec.Meta(ge=0, le=MAX_GRACE_S)] | None = None
    """Seconds of countdown; the rooms' own grace when left out."""


# -- polls ------------------------------------------------------------------

POLL_QUESTION_MAX = 500
POLL_OPTION_MAX = 200
POLL_OPTIONS_MAX = 20
POLL_TEXT_ANSWER_MAX = 300
RATING_BOUND = 100
"""Rating scales lie within -100..100 (and span at most 100 steps, checked by the domain)."""
POLL_DURATION_MAX_S = 3600

EntityId = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
"""A poll or question id, as the server issued it."""
PollQuestion = Annotated[str, msgspec.Meta(min_length=1, max_length=POLL_QUESTION_MAX)]
PollOption = Annotated[str, msgspec.Meta(min_length=1, max_length=POLL_OPTION_MAX)]
OptionIndex = Annotated[int, msgspec.Meta(ge=0, lt=POLL_OPTIONS_MAX)]
RatingValue = Annotated[int, msgspec.Meta(ge=-RATING_BOUND, le=RATING_BOUND)]
TextAnswer = Annotated[str, msgspec.Meta(min_length=1, max_length=POLL_TEXT_ANSWER_MAX)]


class PollCreate(Command):
    """`poll:create`: a draft; `correct` turns a choice poll into a quiz question."""

    action = Action.POLL_MANAGE
    question: PollQuestion
    kind: Literal["single", "multiple", "truefalse", "rating", "text"]
    options: Annotated[list[PollOption], msgspec.Meta(max_length=POLL_OPTIONS_MAX)] | None = None
    anonymous: bool = False
    correct: (
        Annotated[list[OptionIndex], msgspec.Meta(min_length=1, max_length=POLL_OPTIONS_MAX)] | None
    ) = None
    min: RatingValue | None = None
    max: RatingValue | None = None
    duration_s: Annotated[int, msgspec.Meta(ge=1, le=POLL_DURATION_MAX_S)] | None = None


class PollOpen(Command):
    action = Action.POLL_MANAGE
    poll_id: EntityId


BallotAnswer = (
    Annotated[list[OptionIndex], msgspec.Meta(max_length=POLL_OPTIONS_MAX)]
    | RatingValue
    | TextAnswer
)
"""Option indices (choice polls), a value (rating) or text (open polls)."""


class PollVote(Command):
    action = Action.POLL_VOTE
    poll_id: EntityId
    answer: BallotAnswer


class PollClose(Command):
    action = Action.POLL_MANAGE
    poll_id: EntityId


class PollShowResults(Command):
    """`poll:show_results`: let participants see the live results (or hide them again)."""

    action = Action.POLL_MANAGE
    poll_id: EntityId
    show: bool = True


class PollPublish(Command):
    action = Action.POLL_MANAGE
    poll_id: EntityId


class PollExport(Command):
    """`poll:export`: the poll's ballots as CSV, in the ack."""

    action = Action.POLL_MANAGE
    poll_id: EntityId


class PollLeaderboard(Command):
    """`poll:leaderboard`: quiz scores across the class, in the ack."""

    action = Action.POLL_MANAGE


# -- questions and answers --------------------------------------------------

QUESTION_MAX = 500
QA_ANSWER_MAX = 1000

QuestionText = Annotated[str, msgspec.Meta(min_length=1, max_length=QUESTION_MAX)]
AnswerText = Annotated[str, msgspec.Meta(min_length=1, max_length=QA_ANSWER_MAX)]


class QaAsk(Command):
    action = Action.QA_ASK
    text: QuestionText
    anonymous: bool = False


class QaUpvote(Command):
    action = Action.QA_VOTE
    question_id: EntityId


class QaUnvote(Command):
    action = Action.QA_VOTE
    question_id: EntityId


class QaApprove(Command):
    action = Action.QA_MODERATE
    question_id: EntityId


class QaDismiss(Command):
    action = Action.QA_MODERATE
    question_id: EntityId


class QaPin(Command):
    """`qa:pin`: the question being answered now (one per room); `pinned: false` unpins."""

    action = Action.QA_MODERATE
    question_id: EntityId
    pinned: bool = True


class QaAnswer(Command):
    action = Action.QA_MODERATE
    question_id: EntityId
    text: AnswerText | None = None


class QaModeration(Command):
    """`qa:moderation`: with it on, participants' questions wait for approval."""

    action = Action.QA_MODERATE
    on: bool


# -- media ------------------------------------------------------------------

Source = Literal["camera", "mic", "screen"]
Layer = Literal["high", "low"]
"""A video track's full picture, or the small one its publisher also sends for small tiles."""


class MediaMute(Command):
    """`rtc:mute`: mute or unmute one of your own sources."""

    action = Action.MEDIA_PUBLISH
    source: Source
    muted: bool


class MediaMuteUser(Command):
    """`rtc:mute_user`: a host or moderator mutes someone's source (only they unmute it)."""

    action = Action.MEDIA_MUTE_OTHERS
    user_id: UserId
    source: Source


class ClassLock(Command):
    """`class:lock`: `publish: false` stops participants publishing media; true allows it."""

    action = Action.CLASS_LOCK
    publish: bool


# -- recording ---------------------------------------------------------------

MarkerTitle = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class RecordingStart(Command):
    action = Action.RECORDING_CONTROL


class RecordingPause(Command):
    action = Action.RECORDING_CONTROL


class RecordingResume(Command):
    action = Action.RECORDING_CONTROL


class RecordingStop(Command):
    action = Action.RECORDING_CONTROL


class RecordingMark(Command):
    action = Action.RECORDING_CONTROL
    title: MarkerTitle


# -- slides and the whiteboard ------------------------------------------------

PAGES_MAX = 500
"""Pages of one deck (the upload's cap may be lower)."""
BLANK_PAGES = 50
"""Blank pages a room's board offers besides the decks."""
SPAN = 10_000
"""Board coordinates run 0..SPAN across a page's width and down its height."""
BATCH_POINTS = 200
"""Points in one batch of a stroke (a client sends one every 50 ms or so while drawing)."""
BOARD_TEXT_MAX = 500

Coordinate = Annotated[int, msgspec.Meta(ge=0, le=SPAN)]
Color = Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$")]
StrokeId = Annotated[str, msgspec.Meta(min_length=6, max_length=32, pattern=r"^[A-Za-z0-9_-]+$")]
"""Chosen by the drawing client, at random: unique on its board."""
Page = Annotated[int, msgspec.Meta(ge=1, le=PAGES_MAX)]


class SlidesShow(Command):
    """`slides:show`: the presenter shows a deck's page (a blank page without `deck_id`),
    zoomed to `zoom` percent around the point `x`, `y` (in 1/10000 of the page)."""

    action = Action.SLIDES_PRESENT
    deck_id: EntityId | None = None
    page: Page = 1
    zoom: Annotated[int, msgspec.Meta(ge=100, le=800)] = 100
    x: Coordinate = SPAN // 2
    y: Coordinate = SPAN // 2


class SlidesPresenter(Command):
    """`slides:presenter`: the host makes someone a presenter (`on: false` takes it back)."""

    action = Action.SLIDES_MANAGE
    user_id: UserId
    on: bool = True


class SlidesDecks(Command):
    """`slides:decks`: the class's decks, in the ack (a query)."""

    action = Action.SLIDES_PRESENT


class BoardOpen(Command):
    """`board:open`: `everyone: true` lets every participant draw; false, only hosts,
    moderators and presenters."""

    action = Action.SLIDES_MANAGE
    everyone: bool


class BoardDraw(Command):
    """`board:draw`: a batch of one stroke's points (x, y pairs, flat) on the board the
    room shows. The first batch of a stroke says how it looks (`tool`, `color`, `width`,
    and `text` for the text tool); shapes and text come whole, in one batch."""

    action = Action.BOARD_DRAW
    stroke: StrokeId
    points: Annotated[list[Coordinate], msgspec.Meta(min_length=2, max_length=2 * BATCH_POINTS)]
    tool: e.BoardTool | None = None
    color: Color | None = None
    width: Annotated[int, msgspec.Meta(ge=1, le=400)] | None = None
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=BOARD_TEXT_MAX)] | None = None
    done: bool = False


class BoardErase(Command):
    """`board:erase`: remove strokes (a participant removes only their own)."""

    action = Action.BOARD_DRAW
    strokes: Annotated[list[StrokeId], msgspec.Meta(min_length=1, max_length=100)]


class BoardUndo(Command):
    """`board:undo`: remove your last stroke on the page the room shows."""

    action = Action.BOARD_DRAW


class BoardClear(Command):
    """`board:clear`: remove every stroke from the page the room shows."""

    action = Action.BOARD_CLEAR


# -- the replay: learners who watch later ---------------------------------------

RECORDING_MAX_MS = 24 * 3600 * 1000
REPLY_MAX = 500
SPANS_PER_REPORT = 100
"""Watched spans one `replay:progress` may carry (a client sends what it watched since)."""

AtMs = Annotated[int, msgspec.Meta(ge=0, le=RECORDING_MAX_MS)]
"""A position in the recording, in ms from its start."""
ReplyText = Annotated[str, msgspec.Meta(min_length=1, max_length=REPLY_MAX)]
Span = tuple[AtMs, AtMs]


class ReplayVote(Command):
    """`replay:vote`: a ballot on a recorded poll, in the recording's own (async) cohort."""

    action = Action.POLL_VOTE
    poll_id: EntityId
    answer: BallotAnswer


class ReplayAsk(Command):
    """`replay:ask`: a question at a moment of the recording."""

    action = Action.QA_ASK
    text: QuestionText
    at_ms: AtMs
    anonymous: bool = False


class ReplayUpvote(Command):
    action = Action.QA_VOTE
    question_id: EntityId


class ReplayUnvote(Command):
    action = Action.QA_VOTE
    question_id: EntityId


class ReplayReply(Command):
    """`replay:reply`: one level of discussion under a question."""

    action = Action.QA_REPLY
    question_id: EntityId
    text: ReplyText


class ReplayAnswer(Command):
    """`replay:answer`: a host's or moderator's answer (a new one replaces it)."""

    action = Action.QA_MODERATE
    question_id: EntityId
    text: AnswerText


class ReplayDismiss(Command):
    """`replay:dismiss`: hide a question from viewers (staff still see it)."""

    action = Action.QA_MODERATE
    question_id: EntityId


class ReplayProgress(Command):
    """`replay:progress`: where the viewer is, and the spans they watched since they last said."""

    action = Action.REPLAY_WATCH
    position_ms: AtMs
    watched: Annotated[list[Span], msgspec.Meta(max_length=SPANS_PER_REPORT)] = []
