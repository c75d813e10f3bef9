"""A live class on this node: its state, its sockets, its journal.

Its commands are journaled and published as every stream's are
(signaling/journalled.py): stamped and applied at once, made durable in seq
order, and only then broadcast and acknowledged; a failed write stops the
class, to be rebuilt from what is durable. A snapshot is sent only once what
it shows is durable.

Broadcasting drains every durable event in seq order, so events made durable
by one journal write go out together; a run of consecutive presence events
(a crowd arriving or leaving) goes to each socket as one `class:batch`
message instead of one message per person, which keeps a join storm from
costing N broadcasts to N sockets.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Unpack

from classroom import events as e
from classroom.aggregate import Classroom
from classroom.breakouts import room_after, room_before
from classroom.commands import Command
from classroom.errors import DomainError
from classroom.roles import Role, is_staff
from classroom.snapshot import snapshot
from classroom.visibility import Audience, Viewer, audience
from classroom.wire import Payload, public_form, to_wire, wire_for
from journal import Journal
from signaling.journalled import Hosting, JournalledStream
from signaling.journalled import Listener as Listener
from signaling.journalled import new_id as new_id
from signaling.journalled import now_ms as now_ms
from signaling.transport import Transport, area_room, class_room, staff_room, user_room

log = logging.getLogger(__name__)

Wire = tuple[str, Payload]

TAIL = 5000
"""Recent events kept in memory for reconnect catch-up."""

BATCHED = frozenset({"participant:joined", "participant:left"})
"""Wire events whose consecutive runs are sent as one `class:batch` (all go to everyone)."""
MAX_BATCH = 200


@dataclass
class Session:
    """One connected socket of one user."""

    sid: str
    user_id: str
    name: str
    role: Role
    class_id: str
    catching_up: bool = True
    held: list[e.Event] = field(default_factory=list)
    """Events broadcast while the socket was still receiving its snapshot or catch-up."""
    room: str | None = None
    """The area (main or breakout) room this socket is in; follows moves in seq order."""
    staff: bool = False
    """Whether the socket is in the class's staff room; follows role changes in seq order."""


class ClassRuntime(JournalledStream[Classroom]):
    UNAVAILABLE = "the class is recovering from a fault; reconnect to continue"
    NOUN = "class"
    TAIL_SIZE = TAIL
    encode = staticmethod(e.encode)

    def __init__(
        self,
        class_id: str,
        room: Classroom,
        journal: Journal,
        transport: Transport,
        media: dict[str, Any],
        **hosting: Unpack[Hosting],
    ) -> None:
        super().__init__(class_id, room, journal, transport, **hosting)
        self.class_id = class_id
        self.media = media
        self.sessions: dict[str, Session] = {}
        self._holding: dict[str, Session] = {}
        """The sessions still catching up, by user: a broadcast holds events for them."""
        self._ended_since: float | None = None

    @property
    def room(self) -> Classroom:
        return self.state

    async def publish(self, stamped: list[e.Event]) -> None:
        await self._flush(stamped[-1].seq)

    def socket_ids(self) -> list[str]:
        return [session.sid for session in self.sessions.values()]

    def quiet(self) -> bool:
        """No recording runs, every event is broadcast and heard, no service is busy."""
        return self.room.recording.state == "idle" and super().quiet()

    def ended_for(self, seconds: float) -> bool:
        """Whether the class ended `seconds` ago (counted from when this was first
        asked after the end) and is quiet: it can be unloaded, its sockets closed."""
        if not self.room.ended:
            return False
        if self._ended_since is None:
            self._ended_since = time.monotonic()
        return time.monotonic() - self._ended_since >= seconds and self.quiet()

    def ask(self, user_id: str, cmd: Command) -> Payload:
        """A query's answer, from the state as it is (queries make no events)."""
        self._refuse_if_stopped()
        return self.room.ask(user_id, cmd)

    async def unload(self) -> None:
        """Stop serving and close, for good: the class is idle or over. Sockets still
        connected to an ended class are closed (reconnecting, they learn it ended)."""
        self.failed = True
        await self._disconnect_all()
        await self.close()

    # -- broadcast ---------------------------------------------------------

    async def _flush(self, upto: int) -> None:
        async with self._flush_lock:
            # Everything durable may go, not only the caller's events: the
            # events of one journal write then leave together.
            upto = max(upto, self._writer.durable_seq)
            while self._unsent and self._unsent[0].seq <= upto:
                run = self._next_run(upto)
                await self._broadcast(run)
                for ev, _ in run:
                    await self._follow_membership(ev)
                self._notify([ev for ev, _ in run])

    def _next_run(self, upto: int) -> list[tuple[e.Event, Wire | None]]:
        """The next event to broadcast, with the presence events that follow it if it is one."""
        ev = self._unsent.popleft()
        run = [(ev, to_wire(ev))]
        while (
            run[0][1] is not None
            and run[0][1][0] in BATCHED
            and len(run) < MAX_BATCH
            and self._unsent
            and self._unsent[0].seq <= upto
        ):
            wire = to_wire(self._unsent[0])
            if wire is None or wire[0] not in BATCHED:
                break
            run.append((self._unsent.popleft(), wire))
        return run

    async def _broadcast(self, run: list[tuple[e.Event, Wire | None]]) -> None:
        sent = [(ev, wire) for ev, wire in run if wire is not None]
        if not sent:
            return
        who = audience(sent[0][0])  # a run shares its audience
        holding = list(self._holding.values())
        for ev, _ in sent:
            self._hold(ev, who, holding)
        rooms = self.rooms_of(who)
        if not rooms:
            return
        skip = [s.sid for s in holding] or None
        if len(sent) == 1 and who.everyone and public_form(sent[0][1]) is not sent[0][1]:
            await self._broadcast_split(sent[0][1], skip or [])
            return
        if len(sent) == 1:
            name, data = sent[0][1]
        else:
            name, data = "class:batch", {"events": [list(wire) for _, wire in sent]}
        await self.transport.emit(name, data, to=rooms, skip_sid=skip)

    async def _broadcast_split(self, wire: Wire, skip: list[str]) -> None:
        """A message to everyone of which hosts and moderators get more (`STAFF_FIELDS`)."""
        staff = [s.sid for s in self.sessions.values() if s.staff]
        await self.transport.emit(*wire, to=[staff_room(self.class_id)], skip_sid=skip or None)
        public = public_form(wire)
        await self.transport.emit(*public, to=[class_room(self.class_id)], skip_sid=skip + staff)

    def _hold(self, ev: e.Event, who: Audience, holding: list[Session]) -> None:
        """Keep `ev` for the sessions still catching up that will need it."""
        for session in holding:
            member = self.room.live.members.get(session.user_id)
            if member is None or not member.present:
                continue
            # The socket's own room, not the state's: the state may be a move ahead.
            if who.includes(Viewer(member.user_id, member.role, session.room or member.room)):
                session.held.append(ev)

    def rooms_of(self, who: Audience) -> list[str]:
        """The Socket.IO rooms that reach an audience."""
        if who.everyone:
            return [class_room(self.class_id)]
        rooms = [area_room(self.class_id, r) for r in who.rooms]
        if who.staff:
            rooms.append(staff_room(self.class_id))
        rooms.extend(user_room(self.class_id, u) for u in who.users)
        return rooms

    async def _follow_membership(self, ev: e.Event) -> None:
        """Keep each socket's Socket.IO rooms in step with the event just broadcast."""
        match ev:
            case e.ParticipantJoined():
                session = self.sessions.get(ev.user_id)
                if session is not None:
                    await self._enter_rooms(session, ev.room)
            case e.ParticipantMoved():
                session = self.sessions.get(ev.user_id)
                if session is not None:
                    await self._enter_area(session, ev.room)
                    await self._resync(session, ev.seq)
            case e.RoleChanged():
                session = self.sessions.get(ev.user_id)
                if session is not None:
                    session.role = ev.role
                    session.staff = is_staff(ev.role)
                    staff = staff_room(self.class_id)
                    if session.staff:
                        await self.transport.enter_room(session.sid, staff)
                    else:
                        await self.transport.leave_room(session.sid, staff)
                    await self._resync(session, ev.seq)
            case e.ClassEnded():
                for session in list(self.sessions.values()):
                    self._spawn(self.transport.disconnect(session.sid))

    async def _resync(self, session: Session, seq: int) -> None:
        """A fresh snapshot after a move or a role change (event `seq`): what the user may
        see has changed (the room's polls, questions and hands; staff-only state), not only
        what comes next. The events after `seq` follow it, as they would have without it."""
        if session.catching_up:
            return  # its snapshot or catch-up is on the way
        session.catching_up = True
        self._holding[session.user_id] = session
        state = snapshot(self.room, self.viewer(session.user_id), self.media)
        self._spawn(self._send_state(session, state, seq))

    async def _send_state(self, session: Session, state: Payload, sent: int) -> None:
        """Send a snapshot once everything it shows is durable, then the held events after
        `sent`."""
        try:
            if state["seq"] > self._writer.durable_seq:
                await self._writer.barrier()
        except Exception:
            return  # the class stops, and this socket with it
        await self.transport.emit("class:state", state, to=session.sid)
        await self._release(session, sent)

    async def _enter_rooms(self, session: Session, room: str | None = None) -> None:
        member = self.room.live.members[session.user_id]
        rooms = [class_room(self.class_id), user_room(self.class_id, session.user_id)]
        session.staff = is_staff(member.role)
        if session.staff:
            rooms.append(staff_room(self.class_id))
        for name in rooms:
            await self.transport.enter_room(session.sid, name)
        await self._enter_area(session, room or member.room)

    async def _enter_area(self, session: Session, room: str) -> None:
        """Move a socket to another area room: room-scoped broadcasts follow the user."""
        if session.room == room:
            return
        if session.room is not None:
            await self.transport.leave_room(session.sid, area_room(self.class_id, session.room))
        await self.transport.enter_room(session.sid, area_room(self.class_id, room))
        session.room = room

    def reachable(self, user_id: str) -> bool:
        """Whether the user's socket has joined its Socket.IO rooms (its join was broadcast)."""
        session = self.sessions.get(user_id)
        return session is not None and session.room is not None

    def viewer(self, user_id: str) -> Viewer:
        member = self.room.live.members[user_id]
        return Viewer(user_id, member.role, member.room)

    # -- sessions ----------------------------------------------------------

    async def attach(self, session: Session, last_seq: int | None) -> None:
        """Join a freshly connected socket: snapshot or catch-up, then live events."""
        self._refuse_if_stopped()  # unloaded or stopped just now: the client reconnects
        self._idle_since = None
        previous = self.sessions.get(session.user_id)
        self.sessions[session.user_id] = session
        self._holding[session.user_id] = session
        if previous is not None:
            await self._replace(previous)
            await self._enter_rooms(session)
        await self.commit(self.room.join(session.user_id, session.name, session.role))
        if last_seq is not None and self._can_replay(last_seq):
            sent = await self._replay(session, last_seq)
            await self._release(session, sent)
            await self.transport.emit("class:resumed", {"seq": sent}, to=session.sid)
        else:
            state = snapshot(self.room, self.viewer(session.user_id), self.media)
            await self._send_state(session, state, state["seq"])

    async def _replace(self, previous: Session) -> None:
        await self.transport.emit(
            "session:replaced",
            {"message": "you joined from another window or device"},
            to=previous.sid,
        )
        self._spawn(self.transport.disconnect(previous.sid))

    async def _replay(self, session: Session, last_seq: int) -> int:
        """Send the events the client missed, as they were broadcast; returns the last seq."""
        me = self.viewer(session.user_id)
        sent = last_seq
        flushed = self._flushed_seq()
        missed = [ev for ev in self.tail if ev.seq > last_seq]
        # Each event is shown as the user's room was at its seq: moves change what follows.
        room = room_before(missed, me.user_id, me.room)
        for ev in [ev for ev in missed if ev.seq <= flushed]:
            wire = to_wire(ev)
            if wire is not None and audience(ev).includes(Viewer(me.user_id, me.role, room)):
                await self.transport.emit(*wire_for(wire, me.role), to=session.sid)
            room = room_after(ev, me.user_id, room)
            sent = ev.seq
        return sent

    def _flushed_seq(self) -> int:
        return self._unsent[0].seq - 1 if self._unsent else self.room.seq

    async def _release(self, session: Session, sent: int) -> None:
        """Deliver what was held back during catch-up, then go live."""
        role = self.viewer(session.user_id).role
        while session.held:
            ev, *session.held = session.held
            wire = to_wire(ev)
            if wire is not None and ev.seq > sent:
                await self.transport.emit(*wire_for(wire, role), to=session.sid)
        session.catching_up = False
        if self._holding.get(session.user_id) is session:
            del self._holding[session.user_id]

    async def detach(self, session: Session, reason: str) -> None:
        if self.sessions.get(session.user_id) is not session:
            return  # replaced by a newer socket of the same user
        del self.sessions[session.user_id]
        self._holding.pop(session.user_id, None)
        if not self.sessions:
            self._idle_since = time.monotonic()
        if not self.failed:
            await self.commit(self.room.leave(session.user_id, reason))

    def spawn_commit(self, drafts: list[e.Event]) -> None:
        """Commit server-made events from synchronous code (a media callback, a timer)."""

        async def commit() -> None:
            try:
                await self.commit(drafts)
            except DomainError as exc:
                log.warning("class %s: events not recorded: %s", self.class_id, exc)

        self._spawn(commit())
