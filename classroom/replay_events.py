"""Every event of a recording's own stream: what learners did in its replay.

A published recording opens a second stream of events beside its class's
journal, journaled the same way (its own `seq`, `ts`, contiguous appends) in
a namespace of its own: the recording id names the stream. Ballots on the
recorded polls, timestamped questions with their replies, upvotes and
answers, and each viewer's watch progress. Question events carry the
question as it stands after the change, as the live class's do.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from classroom.events import Event, PollBallot
from classroom.roles import ReplayRole

AsyncStatus = Literal["open", "answered", "dismissed"]


class ViewerVisited(Event, tag="replay.visited"):
    """A viewer opened the replay (each connection that is not a resume)."""

    user_id: str
    name: str
    role: ReplayRole


class GuestWatched(Event, tag="replay.guest_watched"):
    """Someone opened the replay without a name (a share link's guest): counted, never named.

    It holds nothing of theirs (its `actor` is empty): guests are counted
    apart from the named viewers, and only as a number of views.
    """


class AsyncVoted(Event, tag="replay.voted"):
    """One ballot of the async cohort, replacing the voter's previous one on that poll.

    Like the live `PollVoted`, it keeps the voter (one ballot per person,
    anonymous polls included) and is never sent to anyone as such.
    """

    poll_id: str
    voter: str
    answer: PollBallot


class Reply(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    text: str
    user_id: str
    name: str
    staff: bool
    ts: int


class AsyncQuestion(msgspec.Struct, frozen=True, kw_only=True):
    """A question asked in the replay, as it stands after the change its event records."""

    id: str
    text: str
    at_ms: int
    """Where in the recording it was asked."""
    author_id: str | None = None
    """None for anonymous questions: the stream never records who asked them."""
    author_name: str | None = None
    asked_at: int = 0
    votes: int = 0
    status: AsyncStatus = "open"
    replies: tuple[Reply, ...] = ()
    answer: str | None = None
    answered_by: str | None = None
    """The name of the host or moderator who answered."""
    answered_at: int | None = None


class AsyncQuestionEvent(Event, kw_only=True):
    question: AsyncQuestion


class AsyncAsked(AsyncQuestionEvent, tag="replay.asked"):
    pass


class AsyncReplied(AsyncQuestionEvent, tag="replay.replied"):
    pass


class AsyncAnswered(AsyncQuestionEvent, tag="replay.answered"):
    pass


class AsyncDismissed(AsyncQuestionEvent, tag="replay.dismissed"):
    pass


class AsyncUpvoted(Event, tag="replay.upvoted"):
    """An upvote or its withdrawal; never sent as such (coalesced into `replay:votes`)."""

    question_id: str
    user_id: str
    up: bool


class ProgressNoted(Event, tag="replay.progress"):
    """Where a viewer is, and the stretches of the recording they watched for the first time
    (`added`) and again (`again`: seen before this report, for the report's rewatch figures)."""

    user_id: str
    position_ms: int
    added: list[tuple[int, int]] = []
    again: list[tuple[int, int]] = []


AnyReplayEvent = (
    ViewerVisited
    | GuestWatched
    | AsyncVoted
    | AsyncAsked
    | AsyncReplied
    | AsyncAnswered
    | AsyncDismissed
    | AsyncUpvoted
    | ProgressNoted
)
QUESTION_EVENTS = (AsyncAsked, AsyncReplied, AsyncAnswered, AsyncDismissed)

_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(AnyReplayEvent)


def encode(event: Event) -> bytes:
    return _encoder.encode(event)


def decode(data: bytes) -> AnyReplayEvent:
    """Decode one record of a recording's stream; raises msgspec.DecodeError on garbage."""
    event: AnyReplayEvent = _decoder.decode(data)
    return event
