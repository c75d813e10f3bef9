"""Socket.IO handlers: authenticate sockets, turn inbound events into commands, reply.

Every inbound event passes the same gate: a known session, a schema, a rate
limit, the role check (in the domain), then the class runtime. Whatever goes
wrong becomes an error ack and a log line; a handler never takes the server
or another client's session down.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import socketio

from classroom.commands import Command
from classroom.errors import DomainError
from signaling.auth import TokenError, verify
from signaling.cluster import Moved
from signaling.metrics import Metrics
from signaling.ratelimit import RateLimiter
from signaling.registry import Registry
from signaling.runtime import ClassRuntime, Session
from signaling.schemas import INBOUND, parse

log = logging.getLogger(__name__)

Reply = dict[str, Any]
Service = Callable[[Session, ClassRuntime, Command], Awaitable[Reply]]
"""A handler for an event that is not a domain command (media signaling, exports)."""


@dataclass(frozen=True)
class Route:
    schema: type[Command]
    family: str
    handler: Service


def refuse(code: str, message: str, **extra: str) -> socketio.exceptions.ConnectionRefusedError:
    data = {"code": code, "message": message, **extra}
    return socketio.exceptions.ConnectionRefusedError(code, data)


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
    ) -> None:
        self.sio = sio
        self.registry = registry
        self.secret = secret
        self.metrics = metrics
        self.limiter = limiter or RateLimiter()
        self.sessions: dict[str, Session] = {}
        self.routes: dict[str, Route] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        sio.on("connect", self.on_connect)
        sio.on("disconnect", self.on_disconnect)
        sio.on("*", self.on_event)

    def route(self, event: str, schema: type[Command], family: str, handler: Service) -> None:
        """Serve `event` with `handler` instead of a domain command (schema still checked)."""
        self.routes[event] = Route(schema, family, handler)

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
        if not isinstance(auth, dict):
            raise refuse("unauthorized", "connect with auth {token}")
        try:
            claims = verify(self.secret, auth.get("token"), auth.get("class_id"))
        except TokenError as exc:
            raise refuse("unauthorized", str(exc)) from exc
        try:
            runtime = await self.registry.get(claims.class_id)
        except Moved as moved:
            raise refuse("moved", str(moved), url=moved.url) from moved
        except ConnectionError as exc:
            raise refuse("unavailable", "the class cannot be reached now; retry") from exc
        except Exception as exc:  # its journal cannot be read, or the rebuild failed
            log.exception("class %s could not be loaded", claims.class_id)
            raise refuse("unavailable", "the class cannot be loaded now; retry") from exc
        if runtime is None:
            raise refuse("unauthorized", "the join token is for an unknown class")
        if runtime.room.ended:
            raise refuse("ended", "this class has ended")
        last_seq = auth.get("last_seq")
        if not isinstance(last_seq, int) or isinstance(last_seq, bool):
            last_seq = None
        session = Session(sid, claims.user_id, claims.name, claims.role, claims.class_id)
        self.sessions[sid] = session
        self.metrics.sockets.inc()
        # The snapshot must follow Socket.IO's CONNECT packet, which is sent when
        # this handler returns: join in a task of its own.
        self._spawn(self._attach(runtime, session, last_seq))
        return True

    async def _attach(self, runtime: ClassRuntime, session: Session, last_seq: int | None) -> None:
        try:
            await runtime.attach(session, last_seq)
        except Exception:
            log.exception("joining %s to class %s failed", session.user_id, session.class_id)
            await self.sio.disconnect(session.sid)

    async def on_disconnect(self, sid: str, *_: Any) -> None:
        session = self.sessions.pop(sid, None)
        if session is None:
            return
        self.metrics.sockets.dec()
        runtime = self.registry.runtimes.get(session.class_id)
        if runtime is not None:
            try:
                await runtime.detach(session, "disconnected")
            except DomainError as exc:
                log.warning("leave of %s not recorded: %s", session.user_id, exc)

    async def on_event(self, event: str, sid: str, *args: Any) -> Reply:
        started = time.perf_counter()
        name = event if event in INBOUND or event in self.routes else "unknown"
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
        session = self.sessions.get(sid)
        if session is None:
            raise DomainError("forbidden", "not joined to a class")
        route = self.routes.get(event)
        spec = INBOUND.get(event)
        family = route.family if route else spec.family if spec else "unknown"
        if not self.limiter.allow(session.user_id, family):
            raise DomainError("rate_limited", f"too many {family} events; slow down")
        cmd = parse(event, data, route.schema if route else None)
        runtime = self.registry.runtimes.get(session.class_id)
        if runtime is None:
            raise DomainError("not_found", "the class is not hosted here")
        if route is not None:
            return await route.handler(session, runtime, cmd)
        events = await runtime.execute(session.user_id, cmd)
        extra = spec.reply(events) if spec is not None and spec.reply is not None else {}
        return {"ok": True, **extra}

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
