"""A minimal poll server, for comparison only: tallies broadcast to everyone on every vote.

The naive way to serve a live poll, on the same stack as the classroom
server (python-socketio's AsyncServer on aiohttp, msgpack wire, the same
join tokens): every ballot updates an in-memory tally that is at once sent
to every socket in the class. No journal (nothing is durable), no
coalescing, no roles beyond the token, no rate limits, no participant
broadcasts on join. `bench/poll_compare.py` runs the poll storm against it
and against the classroom server in the same run.

It speaks just the part of the protocol the storm uses: `POST /api/classes`,
connect with `{token}` -> `class:state`, `poll:create`, `poll:open`,
`poll:show_results`, `poll:vote`, `poll:close`. Never deploy it.

    python -m bench.reference_server --port 8090 --secret S --admin-key K
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

import socketio
from aiohttp import web

from signaling.auth import TokenError, verify

READY = "Reference server on"


@dataclass
class Poll:
    options: int
    ballots: dict[str, list[int]] = field(default_factory=dict)
    counts: list[int] = field(default_factory=list)
    open: bool = False

    def results(self, poll_id: str) -> dict[str, Any]:
        voters = len(self.ballots)
        return {"poll_id": poll_id, "counts": self.counts, "total": voters, "voters": voters}


class Reference:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.sio = socketio.AsyncServer(async_mode="aiohttp", serializer="msgpack")
        self.users: dict[str, tuple[str, str]] = {}
        """sid -> (class id, user id)."""
        self.polls: dict[str, Poll] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.sio.on("connect", self.connect)
        self.sio.on("disconnect", self.disconnect)
        for name in ("create", "open", "show_results", "vote", "close"):
            self.sio.on(f"poll:{name}", getattr(self, name))

    async def connect(self, sid: str, _environ: Any, auth: Any = None) -> bool:
        token = auth.get("token") if isinstance(auth, dict) else None
        try:
            claims = verify(self.secret, token, None)
        except TokenError:
            return False
        self.users[sid] = (claims.class_id, claims.user_id)
        await self.sio.enter_room(sid, claims.class_id)
        state = {"class": {"id": claims.class_id}, "you": {"user_id": claims.user_id}}
        # The snapshot must follow the CONNECT packet, sent when this returns.
        task = asyncio.create_task(self.sio.emit("class:state", state, to=sid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    async def disconnect(self, sid: str, *_: Any) -> None:
        self.users.pop(sid, None)

    async def create(self, _sid: str, data: dict[str, Any]) -> dict[str, Any]:
        poll_id = secrets.token_hex(6)
        options = len(data["options"])
        self.polls[poll_id] = Poll(options, counts=[0] * options)
        return {"ok": True, "poll_id": poll_id}

    async def open(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        self.polls[data["poll_id"]].open = True
        poll = {"id": data["poll_id"], "status": "open"}
        await self.sio.emit("poll:opened", {"poll": poll}, to=self.users[sid][0])
        return {"ok": True}

    async def show_results(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        poll_id = data["poll_id"]
        shown = {"poll_id": poll_id, "shown": True, "results": self.polls[poll_id].results(poll_id)}
        await self.sio.emit("poll:results_shown", shown, to=self.users[sid][0])
        return {"ok": True}

    async def vote(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        poll_id, answer = data["poll_id"], list(data["answer"])
        poll = self.polls[poll_id]
        if not poll.open or not all(0 <= a < poll.options for a in answer):
            return {"ok": False, "error": {"code": "conflict", "message": "not open"}}
        class_id, user_id = self.users[sid]
        for a in poll.ballots.get(user_id, []):
            poll.counts[a] -= 1
        for a in answer:
            poll.counts[a] += 1
        poll.ballots[user_id] = answer
        await self.sio.emit("poll:results", poll.results(poll_id), to=class_id)
        return {"ok": True}

    async def close(self, sid: str, data: dict[str, Any]) -> dict[str, Any]:
        poll_id = data["poll_id"]
        poll = self.polls[poll_id]
        poll.open = False
        closed = {"poll_id": poll_id, "reason": "closed", "results": poll.results(poll_id)}
        await self.sio.emit("poll:closed", closed, to=self.users[sid][0])
        return {"ok": True}


def create_app(secret: str, admin_key: str) -> web.Application:
    app = web.Application()
    Reference(secret).sio.attach(app)

    async def create_class(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {admin_key}":
            raise web.HTTPUnauthorized()
        return web.json_response({"id": secrets.token_hex(6)})

    app.router.add_post("/api/classes", create_class)
    return app


async def serve(host: str, port: int, secret: str, admin_key: str) -> None:
    runner = web.AppRunner(create_app(secret, admin_key))
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    print(f"{READY} http://{host}:{port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--admin-key", required=True)
    args = parser.parse_args(argv)
    asyncio.run(serve(args.host, args.port, args.secret, args.admin_key))


if __name__ == "__main__":
    main()
