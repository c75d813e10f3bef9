"""A recording's stream on this node: its state, its sockets, its journal.

The replay's counterpart of `ClassRuntime`, with the same commit order
(signaling/journalled.py): a command is handled and its events stamped and
applied at once, made durable by the stream's ordered writer, and only then
broadcast and acknowledged, in seq order. A failed write stops the stream
(commands refused with `unavailable`, sockets closed), to be rebuilt from
its journal when next asked for.

What goes out: question events to everyone watching (`replay:question`,
`replay:updated`); tallies coalesced, at most one a second per poll or
question: the async cohort's results of a poll (`replay:results`) to staff
and to the learners who voted on it, a question's upvotes (`replay:votes`)
to whoever sees the question. Ballots, upvotes, visits and progress are
never sent as such. A socket gets `replay:state` once what it shows is
durable, or, resuming with `last_seq`, the question events it missed and
`replay:resumed`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Unpack

from classroom import events as e
from classroom import replay_events as r
from classroom.errors import DomainError
from classroom.replay import Replay
from classroom.replay_wire import Watcher, async_results, state_view, to_wire, votes_view
from classroom.visibility import replay_audience
from journal import Journal
from signaling.journalled import Hosting, JournalledStream
from signaling.transport import Transport

log = logging.getLogger(__name__)

TAIL = 2000
"""Recent events kept in memory for reconnect catch-up."""
TALLY_EVERY_S = 1.0
SETTLE_TRIES = 50
"""Journal barriers a joining socket waits through for a busy stream to become durable."""


def stream_room(recording_id: str) -> str:
    return f"rec:{recording_id}"


def staff_room(recording_id: str) -> str:
    return f"rec:{recording_id}:staff"


def voters_room(recording_id: str, poll_id: str) -> str:
    return f"rec:{recording_id}:p:{poll_id}"


@dataclass
class Watching:
    """One connected socket of the recording's stream."""

    sid: str
    watcher: Watcher


class ReplayRuntime(JournalledStream[Replay]):
    UNAVAILABLE = "the recording's stream is recovering from a fault; reconnect to continue"
    NOUN = "recording"
    TAIL_SIZE = TAIL
    encode = staticmethod(r.encode)

    def __init__(
        self,
        recording_id: str,
        stream: Replay,
        journal: Journal,
        transport: Transport,
        **hosting: Unpack[Hosting],
    ) -> None:
        super().__init__(recording_id, stream, journal, transport, **hosting)
        self.recording_id = recording_id
        self.journal = journal
        self.sessions: dict[str, Watching] = {}
        """By socket id: a learner may watch in two windows."""
        self._dirty: set[tuple[str, str]] = set()
        """Tallies changed since they were last sent: ("poll" | "qa", id)."""
        self._pacer: asyncio.Task[None] | None = None
        self.closed = asyncio.Event()
        """Set once the stream has closed here (unloaded, stopped or shut down)."""

    @property
    def stream(self) -> Replay:
        return self.state

    async def publish(self, stamped: list[e.Event]) -> None:
        async with self._flush_lock:
            await self._drain()

    def socket_ids(self) -> list[str]:
        return list(self.sessions)

    def quiet(self) -> bool:
        """Nothing is left to write, send or hand to a listener; no tally is due."""
        return super().quiet() and not self._dirty and not len(self._tasks)

    # -- broadcast ---------------------------------------------------------

    async def _drain(self) -> None:
        """Send every durable event not sent yet, in seq order (the caller holds the lock)."""
        upto = self.durable_seq
        while self._unsent and self._unsent[0].seq <= upto:
            ev = self._unsent.popleft()
            wire = to_wire(ev)
            if wire is not None and replay_audience(ev).everyone:
                await self.transport.emit(*wire, to=stream_room(self.recording_id))
            await self._follow(ev)
            self._notify([ev])

    async def _follow(self, ev: e.Event) -> None:
        """Rooms and tallies in step with the event just sent."""
        match ev:
            case r.AsyncVoted():
                room = voters_room(self.recording_id, ev.poll_id)
                for session in list(self.sessions.values()):
                    if session.watcher.user_id == ev.voter:
                        await self.transport.enter_room(session.sid, room)
                self._changed(("poll", ev.poll_id))
            case r.AsyncUpvoted():
                self._changed(("qa", ev.question_id))

    def _changed(self, key: tuple[str, str]) -> None:
        self._dirty.add(key)
        if self._pacer is None or self._pacer.done():
            self._pacer = asyncio.create_task(self._send_tallies())

    async def _send_tallies(self) -> None:
        """Once a second at most: each changed tally, as the durable state has it."""
        await asyncio.sleep(TALLY_EVERY_S)
        async with self._flush_lock:
            dirty, self._dirty = self._dirty, set()
            for kind, ident in sorted(dirty):
                try:
                    await self._send_tally(kind, ident)
                except Exception:
                    log.exception("recording %s: tally %s failed", self.recording_id, ident)

    async def _send_tally(self, kind: str, ident: str) -> None:
        rid, ts = self.recording_id, self.clock()
        if kind == "poll":
            results = async_results(self.stream, ident, ts)
            await self.transport.emit(
                "replay:results", results, to=[staff_room(rid), voters_room(rid, ident)]
            )
            return
        thread = self.stream.questions[ident]
        votes = votes_view(thread, self.stream.seq, ts)
        to = staff_room(rid) if thread.dismissed else stream_room(rid)
        await self.transport.emit("replay:votes", votes, to=to)

    # -- sessions ----------------------------------------------------------

    async def attach(self, sid: str, watcher: Watcher, last_seq: int | None) -> None:
        """Join a socket: a visit (unless it resumes), then its state or catch-up, then live."""
        self._refuse_if_stopped()  # unloaded just now: the client connects again
        self._idle_since = None
        self.sessions[sid] = Watching(sid, watcher)
        resuming = last_seq is not None and self._can_replay(last_seq)
        if watcher.guest and not resuming:
            await self.commit(self.stream.guest_watched())
        elif not resuming:
            await self.commit(self.stream.visit(watcher.user_id, watcher.name, watcher.role))
        async with self._flush_lock:
            await self._settle()
            seq = self.stream.seq
            state = None if resuming else state_view(self.stream, watcher)
            await self._drain()
            for room in self._rooms_of(watcher):
                await self.transport.enter_room(sid, room)
            if state is not None:
                await self.transport.emit("replay:state", state, to=sid)
                return
            for ev in [ev for ev in self.tail if last_seq is not None and ev.seq > last_seq]:
                wire = to_wire(ev)
                if wire is not None and self._sees(watcher, ev):
                    await self.transport.emit(*wire, to=sid)
            await self.transport.emit("replay:resumed", {"seq": seq}, to=sid)

    async def _settle(self) -> None:
        """Wait until everything the state holds is durable (bounded: a stream that never
        settles is refused rather than shown ahead of its journal)."""
        for _ in range(SETTLE_TRIES):
            if self.stream.seq <= self.durable_seq:
                return
            await self._writer.barrier()
        raise DomainError("unavailable", self.UNAVAILABLE)

    def _rooms_of(self, watcher: Watcher) -> list[str]:
        rid = self.recording_id
        rooms = [stream_room(rid)]
        if watcher.staff:
            rooms.append(staff_room(rid))
        voted = [p.id for p in self.stream.polls.values() if watcher.user_id in p.ballots]
        return rooms + [voters_room(rid, poll_id) for poll_id in voted]

    def _sees(self, watcher: Watcher, ev: e.Event) -> bool:
        return replay_audience(ev).everyone or watcher.staff

    def detach(self, sid: str) -> None:
        self.sessions.pop(sid, None)
        if not self.sessions:
            self._idle_since = time.monotonic()

    async def close(self) -> None:
        await super().close()
        if self._pacer is not None:
            self._pacer.cancel()
        self.closed.set()
