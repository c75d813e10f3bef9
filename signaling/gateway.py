"""Socket.IO handlers: admit sockets, turn inbound events into commands, reply.

A connect is admitted by a rate limit per client address, the token, the
class's state, its capacity (the class's own, at most `max_participants`;
hosts and moderators excepted) and, for an identity an invite made, the invite's cap; a
socket of a recording's stream by the same address limit, the stream's capacity
(`max_replay_viewers`, staff excepted) and `WINDOWS` per viewer. Every
inbound event then passes the same gate: a known session, a rate limit per
(class, user), a schema, the role check (in the domain), then the class
runtime. Frames that could not be decoded arrive as `BAD_FRAME` and are
refused there like any bad request. Whatever goes wrong becomes an error ack
and a log line; a handler never takes the server or another client's
session down.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import socketio

from classroom.commands import Command
from classroom.errors import DomainError
from classroom.replay_wire import Watcher
from classroom.roles import is_staff
from signaling import invites
from signaling.addresses import LOOPBACK, Network, client_address, local, networks
from signaling.auth import Claims, TokenError, is_replay_token, verify, verify_replay
from signaling.cluster import Moved
from signaling.frames import BAD_FRAME
from signaling.metrics import Metrics
from signaling.ratelimit import RateLimiter
from signaling.registry import Registry
from signaling.replay_host import ReplayHost
from signaling.replay_runtime import ReplayRuntime
from signaling.runtime import ClassRuntime, Session
from signaling.schemas import INBOUND, REPLAY_INBOUND, parse
from signaling.tasks import TaskSet

log = logging.getLogger(__name__)
T = TypeVar("T")

Reply = dict[str, Any]
Service = Callable[[Session, ClassRuntime, Command], Awaitable[Reply]]
"""A handler for an event served outside the domain (media signaling); it runs once the
command has passed the gate (`ClassRuntime.admit`)."""


@dataclass(frozen=True)
class Route:
    schema: type[Command]
    family: str
    handler: Service


@dataclass(frozen=True)
class Admission:
    """Who may connect, beyond a valid token."""

    max_participants: int = 1000
    """Participants connected to one class at once (hosts and moderators are not counted)."""
    invite_identities: int = 1000
    """Identities one invite link may make (each counted once it has connected)."""
    proxies: tuple[Network, ...] = networks(LOOPBACK)
    """Reverse proxies whose X-Forwarded-For is believed."""
    max_replay_viewers: int = 1000
    """Viewers connected to one recording's stream at once (hosts and moderators are not
    counted)."""


WINDOWS = 4
"""Sockets one viewer may have open on a recording's stream (a replay in a few tabs)."""


@dataclass
class Seats:
    """Who is connected to one class, as the gateway admitted them."""

    sockets: dict[str, int] = field(default_factory=dict)
    """user id -> sockets admitted (a replaced socket counts until it goes)."""
    participants: set[str] = field(default_factory=set)
    """The users among them holding a participant's seat (staff do not count)."""

    def take(self, user_id: str, staff: bool) -> None:
        self.sockets[user_id] = self.sockets.get(user_id, 0) + 1
        if not staff:
            self.participants.add(user_id)

    def free(self, user_id: str) -> bool:
        """One socket of the user went; whether it was the last."""
        left = self.sockets.get(user_id, 1) - 1
        if left > 0:
            self.sockets[user_id] = left
            return False
        self.sockets.pop(user_id, None)
        self.participants.discard(user_id)
        return True


def refuse(code: str, message: str, **extra: Any) -> socketio.exceptions.ConnectionRefusedError:
    data = {"code": code, "message": message, **extra}
    return socketio.exceptions.ConnectionRefusedError(code, data)


def _last_seq(auth: dict[str, Any]) -> int | None:
    last_seq = auth.get("last_seq")
    return last_seq if isinstance(last_seq, int) and not isinstance(last_seq, bool) else None


async def _hosted(what: str, ident: str, loading: Awaitable[T]) -> T:
    """A class or recording stream loaded here, or the connect refusal that says why not."""
    try:
        return await loading
    except Moved as moved:
        raise refuse("moved", str(moved), url=moved.url) from moved
    except ConnectionError as exc:
        raise refuse("unavailable", f"the {what} cannot be reached now; retry") from exc
    except Exception as exc:  # its journal cannot be read, or the rebuild failed
        log.exception("%s %s could not be loaded", what, ident)
        raise refuse("unavailable", f"the {what} cannot be loaded now; retry") from exc


def error_reply(err: DomainError) -> Reply:
    return {"ok": False, "error": err.to_wire()}


class Gateway:
    def __init__(
        self,
        sio: socketio.AsyncServer,
        registry: Registry,
        secret: str,
        metrics: Metrics,
        limiter: RateLimiter | None = None,
        admission: Admission | None = None,
        replays: ReplayHost | None = None,
    ) -> None:
        self.sio = sio
        self.registry = registry
        self.secret = secret
        self.metrics = metrics
        self.limiter = limiter or RateLimiter()
        self.admission = admission or Admission()
        self.sessions: dict[str, Session] = {}
        self.replays = replays
        self.watching: dict[str, tuple[str, Watcher]] = {}
        """Sockets of a recording's stream: sid -> (recording id, who)."""
        self.seated: dict[str, Seats] = {}
        self.audiences: dict[str, Seats] = {}
        """Who watches each recording's stream, by recording id (as `seated` for classes)."""
        self.routes: dict[str, Route] = {}
        self._tasks = TaskSet()
        sio.on("connect", self.on_connect)
        sio.on("disconnect", self.on_disconnect)
        sio.on("*", self.on_event)

    def route(self, event: str, schema: type[Command], family: str, handler: Service) -> None:
        """Serve `event` with `handler` instead of the domain; its schema, rate family and
        gate are checked as for any command."""
        self.routes[event] = Route(schema, family, handler)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        try:
            self._check_address(environ)
            if not isinstance(auth, dict):
                raise refuse("unauthorized", "connect with auth {token}")
            if self.replays is not None and is_replay_token(auth.get("token")):
                await self._connect_replay(sid, auth, self.replays)
                return True
            claims, runtime = await self._admit(auth)
        except socketio.exceptions.ConnectionRefusedError as refused:
            self.metrics.refused.labels(refused.error_args["message"]).inc()
            raise
        session = Session(sid, claims.user_id, claims.name, claims.role, claims.class_id)
        self.sessions[sid] = session
        self.seated.setdefault(claims.class_id, Seats()).take(claims.user_id, is_staff(claims.role))
        self.metrics.sockets.inc()
        # The snapshot must follow Socket.IO's CONNECT packet, which is sent when
        # this handler returns: join in a task of its own.
        self._spawn(self._attach(runtime, session, _last_seq(auth)))
        return True

    def _check_address(self, environ: dict[str, Any]) -> None:
        request = environ.get("aiohttp.request")
        address = client_address(request, self.admission.proxies) if request else ""
        if not local(address):
            if not self.limiter.allow(address, "connect"):
                wait = max(1, round(self.limiter.wait_s(address, "connect")))
                message = "too many connections from your network"
                raise refuse("rate_limited", message, retry_s=wait)
            self.limiter.forget(address)  # kept only while it refills

    async def _admit(self, auth: dict[str, Any]) -> tuple[Claims, ClassRuntime]:
        try:
            claims = verify(self.secret, auth.get("token"), auth.get("class_id"))
        except TokenError as exc:
            raise refuse("unauthorized", str(exc)) from exc
        runtime = await _hosted("class", claims.class_id, self.registry.get(claims.class_id))
        if runtime is None:
            raise refuse("unauthorized", "the join token is for an unknown class")
        if runtime.room.ended:
            raise refuse("ended", "this class has ended")
        self._check_capacity(runtime, claims)
        return claims, runtime

    def _check_capacity(self, runtime: ClassRuntime, claims: Claims) -> None:
        seats = self.seated.get(claims.class_id, Seats())
        if claims.user_id in seats.sockets or is_staff(claims.role):
            return  # a second window of someone present, or staff
        capacity = runtime.room.live.capacity or self.admission.max_participants
        if len(seats.participants) >= min(capacity, self.admission.max_participants):
            raise refuse("full", "this class is full")
        invite = invites.invite_of(claims.user_id)
        if invite is not None and claims.user_id not in runtime.room.live.members:
            made = self.invite_identities(claims.class_id, invite)
            if made >= self.admission.invite_identities:
                raise refuse(
                    "full", "this invite link has been used by as many people as it allows"
                )

    def invite_identities(self, class_id: str, invite_id: str) -> int:
        """Identities the invite made that have joined the class or are joining it now."""
        runtime = self.registry.runtimes.get(class_id)
        members = runtime.room.live.members.keys() if runtime is not None else set()
        seated = self.seated.get(class_id, Seats()).sockets.keys()
        return invites.made_by(invite_id, members | seated)

    async def _attach(self, runtime: ClassRuntime, session: Session, last_seq: int | None) -> None:
        try:
            await runtime.attach(session, last_seq)
        except DomainError as refused:  # the class stopped or unloaded just now
            log.info("joining %s to class %s: %s", session.user_id, session.class_id, refused)
            await self.sio.disconnect(session.sid)
        except Exception:
            log.exception("joining %s to class %s failed", session.user_id, session.class_id)
            await self.sio.disconnect(session.sid)

    async def on_disconnect(self, sid: str, *_: Any) -> None:
        watching = self.watching.pop(sid, None)
        if watching is not None:
            self._stop_watching(sid, *watching)
            return
        session = self.sessions.pop(sid, None)
        if session is None:
            return
        self.metrics.sockets.dec()
        self._unseat(session)
        runtime = self.registry.runtimes.get(session.class_id)
        if runtime is not None:
            try:
                await runtime.detach(session, "disconnected")
            except DomainError as exc:
                log.warning("leave of %s not recorded: %s", session.user_id, exc)

    def _stop_watching(self, sid: str, recording_id: str, watcher: Watcher) -> None:
        self.metrics.sockets.dec()
        stream = self.replays.runtimes.get(recording_id) if self.replays else None
        if stream is not None:
            stream.detach(sid)
        audience = self.audiences.get(recording_id)
        if audience is not None and audience.free(watcher.user_id) and not audience.sockets:
            del self.audiences[recording_id]
        if (recording_id, watcher) not in self.watching.values():
            self.limiter.forget(("rec:" + recording_id, watcher.user_id))

    def _unseat(self, session: Session) -> None:
        seats = self.seated.get(session.class_id)
        if seats is None or not seats.free(session.user_id):
            return  # another socket of the user is still here
        if not seats.sockets:
            del self.seated[session.class_id]
        self.limiter.forget((session.class_id, session.user_id))

    def dropped(self, eio_sid: str, reason: str, detail: str) -> None:
        """A socket cut off for not keeping up (see signaling/eio_writer.py): log and count."""
        sid = self.sio.manager.sid_from_eio_sid(eio_sid, "/")
        session = self.sessions.get(sid) if sid else None
        who = f"{session.user_id} in class {session.class_id}" if session else f"socket {eio_sid}"
        log.warning("dropped %s: %s: %s", who, reason, detail)
        self.metrics.dropped.labels(reason).inc()

    async def on_event(self, event: str, sid: str, *args: Any) -> Reply:
        started = time.perf_counter()
        known = event in INBOUND or event in REPLAY_INBOUND or event in self.routes
        known = known or event == BAD_FRAME
        name = event if known else "unknown"
        try:
            reply = await self._dispatch(event, sid, args[0] if args else None)
        except DomainError as err:
            reply = error_reply(err)
        except Exception:
            log.exception("handler for %s failed", event)
            reply = error_reply(DomainError("internal", "the server could not handle this"))
        if not reply.get("ok"):
            self.metrics.errors.labels(reply["error"]["code"]).inc()
        self.metrics.events.labels(name).inc()
        self.metrics.latency.labels(name).observe(time.perf_counter() - started)
        return reply

    async def _dispatch(self, event: str, sid: str, data: Any) -> Reply:
        watching = self.watching.get(sid)
        if watching is not None:
            return await self._dispatch_replay(event, sid, data, watching)
        session = self.sessions.get(sid)
        if session is None:
            raise DomainError("forbidden", "not joined to a class")
        route = self.routes.get(event)
        spec = INBOUND.get(event)
        family = route.family if route else spec.family if spec else "bad"
        if not self.limiter.allow((session.class_id, session.user_id), family):
            raise DomainError("rate_limited", f"too many {family} events; slow down")
        if event == BAD_FRAME:
            raise DomainError("bad_request", f"refused frame: {data}")
        cmd = parse(event, data, route.schema if route else None)
        runtime = self.registry.runtimes.get(session.class_id)
        if runtime is None:
            raise DomainError("not_found", "the class is not hosted here")
        runtime.admit(session.user_id, cmd)  # one gate, whoever serves the command
        if route is not None:
            return await route.handler(session, runtime, cmd)
        if runtime.room.is_query(cmd):
            return {"ok": True, **runtime.ask(session.user_id, cmd)}
        events = await runtime.execute(session.user_id, cmd)
        extra = spec.reply(events) if spec is not None and spec.reply is not None else {}
        return {"ok": True, **extra}

    # -- the recordings' streams (replay tokens) ---------------------------

    async def _connect_replay(self, sid: str, auth: dict[str, Any], replays: ReplayHost) -> None:
        try:
            claims = verify_replay(self.secret, auth.get("token"))
        except TokenError as exc:
            raise refuse("unauthorized", str(exc)) from exc
        if not replays.source.admits(claims):
            raise refuse("unauthorized", "this replay token does not open the recording")
        rid = claims.recording_id
        runtime = await _hosted("recording", rid, replays.get(rid))
        if runtime is None:
            raise refuse("unauthorized", "the replay token is for an unknown recording")
        watcher = Watcher(claims.user_id, claims.name, claims.role, claims.guest)
        self._check_audience(rid, watcher)
        self.watching[sid] = (rid, watcher)
        self.audiences.setdefault(rid, Seats()).take(watcher.user_id, watcher.staff)
        self.metrics.sockets.inc()
        self._spawn(self._attach_replay(runtime, sid, watcher, _last_seq(auth)))

    def _check_audience(self, recording_id: str, watcher: Watcher) -> None:
        audience = self.audiences.get(recording_id, Seats())
        if audience.sockets.get(watcher.user_id, 0) >= WINDOWS:
            raise refuse("full", f"this replay is open in {WINDOWS} windows already; close one")
        if watcher.user_id in audience.sockets or watcher.staff:
            return
        if len(audience.participants) >= self.admission.max_replay_viewers:
            raise refuse("full", "this replay has as many viewers as it can take; try later")

    async def _attach_replay(
        self, runtime: ReplayRuntime, sid: str, watcher: Watcher, last_seq: int | None
    ) -> None:
        try:
            await runtime.attach(sid, watcher, last_seq)
        except DomainError as refused:  # the stream stopped or unloaded just now
            rid = runtime.recording_id
            log.info("joining %s to recording %s: %s", watcher.user_id, rid, refused)
            await self.sio.disconnect(sid)
        except Exception:
            log.exception(
                "joining %s to recording %s failed", watcher.user_id, runtime.recording_id
            )
            await self.sio.disconnect(sid)

    async def _dispatch_replay(
        self, event: str, sid: str, data: Any, watching: tuple[str, Watcher]
    ) -> Reply:
        """The gate of a recording's stream, as for a class: rate limit, schema, role."""
        rid, watcher = watching
        spec = REPLAY_INBOUND.get(event)
        family = spec.family if spec else "bad"
        if not self.limiter.allow(("rec:" + rid, watcher.user_id), family):
            raise DomainError("rate_limited", f"too many {family} events; slow down")
        if event == BAD_FRAME:
            raise DomainError("bad_request", f"refused frame: {data}")
        if spec is None:
            raise DomainError("bad_request", f"unknown event {event!r}")
        cmd = parse(event, data, spec.command)
        runtime = self.replays.runtimes.get(rid) if self.replays else None
        if runtime is None:
            raise DomainError("not_found", "the recording is not hosted here")
        runtime.admit(watcher.user_id, cmd)
        events = await runtime.execute(watcher.user_id, cmd)
        extra = spec.reply(runtime.stream, watcher.user_id, cmd, events) if spec.reply else {}
        return {"ok": True, **extra}

    def _spawn(self, coro: Any) -> None:
        self._tasks.spawn(coro)
