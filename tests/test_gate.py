"""One gate for every command, whoever serves it: the domain, a query, the SFU, the mesh relay.

A command refused for an ended class, an absent sender, a role or a rate limit
gets the same error whether the domain, a query or a media route would have
served it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from classroom import commands as c
from classroom import events as e
from classroom.errors import DomainError
from signaling.gateway import Gateway
from signaling.ratelimit import Rate, RateLimiter
from signaling.runtime import Session
from tests.conftest import Server, running, settings_for
from tests.domain import Harness
from web.keys import GATEWAY

# One valid payload per way of serving: the gate runs after the schema, before the handler.
SERVED = {
    "chat:send": {"text": "hi"},  # a domain command
    "poll:close": {"poll_id": "p1"},
    "poll:export": {"poll_id": "p1"},  # queries
    "poll:leaderboard": {},
    "rtc:publish": {"sdp": "v=0", "type": "offer"},  # SFU routes
    "rtc:answer": {"sdp": "v=0", "type": "answer"},
    "rtc:candidate": {"pc": "sub", "candidate": None},
    "rtc:subscribe": {"track_ids": ["t1"]},
    "rtc:unsubscribe": {"track_ids": ["t1"]},
    "rtc:view": {"tracks": [{"track_id": "t1", "layer": "low"}]},
    "rtc:signal": {"to": "bob", "data": {"type": "rollback"}},  # the mesh relay
}
STAFF_ONLY = ["poll:close", "poll:export", "poll:leaderboard"]


async def ask(gateway: Gateway, session: Session, event: str) -> dict[str, Any]:
    gateway.sessions[session.sid] = session
    try:
        return await gateway.on_event(event, session.sid, SERVED[event])
    finally:
        del gateway.sessions[session.sid]


def code(reply: dict[str, Any]) -> str:
    assert not reply["ok"], reply
    return str(reply["error"]["code"])


async def test_an_absent_sender_is_refused_by_every_server(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path)) as server:
        cid = await server.create_class()
        await server.join(cid, "teacher", "host")
        gateway = server.app[GATEWAY]
        # A socket whose user is not (or no longer) in the class.
        ghost = Session("ghost-sid", "ghost", "Ghost", "host", cid)
        for event in SERVED:
            assert code(await ask(gateway, ghost, event)) == "forbidden", event


async def test_an_ended_class_refuses_every_server(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path)) as server:
        cid = await server.create_class()
        host = await server.join(cid, "teacher", "host")
        assert (await host.call("class:end"))["ok"]
        gateway = server.app[GATEWAY]
        late = Session("late-sid", "teacher", "Teacher", "host", cid)
        for event in SERVED:
            assert code(await ask(gateway, late, event)) == "conflict", event


async def test_a_role_is_refused_alike_by_a_command_and_a_query(server: Server) -> None:
    cid = await server.create_class()
    await server.join(cid, "teacher", "host")
    ann = await server.join(cid, "ann")
    for event in STAFF_ONLY:
        reply = await ann.call(event, SERVED[event])
        assert code(reply) == "forbidden", event


async def test_the_rate_limit_holds_for_routed_events(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path)) as server:
        gateway = server.app[GATEWAY]
        gateway.limiter = RateLimiter({"rtc": Rate(0.001, 2), "poll": Rate(0.001, 2)})
        cid = await server.create_class()
        host = await server.join(cid, "teacher", "host")
        for family in (["rtc:mute", "rtc:subscribe", "rtc:candidate"], ["poll:leaderboard"] * 3):
            replies = []
            for event in family:
                payload = {"source": "mic", "muted": True} if event == "rtc:mute" else None
                replies.append(await host.call(event, payload or SERVED[event]))
            assert code(replies[-1]) == "rate_limited", replies


@pytest.mark.parametrize("cmd", [c.PollExport(poll_id="p1"), c.ChatSend(text="x")])
def test_the_domain_gate_serves_commands_and_queries_alike(cmd: c.Command) -> None:
    h = Harness()
    h.join("teacher", "host")
    h.join("ann")

    def serve(user_id: str) -> None:
        if h.room.is_query(cmd):
            h.room.ask(user_id, cmd)
        else:
            h.room.handle(user_id, cmd, h.ctx())

    with pytest.raises(DomainError) as absent:
        serve("ghost")
    assert absent.value.code == "forbidden"
    h.commit([e.ClassEnded(actor="teacher")])
    with pytest.raises(DomainError) as ended:
        serve("ann")
    assert ended.value.code == "conflict"
