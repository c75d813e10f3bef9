"""The inbound Socket.IO events served by the domain: each name, its command (or query)
schema and its rate family. Events served by another part (media signaling) are
routed to it by `Gateway.route`, with a schema of their own, through the same gate."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec

from classroom import commands as c
from classroom import events as e
from classroom.breakouts_wire import opened_reply, planned_reply
from classroom.errors import DomainError, ErrorCode
from classroom.polls_wire import created_reply
from classroom.qa_wire import asked_reply
from classroom.replay import Replay
from classroom.replay_wire import asked_reply as replay_asked_reply
from classroom.replay_wire import outcome

Reply = dict[str, Any]


@dataclass(frozen=True)
class Inbound:
    command: type[c.Command]
    family: str
    reply: Callable[[list[e.Event]], Reply] | None = None
    """Extra ack fields taken from the committed events (e.g. the new poll's id)."""


def recording_reply(events: list[e.Event]) -> Reply:
    bounds = (e.RecordingStarted, e.RecordingStopped)
    ids = [ev.recording_id for ev in events if isinstance(ev, bounds)]
    return {"recording_id": ids[0]} if ids else {}


INBOUND: dict[str, Inbound] = {
    "chat:send": Inbound(c.ChatSend, "chat"),
    "hand:raise": Inbound(c.HandRaise, "hand"),
    "hand:lower": Inbound(c.HandLower, "hand"),
    "reaction:send": Inbound(c.ReactionSend, "reaction"),
    "class:end": Inbound(c.ClassEnd, "control"),
    "participant:set_role": Inbound(c.RoleSet, "control"),
    "breakout:plan": Inbound(c.BreakoutPlan, "breakout", planned_reply),
    "breakout:discard": Inbound(c.BreakoutDiscard, "breakout"),
    "breakout:open": Inbound(c.BreakoutOpen, "breakout", opened_reply),
    "breakout:assign": Inbound(c.BreakoutAssign, "breakout"),
    "breakout:choose": Inbound(c.BreakoutChoose, "breakout"),
    "breakout:visit": Inbound(c.BreakoutVisit, "breakout"),
    "breakout:broadcast": Inbound(c.BreakoutBroadcast, "breakout"),
    "breakout:help": Inbound(c.BreakoutHelp, "breakout"),
    "breakout:extend": Inbound(c.BreakoutExtend, "breakout"),
    "breakout:close": Inbound(c.BreakoutClose, "breakout"),
    "poll:create": Inbound(c.PollCreate, "poll", created_reply),
    "poll:open": Inbound(c.PollOpen, "poll"),
    "poll:vote": Inbound(c.PollVote, "poll"),
    "poll:close": Inbound(c.PollClose, "poll"),
    "poll:show_results": Inbound(c.PollShowResults, "poll"),
    "poll:publish": Inbound(c.PollPublish, "poll"),
    "poll:export": Inbound(c.PollExport, "poll"),
    "poll:leaderboard": Inbound(c.PollLeaderboard, "poll"),
    "qa:ask": Inbound(c.QaAsk, "qa", asked_reply),
    "qa:upvote": Inbound(c.QaUpvote, "qa"),
    "qa:unvote": Inbound(c.QaUnvote, "qa"),
    "qa:approve": Inbound(c.QaApprove, "qa"),
    "qa:dismiss": Inbound(c.QaDismiss, "qa"),
    "qa:pin": Inbound(c.QaPin, "qa"),
    "qa:answer": Inbound(c.QaAnswer, "qa"),
    "qa:moderation": Inbound(c.QaModeration, "qa"),
    "rtc:mute": Inbound(c.MediaMute, "rtc"),
    "rtc:mute_user": Inbound(c.MediaMuteUser, "rtc"),
    "class:lock": Inbound(c.ClassLock, "control"),
    "recording:start": Inbound(c.RecordingStart, "control", recording_reply),
    "recording:pause": Inbound(c.RecordingPause, "control"),
    "recording:resume": Inbound(c.RecordingResume, "control"),
    "recording:stop": Inbound(c.RecordingStop, "control", recording_reply),
    "recording:marker": Inbound(c.RecordingMark, "control"),
    "slides:show": Inbound(c.SlidesShow, "slides"),
    "slides:presenter": Inbound(c.SlidesPresenter, "control"),
    "slides:decks": Inbound(c.SlidesDecks, "slides"),
    "board:open": Inbound(c.BoardOpen, "control"),
    "board:draw": Inbound(c.BoardDraw, "board"),
    "board:erase": Inbound(c.BoardErase, "board"),
    "board:undo": Inbound(c.BoardUndo, "board"),
    "board:clear": Inbound(c.BoardClear, "board"),
}


@dataclass(frozen=True)
class ReplayInbound:
    """An inbound event of a recording's stream (a replay token's socket)."""

    command: type[c.Command]
    family: str
    reply: Callable[[Replay, str, c.Command, list[e.Event]], Reply] | None = None
    """Ack fields from the stream once the command is durable (the outcome of a ballot)."""


def vote_reply(stream: Replay, user_id: str, cmd: c.Command, _: list[e.Event]) -> Reply:
    assert isinstance(cmd, c.ReplayVote)
    return outcome(stream, cmd.poll_id, user_id)


def ask_reply(stream: Replay, user_id: str, cmd: c.Command, events: list[e.Event]) -> Reply:
    return replay_asked_reply(events)


REPLAY_INBOUND: dict[str, ReplayInbound] = {
    "replay:vote": ReplayInbound(c.ReplayVote, "poll", vote_reply),
    "replay:ask": ReplayInbound(c.ReplayAsk, "qa", ask_reply),
    "replay:upvote": ReplayInbound(c.ReplayUpvote, "qa"),
    "replay:unvote": ReplayInbound(c.ReplayUnvote, "qa"),
    "replay:reply": ReplayInbound(c.ReplayReply, "qa"),
    "replay:answer": ReplayInbound(c.ReplayAnswer, "qa"),
    "replay:dismiss": ReplayInbound(c.ReplayDismiss, "qa"),
    "replay:progress": ReplayInbound(c.ReplayProgress, "progress"),
}

_TOO_LONG = re.compile(r"length <= \d+")


def parse(event: str, data: Any, schema: type[c.Command] | None = None) -> c.Command:
    """Validate a payload against its event's schema, or refuse it with a wire error."""
    if schema is None:
        spec = INBOUND.get(event)
        if spec is None:
            raise DomainError("bad_request", f"unknown event {event!r}")
        schema = spec.command
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise DomainError("bad_request", f"{event} takes an object")
    try:
        return msgspec.convert(data, schema, strict=True)
    except msgspec.ValidationError as exc:
        code: ErrorCode = "too_large" if _TOO_LONG.search(str(exc)) else "bad_request"
        raise DomainError(code, f"{event}: {c.readable(str(exc))}") from exc
