"""Coalesced live tallies: however many ballots arrive, a few messages per second.

Ballots (`PollVoted`) and upvotes (`QuestionVoted`) are journal events that
nobody receives as such. This listener notes which polls and questions they
changed and sends each one's current tally at most once per `interval`: the
first change after a quiet spell goes out at once, the rest of a storm is
folded into one message per interval, and the last change always goes out
(trailing edge), so every client ends on the exact final tally. Closing,
showing or publishing a poll sends what is pending at once.

The pacing is `classroom.tallies.Pacer` and who sees what is
`classroom.visibility` (`results_audience`, `votes_audience`): the replay's
timeline uses both too. Both messages carry `as_of`, the class seq they reflect (not
`seq`: they are state, not journal events), and a client keeps the latest
one per poll or question.
A user who (re)joins gets the live results of the open and closed polls
they may see, so a client resuming with `last_seq` is not left behind.
"""

from __future__ import annotations

import asyncio
import logging

from classroom import events as e
from classroom.polls import Poll
from classroom.polls_wire import live_results
from classroom.qa_wire import votes_view
from classroom.tallies import Pacer
from classroom.visibility import results_audience, votes_audience
from signaling.poll_timers import PollTimers
from signaling.runtime import ClassRuntime
from signaling.tasks import TaskSet
from signaling.transport import user_room

log = logging.getLogger(__name__)

INTERVAL_S = 0.25
"""At most four messages per second per poll or question."""

Key = tuple[str, str]
"""("poll" | "qa", id)"""

_FINAL = (e.PollClosed, e.PollResultsShown, e.PollPublished)


def attach_polls(runtime: ClassRuntime) -> None:
    """Coalesced live tallies and poll timers for one class."""
    Coalescer.attach(runtime)
    PollTimers.attach(runtime)


class Coalescer:
    def __init__(self, runtime: ClassRuntime, interval: float = INTERVAL_S) -> None:
        self.runtime = runtime
        self.interval = interval
        self.sent = 0
        """Messages emitted (each to one or more Socket.IO rooms)."""
        self._pacer: Pacer[Key] = Pacer(interval)
        self._due: dict[Key, asyncio.TimerHandle] = {}
        self._tasks = TaskSet()

    @classmethod
    def attach(cls, runtime: ClassRuntime, interval: float = INTERVAL_S) -> Coalescer:
        coalescer = cls(runtime, interval)
        runtime.listen(coalescer.on_event)
        runtime.on_close(coalescer.cancel)
        return coalescer

    async def on_event(self, ev: e.Event) -> None:
        match ev:
            case e.PollVoted():
                self._mark(("poll", ev.poll_id))
            case e.QuestionVoted():
                self._mark(("qa", ev.question_id))
            case _ if isinstance(ev, _FINAL):
                await self._flush(("poll", ev.poll_id))
            case e.ParticipantJoined():
                await self._greet(ev.user_id)

    def cancel(self) -> None:
        for handle in self._due.values():
            handle.cancel()
        self._due.clear()
        self._tasks.cancel()

    def _mark(self, key: Key) -> None:
        loop = asyncio.get_running_loop()
        due = self._pacer.changed(key, loop.time())
        if due is not None:  # else a tally is due already: this change rides along
            self._due[key] = loop.call_at(due, self._fire, key)

    def _fire(self, key: Key) -> None:
        self._due.pop(key, None)
        self._tasks.spawn(self._send(key))

    async def _flush(self, key: Key) -> None:
        handle = self._due.pop(key, None)
        if handle is not None:
            handle.cancel()
            await self._send(key)

    async def _send(self, key: Key) -> None:
        self._pacer.sent(key, asyncio.get_running_loop().time())
        runtime = self.runtime
        if runtime.failed:
            return
        kind, ident = key
        try:
            if kind == "poll":
                poll = runtime.room.polls.polls[ident]
                to = runtime.rooms_of(results_audience(poll))
                await self._emit("poll:results", self._results(poll), to)
            else:
                question = runtime.room.qa.questions[ident]
                votes = votes_view(runtime.room.qa, ident, runtime.room.seq, runtime.clock())
                await self._emit("qa:votes", votes, runtime.rooms_of(votes_audience(question)))
        except Exception:
            log.exception("class %s: live tally of %s not sent", runtime.class_id, key)

    def _results(self, poll: Poll) -> dict[str, object]:
        return live_results(poll, self.runtime.room.seq, self.runtime.clock())

    async def _emit(self, event: str, payload: dict[str, object], rooms: list[str]) -> None:
        await self.runtime.transport.emit(event, payload, to=rooms)
        self.sent += 1

    async def _greet(self, user_id: str) -> None:
        """The live tallies a (re)joining user may see, to that user's sockets."""
        member = self.runtime.room.live.members.get(user_id)
        if member is None:
            return
        to = [user_room(self.runtime.class_id, user_id)]
        for poll in self.runtime.room.polls.visible(member.role, member.room):
            live = poll.status in ("open", "closed") and bool(poll.ballots)
            if live and poll.results_visible_to(member.role):
                await self._emit("poll:results", self._results(poll), to)
