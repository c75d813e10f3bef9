"""Recording control: when a class is being recorded, paused, or not.

A recording is a span of the class's journal (pauses excluded) plus the
media the recorder captures meanwhile. The domain only keeps its state; the
recorder on the node reacts to these events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from classroom import commands as c
from classroom import events as e
from classroom.dispatch import handles
from classroom.errors import DomainError
from classroom.live import Context, Member

if TYPE_CHECKING:
    from classroom.aggregate import Classroom

RecordingState = Literal["idle", "recording", "paused"]


@dataclass
class Recording:
    state: RecordingState = "idle"
    recording_id: str | None = None
    made: list[str] = field(default_factory=list)
    """Every recording of this class, oldest first."""

    def view(self, staff: bool) -> dict[str, str]:
        """The snapshot's `recording`; its id is for hosts and moderators only."""
        out: dict[str, str] = {"state": self.state}
        if staff and self.recording_id is not None:
            out["recording_id"] = self.recording_id
        return out

    def _require(self, *states: RecordingState) -> str:
        if self.state not in states:
            raise DomainError("conflict", f"the recording is {self.state}")
        return self.recording_id or ""

    def start(self, actor: Member, ctx: Context) -> list[e.Event]:
        self._require("idle")
        # Unguessable, though access to a recording takes a replay token anyway.
        recording_id = "r" + ctx.new_id() + ctx.new_id()
        return [e.RecordingStarted(actor=actor.user_id, recording_id=recording_id)]

    def pause(self, actor: Member) -> list[e.Event]:
        rid = self._require("recording")
        return [e.RecordingPaused(actor=actor.user_id, recording_id=rid)]

    def resume(self, actor: Member) -> list[e.Event]:
        rid = self._require("paused")
        return [e.RecordingResumed(actor=actor.user_id, recording_id=rid)]

    def stop(self, actor: str, reason: str = "stopped") -> list[e.Event]:
        rid = self._require("recording", "paused")
        return [e.RecordingStopped(actor=actor, recording_id=rid, reason=reason)]

    def mark(self, actor: Member, cmd: c.RecordingMark) -> list[e.Event]:
        rid = self._require("recording")
        return [e.RecordingMarker(actor=actor.user_id, recording_id=rid, title=cmd.title)]

    def apply(self, ev: e.Event) -> None:
        match ev:
            case e.RecordingStarted():
                self.state, self.recording_id = "recording", ev.recording_id
                self.made.append(ev.recording_id)
            case e.RecordingPaused():
                self.state = "paused"
            case e.RecordingResumed():
                self.state = "recording"
            case e.RecordingStopped():
                self.state, self.recording_id = "idle", None


@handles(c.RecordingStart)
def _start(room: Classroom, actor: Member, cmd: c.RecordingStart, ctx: Context) -> list[e.Event]:
    return room.recording.start(actor, ctx)


@handles(c.RecordingPause)
def _pause(room: Classroom, actor: Member, cmd: c.RecordingPause, ctx: Context) -> list[e.Event]:
    return room.recording.pause(actor)


@handles(c.RecordingResume)
def _resume(room: Classroom, actor: Member, cmd: c.RecordingResume, ctx: Context) -> list[e.Event]:
    return room.recording.resume(actor)


@handles(c.RecordingStop)
def _stop(room: Classroom, actor: Member, cmd: c.RecordingStop, ctx: Context) -> list[e.Event]:
    return room.recording.stop(actor.user_id)


@handles(c.RecordingMark)
def _mark(room: Classroom, actor: Member, cmd: c.RecordingMark, ctx: Context) -> list[e.Event]:
    return room.recording.mark(actor, cmd)
