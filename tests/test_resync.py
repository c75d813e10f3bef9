"""A user whose view changes (a room move, a new role) gets a fresh snapshot of it."""

from __future__ import annotations

from tests.conftest import Server


async def test_a_moved_user_sees_the_polls_and_chat_of_the_new_room(msgpack_server: Server) -> None:
    server = msgpack_server
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    ann = await server.join(cid, "ann")
    ben = await server.join(cid, "ben")
    ack = await host.call(
        "breakout:open", {"count": 2, "assignment": "manual", "assignments": {"ann": 0}}
    )
    assert ack["ok"], ack
    first, second = (room["id"] for room in ack["breakouts"]["rooms"])
    await ann.wait_for("breakout:assigned")
    # Something happens in room one before ben arrives there.
    assert (await ann.call("chat:send", {"text": "welcome to room one"}))["ok"]
    assert (await host.call("breakout:visit", {"room_id": first}))["ok"]
    created = await host.call("poll:create", {"question": "Room poll?", "kind": "truefalse"})
    assert (await host.call("poll:open", {"poll_id": created["poll_id"]}))["ok"]
    mark = len(ben.events)
    assert (await host.call("breakout:assign", {"user_id": "ben", "room_id": first}))["ok"]
    fresh = await ben.wait_for("class:state", after=mark)
    assert fresh["room"] == first and fresh["you"]["room"] == first
    assert [p["question"] for p in fresh["polls"]] == ["Room poll?"]
    assert [m["text"] for m in fresh["chat"]] == ["welcome to room one"]
    assert second != first


async def test_a_promoted_user_gets_the_staff_view(msgpack_server: Server) -> None:
    server = msgpack_server
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    ann = await server.join(cid, "ann")
    draft = await host.call("poll:create", {"question": "Draft?", "kind": "truefalse"})
    assert draft["ok"]
    assert ann.received("class:state")[0]["polls"] == []  # drafts are for staff
    mark = len(ann.events)
    assert (await host.call("participant:set_role", {"user_id": "ann", "role": "moderator"}))["ok"]
    fresh = await ann.wait_for("class:state", after=mark)
    assert fresh["you"]["role"] == "moderator"
    assert [p["question"] for p in fresh["polls"]] == ["Draft?"]
