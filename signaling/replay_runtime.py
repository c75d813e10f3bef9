"""A recording's stream on this node: its state, its sockets, its journal.

The replay's counterpart of `ClassRuntime`, with the same commit order: a
command is handled and its events stamped and applied at once, made durable
by the stream's ordered writer, and only then broadcast and acknowledged, in
seq order. A failed write stops the stream (commands refused with
`unavailable`, sockets closed), to be rebuilt from its journal when next
asked for.

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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from classroom import events as e
from classroom import replay_events as r
from classroom.commands import Command
from classroom.errors import DomainError
from classroom.live import Context
from classroom.replay import Replay
from classroom.replay_wire import Watcher, async_results, state_view, to_wire, votes_view
from classroom.visibility import replay_audience
from journal import Fence, Journal
from journal.writer import OrderedWriter
from signaling.runtime import Listener, new_id, now_ms
from signaling.tasks import TaskSet
from signaling.transport import Transport

log = logging.getLogger(__name__)

UNAVAILABLE = "the recording's stream is recovering from a fault; reconnect to continue"
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


def _always() -> bool:
    return True


@dataclass
class Watching:
    """One connected socket of the recording's stream."""

    sid: str
    watcher: Watcher


class ReplayRuntime:
    def __init__(
        self,
        recording_id: str,
        stream: Replay,
        journal: Journal,
        transport: Transport,
        clock: Callable[[], int] = now_ms,
        ids: Callable[[], str] = new_id,
        fence: Fence | None = None,
        serving: Callable[[], bool] = _always,
    ) -> None:
        self.recording_id = recording_id
        self.stream = stream
        self.journal = journal
        self.transport = transport
        self.clock = clock
        self.ids = ids
        self.serving = serving
        self.sessions: dict[str, Watching] = {}
        """By socket id: a learner may watch in two windows."""
        self.tail: deque[e.Event] = deque(maxlen=TAIL)
        self.failed = False
        self.on_stop: Callable[[ReplayRuntime], None] = lambda _: None
        self._loaded = stream.seq
        self._writer = OrderedWriter(journal, recording_id, fence)
        self._unsent: deque[e.Event] = deque()
        self._flush_lock = asyncio.Lock()
        self._dirty: set[tuple[str, str]] = set()
        """Tallies changed since they were last sent: ("poll" | "qa", id)."""
        self._pacer: asyncio.Task[None] | None = None
        self._listeners: list[Listener] = []
        self._busy: list[Callable[[], bool]] = []
        self._closers: list[Callable[[], None]] = []
        self._tasks = TaskSet()
        self._closed = False
        self.closed = asyncio.Event()
        """Set once the stream has closed here (unloaded, stopped or shut down)."""
        self._idle_since: float | None = time.monotonic()
        """When its last socket left (None while one is connected)."""

    def idle_for(self, seconds: float) -> bool:
        """Whether nobody has watched for `seconds` and nothing is left to write, send or
        hand to a listener: the stream can unload, to be rebuilt when next asked for."""
        if self._idle_since is None or time.monotonic() - self._idle_since < seconds:
            return False
        busy = any(busy() for busy in self._busy)
        return not self._unsent and not self._dirty and not len(self._tasks) and not busy

    def listen(self, listener: Listener) -> None:
        """Hear each event once it is durable and broadcast, in a task of its own (off the
        acknowledgement path; one that fails is logged and harms nothing else)."""
        self._listeners.append(listener)

    def keep_loaded_while(self, busy: Callable[[], bool]) -> None:
        """Keep the stream loaded while `busy()` is true (a service still has its events to
        hand on), even with nobody watching."""
        self._busy.append(busy)

    def on_close(self, closer: Callable[[], None]) -> None:
        """Run `closer` when the stream closes here."""
        self._closers.append(closer)

    def _notify(self, ev: e.Event) -> None:
        for listener in self._listeners:
            self._tasks.spawn(self._hear(listener, ev))

    async def _hear(self, listener: Listener, ev: e.Event) -> None:
        try:
            await listener(ev)
        except Exception:
            log.exception("recording %s: listener failed on seq %d", self.recording_id, ev.seq)

    @property
    def durable_seq(self) -> int:
        return max(self._loaded, self._writer.durable_seq)

    # -- commands ----------------------------------------------------------

    def admit(self, user_id: str, cmd: Command) -> None:
        """The gate: the stream serves here, the sender opened it, their role allows it."""
        self._refuse_if_stopped()
        self.stream.admit(user_id, cmd)

    async def execute(self, user_id: str, cmd: Command) -> list[e.Event]:
        self._refuse_if_stopped()
        now = self.clock()  # one reading: a deadline the command sets is `ts` + its length
        drafts = self.stream.handle(user_id, cmd, Context(now, self.ids))
        return await self.commit(drafts, now)

    async def commit(self, drafts: list[e.Event], ts: int | None = None) -> list[e.Event]:
        if not drafts:
            return []
        self._refuse_if_stopped()
        stamped = self.stream.commit(drafts, self.clock() if ts is None else ts)
        self.tail.extend(stamped)
        self._unsent.extend(stamped)
        try:
            await self._writer.write([(ev.seq, r.encode(ev)) for ev in stamped])
        except Exception as exc:
            self.stop(f"journal write failed: {exc}")
            raise DomainError("unavailable", UNAVAILABLE) from exc
        async with self._flush_lock:
            await self._drain()
        return stamped

    def _refuse_if_stopped(self) -> None:
        if not self.failed and not self.serving():
            self.stop("its lease ran out")
        if self.failed:
            raise DomainError("unavailable", UNAVAILABLE)

    def stop(self, reason: str) -> None:
        """Stop serving and close every socket; the stream is rebuilt when next asked for."""
        if self.failed:
            return
        log.warning("recording %s: stopping its stream: %s", self.recording_id, reason)
        self.failed = True
        self._tasks.spawn(self._close_sockets())

    async def _close_sockets(self) -> None:
        for sid in list(self.sessions):
            await self.transport.disconnect(sid)
        self.on_stop(self)

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
            self._notify(ev)

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
        raise DomainError("unavailable", UNAVAILABLE)

    def _rooms_of(self, watcher: Watcher) -> list[str]:
        rid = self.recording_id
        rooms = [stream_room(rid)]
        if watcher.staff:
            rooms.append(staff_room(rid))
        voted = [p.id for p in self.stream.polls.values() if watcher.user_id in p.ballots]
        return rooms + [voters_room(rid, poll_id) for poll_id in voted]

    def _sees(self, watcher: Watcher, ev: e.Event) -> bool:
        return replay_audience(ev).everyone or watcher.staff

    def _can_replay(self, last_seq: int) -> bool:
        if last_seq > self.stream.seq or last_seq < 0:
            return False
        oldest = self.tail[0].seq if self.tail else self.stream.seq + 1
        return last_seq >= oldest - 1

    def detach(self, sid: str) -> None:
        self.sessions.pop(sid, None)
        if not self.sessions:
            self._idle_since = time.monotonic()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._writer.close()
        if self._pacer is not None:
            self._pacer.cancel()
        self._tasks.cancel()
        for closer in self._closers:
            closer()
        self.closed.set()
