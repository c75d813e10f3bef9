"""Functional tests of Q&A over real Socket.IO clients."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from signaling.coalesce import INTERVAL_S
from tests.conftest import Server
from tests.peer import Peer


async def ask(peer: Peer, text: str, **extra: Any) -> str:
    ack = await peer.call("qa:ask", {"text": text, **extra})
    assert ack["ok"], ack
    return str(ack["question_id"])


def votes(peer: Peer, question_id: str) -> list[int]:
    return [d["votes"] for d in peer.received("qa:votes") if d["question_id"] == question_id]


async def test_ask_upvote_pin_answer(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teach", "host")
    ann, ben, cat = [await server.join(cid, u) for u in ("ann", "ben", "cat")]
    first = await ask(ann, "What is a vector space?")
    got = await ben.wait_for("qa:question")
    assert got["question"] == got["question"] | {
        "id": first,
        "text": "What is a vector space?",
        "author": {"user_id": "ann", "name": "Ann"},
        "votes": 0,
        "status": "open",
        "pinned": False,
    }
    second = await ask(ben, "Is the exam open book?")
    for peer in (ann, ben, cat):
        assert (await peer.call("qa:upvote", {"question_id": second}))["ok"]
    assert (await ann.call("qa:upvote", {"question_id": second})) == {"ok": True}  # once only
    assert (await cat.call("qa:unvote", {"question_id": second}))["ok"]
    await host.wait_for("qa:votes", lambda d: d["question_id"] == second and d["votes"] == 2)
    await cat.wait_for("qa:votes", lambda d: d["question_id"] == second and d["votes"] == 2)
    assert max(votes(cat, second)) <= 3 and len(votes(cat, second)) <= 4

    assert (await host.call("qa:pin", {"question_id": second}))["ok"]
    pinned = await ann.wait_for("qa:updated", lambda d: d["question"]["pinned"])
    assert pinned["question"]["id"] == second and pinned["question"]["votes"] == 2
    ack = await host.call("qa:answer", {"question_id": second, "text": "Yes, one sheet."})
    assert ack["ok"]
    done = await cat.wait_for("qa:updated", lambda d: d["question"]["status"] == "answered")
    assert done["question"]["answer"] == "Yes, one sheet." and not done["question"]["pinned"]
    assert (await ann.call("qa:dismiss", {"question_id": first}))["error"]["code"] == "forbidden"
    ack = await ann.call("qa:upvote", {"question_id": "nope"})
    assert ack["error"]["code"] == "not_found"

    # The snapshot lists questions in asking order, with my own votes marked.
    late = server.peer(server.token(cid, "ann"))
    snap = await late.connect()
    assert [(q["id"], q["votes"], q["voted"]) for q in snap["questions"]] == [
        (first, 0, False),
        (second, 2, True),
    ]
    assert snap["qa"] == {"moderation": False}


async def test_moderation_and_anonymity(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teach", "host")
    mod = await server.join(cid, "mod", "moderator")
    ann, ben = await server.join(cid, "ann"), await server.join(cid, "ben")
    assert (await mod.call("qa:moderation", {"on": True}))["ok"]
    assert (await ann.wait_for("qa:moderation"))["on"] is True
    held = await ask(ann, "Can we have a break?", anonymous=True)
    rude = await ask(ben, "something rude")
    pending = await host.wait_for("qa:question", lambda d: d["question"]["id"] == held)
    assert pending["question"]["status"] == "pending" and pending["question"]["author"] is None
    await mod.wait_for("qa:question", lambda d: d["question"]["id"] == rude)
    assert (await host.call("qa:dismiss", {"question_id": rude}))["ok"]
    assert (await host.call("qa:approve", {"question_id": held}))["ok"]
    approved = await ben.wait_for("qa:updated")
    assert approved["question"]["id"] == held and approved["question"]["status"] == "open"
    assert approved["question"]["author"] is None
    ack = await host.call("qa:approve", {"question_id": held})
    assert ack["error"]["code"] == "conflict"
    # Participants never saw the pending questions, nor the dismissed one.
    for peer in (ann, ben):
        assert not peer.received("qa:question")
        seen = [d["question"]["id"] for d in peer.received("qa:updated")]
        assert seen == [held]
    # Nobody, hosts included, is ever told who asked the anonymous question.
    await ask(host, "marker")
    for peer in (host, mod, ann, ben):
        await peer.wait_for("qa:question", lambda d: d["question"]["text"] == "marker")
        for name, data in peer.events:
            if name.startswith("qa:"):
                assert '"ann"' not in json.dumps(data), (peer, name, data)
    snap = await server.join(cid, "cat")
    questions = snap.received("class:state")[0]["questions"]
    assert [(q["id"], q["author"]) for q in questions] == [
        (held, None),
        (questions[1]["id"], {"user_id": "teach", "name": "Teach"}),
    ]
    staff = server.peer(server.token(cid, "mod", "moderator"))
    staff_snap = await staff.connect()
    assert [q["status"] for q in staff_snap["questions"]] == ["open", "dismissed", "open"]
    assert staff_snap["qa"] == {"moderation": True}


async def test_an_upvote_storm_is_coalesced(msgpack_server: Server) -> None:
    cid = await msgpack_server.create_class()
    host = await msgpack_server.join(cid, "teach", "host")
    crowd = [msgpack_server.peer(msgpack_server.token(cid, f"u{i:02d}")) for i in range(60)]
    await asyncio.gather(*(p.connect() for p in crowd))
    question = await ask(crowd[0], "Will this be on the test?")
    for peer in crowd:
        await peer.wait_for("qa:question")
    started = time.monotonic()
    acks = await asyncio.gather(*(p.call("qa:upvote", {"question_id": question}) for p in crowd))
    assert all(a == {"ok": True} for a in acks)
    for peer in [host, *crowd]:
        await peer.wait_for("qa:votes", lambda d: d["votes"] == 60)
    bound = (time.monotonic() - started) / INTERVAL_S + 2
    for peer in [host, *crowd]:
        assert len(votes(peer, question)) <= bound
        assert all("seq" not in d and d["as_of"] > 0 for d in peer.received("qa:votes"))
    await asyncio.gather(*(p.close() for p in crowd))
