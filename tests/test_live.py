"""Functional tests of the live class over real Socket.IO clients, in both wire modes."""

from __future__ import annotations

import asyncio

from tests.conftest import Server
from web.keys import REGISTRY


async def test_join_snapshot(server: Server) -> None:
    cid = await server.create_class("Physics 101")
    host = await server.join(cid, "alice", "host")
    snap = host.received("class:state")[0]
    assert snap["class"] == {"id": cid, "title": "Physics 101"}
    assert snap["you"] == {"user_id": "alice", "name": "Alice", "role": "host", "room": "main"}
    assert [p["user_id"] for p in snap["participants"]] == ["alice"]
    assert snap["room"] == "main"
    assert snap["recording"] == {"state": "idle"}
    assert snap["media"]["mode"] == "sfu"
    for key in ("chat", "hands", "polls", "questions", "tracks"):
        assert snap[key] == []
    bob = await server.join(cid, "bob")
    joined = await host.wait_for("participant:joined", lambda d: d["user_id"] == "bob")
    assert joined["name"] == "Bob" and joined["role"] == "participant"
    assert joined["seq"] > snap["seq"]
    snap_b = bob.received("class:state")[0]
    assert {p["user_id"] for p in snap_b["participants"]} == {"alice", "bob"}


async def test_chat_in_order_to_everyone(server: Server) -> None:
    cid = await server.create_class()
    peers = [await server.join(cid, f"user{i}") for i in range(4)]
    sender = peers[0]
    for i in range(8):
        ack = await sender.call("chat:send", {"text": f"message {i}"})
        assert ack == {"ok": True}
    for peer in peers:
        await peer.wait_for("chat:message", lambda d: d["text"] == "message 7")
        texts = [m["text"] for m in peer.received("chat:message")]
        assert texts == [f"message {i}" for i in range(8)]
        seqs = [m["seq"] for m in peer.received("chat:message")]
        assert seqs == sorted(seqs)
    msg = peers[3].received("chat:message")[0]
    assert msg["from"] == {"user_id": "user0", "name": "User0"}
    assert msg["room"] == "main" and "to_user" not in msg
    assert isinstance(msg["id"], str) and isinstance(msg["ts"], int)


async def test_direct_message_reaches_only_its_target(server: Server) -> None:
    cid = await server.create_class()
    alice, bob, carol = [await server.join(cid, u) for u in ("alice", "bob", "carol")]
    assert (await alice.call("chat:send", {"text": "psst", "to_user": "bob"}))["ok"]
    assert (await alice.call("chat:send", {"text": "hello all"}))["ok"]
    await carol.wait_for("chat:message", lambda d: d["text"] == "hello all")
    got = await bob.wait_for("chat:message", lambda d: d["text"] == "psst")
    assert got["to_user"] == "bob"
    await alice.wait_for("chat:message", lambda d: d["text"] == "psst")
    assert [m["text"] for m in carol.received("chat:message")] == ["hello all"]
    ack = await alice.call("chat:send", {"text": "x", "to_user": "nobody"})
    assert ack["error"]["code"] == "not_found"
    # The snapshot of a newcomer holds room chat, not others' direct messages.
    dave = await server.join(cid, "dave")
    assert [m["text"] for m in dave.received("class:state")[0]["chat"]] == ["hello all"]
    bob2 = server.peer(server.token(cid, "bob"))
    snap = await bob2.connect()
    assert [m["text"] for m in snap["chat"]] == ["psst", "hello all"]


async def test_hands(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    bob = await server.join(cid, "bob")
    carol = await server.join(cid, "carol")
    assert (await bob.call("hand:raise"))["ok"]
    changed = await host.wait_for("hand:changed", lambda d: d["raised"])
    assert changed["user_id"] == "bob"
    ack = await carol.call("hand:lower", {"user_id": "bob"})
    assert ack["error"]["code"] == "forbidden"
    assert (await host.call("hand:lower", {"user_id": "bob"}))["ok"]
    lowered = await bob.wait_for("hand:changed", lambda d: not d["raised"])
    assert lowered["user_id"] == "bob"
    assert (await carol.call("hand:raise"))["ok"]
    late = await server.join(cid, "dave")
    hands = late.received("class:state")[0]["hands"]
    assert [h["user_id"] for h in hands] == ["carol"]


async def test_reactions(server: Server) -> None:
    cid = await server.create_class()
    alice, bob = await server.join(cid, "alice"), await server.join(cid, "bob")
    assert (await alice.call("reaction:send", {"emoji": "👏"}))["ok"]
    got = await bob.wait_for("reaction")
    assert got["user_id"] == "alice" and got["emoji"] == "👏"


async def test_second_connection_replaces_the_first(server: Server) -> None:
    cid = await server.create_class()
    watcher = await server.join(cid, "watcher")
    first = await server.join(cid, "bob")
    mark = len(watcher.events)
    second = server.peer(server.token(cid, "bob"))
    await second.connect()
    await first.wait_for("session:replaced")
    await asyncio.wait_for(first.disconnected.wait(), 10)
    assert (await second.call("chat:send", {"text": "still here"}))["ok"]
    await watcher.wait_for("chat:message", lambda d: d["text"] == "still here")
    # Replacing a socket is not leaving: nobody saw bob go or come back.
    names = [name for name, _ in watcher.events[mark:]]
    assert "participant:left" not in names and "participant:joined" not in names


async def test_reconnect_with_last_seq_gets_exactly_the_missed_events(server: Server) -> None:
    cid = await server.create_class()
    alice = await server.join(cid, "alice")
    bob = await server.join(cid, "bob")
    assert (await alice.call("chat:send", {"text": "before"}))["ok"]
    await bob.wait_for("chat:message", lambda d: d["text"] == "before")
    last = bob.last_seq
    await bob.close()
    await alice.wait_for("participant:left", lambda d: d["user_id"] == "bob")
    for i in range(3):
        assert (await alice.call("chat:send", {"text": f"missed {i}"}))["ok"]
    assert (await alice.call("chat:send", {"text": "secret", "to_user": "alice"}))["ok"]
    back = server.peer(server.token(cid, "bob"))
    resumed = await back.connect(last_seq=last)
    replayed = [(n, d) for n, d in back.events if n != "class:resumed"]
    assert [d["seq"] for _, d in replayed] == sorted(d["seq"] for _, d in replayed)
    assert all(d["seq"] > last for _, d in replayed)
    texts = [d["text"] for n, d in replayed if n == "chat:message"]
    assert texts == ["missed 0", "missed 1", "missed 2"]
    # Bob's own leave and rejoin are part of what happened since last_seq.
    assert ("participant:left", "bob") in [(n, d.get("user_id")) for n, d in replayed]
    assert replayed[-1][0] == "participant:joined"
    assert resumed["seq"] == replayed[-1][1]["seq"]
    assert not back.received("class:state")
    # After catching up the socket is live.
    assert (await alice.call("chat:send", {"text": "live"}))["ok"]
    await back.wait_for("chat:message", lambda d: d["text"] == "live")


async def test_unknown_last_seq_falls_back_to_a_snapshot(server: Server) -> None:
    cid = await server.create_class()
    bob = server.peer(server.token(cid, "bob"))
    snap = await bob.connect(last_seq=10_000, expect="class:state")
    assert snap["you"]["user_id"] == "bob"


async def test_class_end(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    bob = await server.join(cid, "bob")
    ack = await bob.call("class:end")
    assert ack["error"]["code"] == "forbidden"
    assert (await host.call("class:end"))["ok"]
    await bob.wait_for("class:ended")
    await asyncio.wait_for(bob.disconnected.wait(), 10)
    late = server.peer(server.token(cid, "carol"))
    try:
        await late.connect()
    except Exception as exc:
        assert getattr(exc, "code", None) == "ended"
    else:
        raise AssertionError("joined an ended class")


async def test_a_crowd_made_durable_together_is_announced_in_one_message(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    late = await server.join(cid, "late")
    last = late.last_seq
    await late.close()
    await host.wait_for("participant:left", lambda d: d["user_id"] == "late")
    mark = len(host.events)
    runtime = server.app[REGISTRY].runtimes[cid]
    crowd = [f"guest-{i:02d}" for i in range(30)]

    # Joins committed together are written to the journal in one append, so they
    # leave together: one class:batch holding each participant:joined in seq order.
    joins = [runtime.room.join(user, user.title(), "participant") for user in crowd]
    await asyncio.gather(*(runtime.commit(drafts) for drafts in joins))
    await host.wait_for("participant:joined", lambda d: d["user_id"] == crowd[-1])
    arrived = [(n, d) for n, d in host.events[mark:]]
    assert [d["user_id"] for _, d in arrived] == crowd
    assert {n for n, _ in arrived} == {"participant:joined"}
    assert [d["seq"] for _, d in arrived] == sorted(d["seq"] for _, d in arrived)
    assert host.batches == 1

    leaves = [runtime.room.leave(user, "left") for user in crowd]
    await asyncio.gather(*(runtime.commit(drafts) for drafts in leaves))
    await host.wait_for("participant:left", lambda d: d["user_id"] == crowd[-1])
    assert host.batches == 2
    # A socket catching up gets the same events one by one, and ends where the host is.
    back = server.peer(server.token(cid, "late"))
    await back.connect(last_seq=last)
    caught = [d["user_id"] for n, d in back.events if n == "participant:joined"]
    assert caught[: len(crowd)] == crowd and back.batches == 0
    assert back.last_seq >= host.last_seq
