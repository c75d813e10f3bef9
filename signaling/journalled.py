"""What a live class and a recording's stream share: commands made durable, then published.

Commit order is the heart of it. A command is handled and its events are
stamped with one clock reading and applied synchronously (so concurrent
commands see each other's effects in seq order), then made durable by the
stream's ordered writer, and only then published (broadcast, and the
command acknowledged), in seq order. Nothing acknowledged can be lost by a
crash.

A write that fails leaves the state ahead of the journal. The stream then
stops: it refuses commands with `unavailable`, disconnects every socket, and
is dropped, to be rebuilt from what is durable when it is next asked for;
nothing that was not durable was published.

Listeners (media, timers, webhooks, reports) hear each event after it is
published, in seq order, from a task of their own: they are not on the
acknowledgement path, and one that fails is logged and counted, and changes
nothing for the others or for any command.

A subclass says what differs: how an event is encoded for the journal
(`encode`), how durable events are published (`publish`), which sockets it
holds (`socket_ids`), what else keeps it loaded (`quiet`), and its words
(`UNAVAILABLE`, `NOUN`) and tail (`TAIL_SIZE`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ClassVar, Generic, Protocol, Self, TypedDict, TypeVar, Unpack

from classroom import events as e
from classroom.commands import Command
from classroom.errors import DomainError
from classroom.live import Context
from journal import Fence, Journal
from journal.writer import OrderedWriter
from signaling.tasks import TaskSet
from signaling.transport import Transport

log = logging.getLogger(__name__)

Listener = Callable[[e.Event], Awaitable[None]]
ListenerFailed = Callable[[Listener, e.Event], None]


def now_ms() -> int:
    return int(time.time() * 1000)


def new_id() -> str:
    return secrets.token_hex(6)


def _always() -> bool:
    return True


def _ignore(listener: Listener, ev: e.Event) -> None:
    return None


class Domain(Protocol):
    """A stream's pure state: it gates, handles and numbers commands' events."""

    seq: int

    def admit(self, user_id: str, cmd: Command) -> object: ...

    def handle(self, user_id: str, cmd: Command, ctx: Context) -> list[e.Event]: ...

    def commit(self, drafts: list[e.Event], ts: int) -> list[e.Event]: ...


D = TypeVar("D", bound=Domain)


class Hosting(TypedDict, total=False):
    """How a stream is hosted on this node: its clock and ids (fakes in tests), and the
    lease it serves under in a cluster (the fence of its writes, whether it still holds)."""

    clock: Callable[[], int]
    ids: Callable[[], str]
    fence: Fence | None
    serving: Callable[[], bool]


class JournalledStream(Generic[D]):
    UNAVAILABLE: ClassVar[str] = "recovering from a fault; reconnect to continue"
    """Why commands are refused once the stream has stopped."""
    NOUN: ClassVar[str] = "stream"
    """What logs call it, before its name."""
    TAIL_SIZE: ClassVar[int] = 2000
    """Recent events kept in memory for reconnect catch-up."""

    def __init__(
        self,
        name: str,
        state: D,
        journal: Journal,
        transport: Transport,
        **hosting: Unpack[Hosting],
    ) -> None:
        self.state = state
        self.transport = transport
        self.what = f"{self.NOUN} {name}"
        self.clock = hosting.get("clock", now_ms)
        self.ids = hosting.get("ids", new_id)
        self.serving = hosting.get("serving", _always)
        """Whether this node may still take commands for the stream (its lease, in a cluster)."""
        self.tail: deque[e.Event] = deque(maxlen=self.TAIL_SIZE)
        self.failed = False
        self.on_stop: Callable[[Self], None] = lambda _: None
        """Called with the stream once it stops serving (a failed write, a lost lease)."""
        self.listener_failed: ListenerFailed = _ignore
        self._loaded = state.seq
        self._writer = OrderedWriter(journal, name, hosting.get("fence"))
        self._unsent: deque[e.Event] = deque()
        """Stamped events not published yet, in seq order."""
        self._flush_lock = asyncio.Lock()
        self._listeners: list[Listener] = []
        self._notices: deque[e.Event] = deque()
        self._notifier: asyncio.Task[None] | None = None
        self._closers: list[Callable[[], None]] = []
        self._busy: list[Callable[[], bool]] = []
        self._tasks = TaskSet()
        self._closed = False
        self._idle_since: float | None = time.monotonic()
        """When its last socket left (None while one is connected)."""

    # -- what a subclass says ----------------------------------------------

    @staticmethod
    def encode(event: e.Event) -> bytes:
        """The event as its journal keeps it."""
        raise NotImplementedError

    async def publish(self, stamped: list[e.Event]) -> None:
        """Send what is durable now, `stamped` (just written) included, in seq order."""
        raise NotImplementedError

    def socket_ids(self) -> list[str]:
        """The sockets to close when the stream stops."""
        raise NotImplementedError

    def quiet(self) -> bool:
        """Nothing left to write, publish or hand on: the stream may unload."""
        return not self._unsent and not self._notices and not any(busy() for busy in self._busy)

    # -- services ----------------------------------------------------------

    @property
    def durable_seq(self) -> int:
        """Every event up to this seq is in the journal."""
        return max(self._loaded, self._writer.durable_seq)

    def idle_for(self, seconds: float) -> bool:
        """Whether nobody has been connected for `seconds` and the stream is quiet: it
        can be unloaded, and rebuilt from its journal when next asked for."""
        idle = self._idle_since is not None and time.monotonic() - self._idle_since >= seconds
        return idle and self.quiet()

    def listen(self, listener: Listener) -> Callable[[], None]:
        """Hear every event once it is published, in seq order, from a task of the
        listeners' own: off the acknowledgement path, each listener isolated (one that
        raises is logged and counted, and the others and every command go on).
        Returns a function that stops it."""
        self._listeners.append(listener)

        def stop() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return stop

    def keep_loaded_while(self, busy: Callable[[], bool]) -> None:
        """Keep the stream loaded while `busy()` is true (a service still has its events
        to hand on), even with nobody connected."""
        self._busy.append(busy)

    def on_close(self, closer: Callable[[], None]) -> None:
        """Run `closer` when the stream unloads here (a timer cancels itself, an SFU closes)."""
        self._closers.append(closer)

    # -- commands ----------------------------------------------------------

    def admit(self, user_id: str, cmd: Command) -> None:
        """The gate of every command, whoever serves it: the stream serves here, and the
        state lets the sender do it."""
        self._refuse_if_stopped()
        self.state.admit(user_id, cmd)

    async def execute(self, user_id: str, cmd: Command) -> list[e.Event]:
        self._refuse_if_stopped()
        now = self.clock()  # one reading: a deadline the command sets is `ts` + its length
        drafts = self.state.handle(user_id, cmd, Context(now, self.ids))
        return await self.commit(drafts, now)

    async def commit(self, drafts: list[e.Event], ts: int | None = None) -> list[e.Event]:
        if not drafts:
            return []
        self._refuse_if_stopped()
        stamped = self.state.commit(drafts, self.clock() if ts is None else ts)
        self.tail.extend(stamped)
        self._unsent.extend(stamped)
        try:
            await self._writer.write([(ev.seq, self.encode(ev)) for ev in stamped])
        except Exception as exc:
            self.stop(f"journal write failed: {exc}")
            raise DomainError("unavailable", self.UNAVAILABLE) from exc
        await self.publish(stamped)
        return stamped

    def _refuse_if_stopped(self) -> None:
        if not self.failed and not self.serving():
            # Checked on every commit, not only by the lease's timer: after a
            # pause, a command may run before the timer that would stop us.
            self.stop("its lease ran out")
        if self.failed:
            raise DomainError("unavailable", self.UNAVAILABLE)

    def stop(self, reason: str) -> None:
        """Stop serving: refuse commands from now on, and close every socket.

        Used when the journal lost a write the state already holds, or the
        stream moved to another node; clients reconnect and the stream is
        rebuilt from its journal wherever it is hosted next. The sockets close
        in a task of their own, after the replies already due (the refusals
        of the commands caught in the fault) have been queued.
        """
        if self.failed:
            return
        log.warning("%s: stopping: %s", self.what, reason)
        self.failed = True
        self._spawn(self._close_sockets())

    async def _close_sockets(self: Self) -> None:
        await self._disconnect_all()
        self.on_stop(self)

    async def _disconnect_all(self) -> None:
        for sid in self.socket_ids():
            await self.transport.disconnect(sid)

    def _can_replay(self, last_seq: int) -> bool:
        """Whether the tail still holds every event after `last_seq` (a resume)."""
        if last_seq > self.state.seq or last_seq < 0:
            return False
        oldest = self.tail[0].seq if self.tail else self.state.seq + 1
        return last_seq >= oldest - 1

    # -- listeners ---------------------------------------------------------

    def _notify(self, events: list[e.Event]) -> None:
        """Hand published events to the listeners' task."""
        if not self._listeners:
            return
        self._notices.extend(events)
        if self._notifier is None or self._notifier.done():
            self._notifier = asyncio.create_task(self._deliver())

    async def _deliver(self) -> None:
        while self._notices:
            ev = self._notices.popleft()
            for listener in list(self._listeners):
                try:
                    await listener(ev)
                except Exception:
                    log.exception(
                        "%s: listener %s failed on seq %d (%s)",
                        self.what,
                        getattr(listener, "__qualname__", listener),
                        ev.seq,
                        type(ev).__name__,
                    )
                    self.listener_failed(listener, ev)

    # -- closing -----------------------------------------------------------

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(work)

    async def close(self) -> None:
        """Close here for good: the services' closers run, the last writes finish, the
        stream's tasks are cancelled."""
        if self._closed:
            return
        self._closed = True
        for closer in self._closers:
            closer()
        await self._writer.close()
        self._tasks.cancel()
        if self._notifier is not None:
            self._notifier.cancel()
