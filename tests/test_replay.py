"""The interactive replay over real sockets: a recorded class, published, watched later.

A class is recorded with a quiz question (published in class), an anonymous
word poll and a quiz question never revealed (a poll before the recording
started is not part of it); learners then join the recording's
own stream with replay tokens, vote in the async cohort, ask questions at a
moment, reply, upvote, get answers from staff, and report progress; a
reconnect catches up by `last_seq`; a restart rebuilds the stream from its
journal. Every refusal of the gate is checked, and nothing of the live class
is disturbed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from classroom.replay import encode_polls
from classroom.replay_xapi import VIDEO
from signaling.auth import mint_replay
from tests.conftest import SECRET, Server, running, settings_for
from tests.peer import Peer, Refused
from tests.replay_domain import QUIZ
from tests.replay_package import published_for_replay
from tests.test_recording_privacy import AsAdmin, fetch, ready
from tests.test_webhooks import hooked, receiving
from web.keys import REPLAYS


async def poll(host: Peer, spec: dict[str, Any], votes: dict[Peer, Any]) -> str:
    poll_id = str((await host.call("poll:create", spec))["poll_id"])
    assert (await host.call("poll:open", {"poll_id": poll_id}))["ok"]
    for peer, answer in votes.items():
        assert (await peer.call("poll:vote", {"poll_id": poll_id, "answer": answer}))["ok"]
    assert (await host.call("poll:close", {"poll_id": poll_id}))["ok"]
    return poll_id


async def recorded_class(server: Server) -> tuple[str, dict[str, str]]:
    """A published recording (visible to learners) with three polls; returns its id and polls."""
    cid = await server.create_class("Geometry")
    host = await server.join(cid, "teacher", "host")
    ann, ben = await server.join(cid, "ann"), await server.join(cid, "ben")
    before = await poll(host, {"question": "Before?", "kind": "truefalse"}, {ann: [0]})
    rid = str((await host.call("recording:start"))["recording_id"])
    quiz = await poll(
        host,
        {"question": "Three sides?", "kind": "single", "options": ["Triangle", "Square"]}
        | {"correct": [0]},
        {ann: [0], ben: [1]},
    )
    assert (await host.call("poll:publish", {"poll_id": quiz}))["ok"]
    words = await poll(
        host, {"question": "One word?", "kind": "text", "anonymous": True}, {ann: "light wave"}
    )
    unrevealed = await poll(
        host,
        {"question": "Is zero even?", "kind": "truefalse", "correct": [0]},
        {ben: [1]},
    )
    assert (await host.call("recording:stop"))["ok"]
    await ready(server, rid)
    status, body = await fetch(
        server, "POST", f"/api/recordings/{rid}/publish", AsAdmin, {"visibility": "learners"}
    )
    assert status in (200, 202), body
    await ready(server, rid)
    assert before
    return rid, {"quiz": quiz, "words": words, "unrevealed": unrevealed}


async def watch(server: Server, rid: str, user: str, role: str = "viewer") -> Peer:
    peer = server.peer(mint_replay(SECRET, rid, user, user.title(), role))  # type: ignore[arg-type]
    await peer.connect(expect="replay:state")
    return peer


async def test_learners_vote_ask_and_watch_later(msgpack_server: Server) -> None:
    server = msgpack_server
    rid, polls = await recorded_class(server)
    cy, dee = await watch(server, rid, "cy"), await watch(server, rid, "dee")
    teach = await watch(server, rid, "teacher", "host")

    state = cy.received("replay:state")[0]
    assert state["recording"]["id"] == rid and state["recording"]["duration_ms"] >= 0
    assert state["you"] == state["you"] | {"user_id": "cy", "name": "Cy", "role": "viewer"}
    assert state["progress"] == {"position_ms": 0, "watched": []}
    assert [p["poll_id"] for p in state["polls"]] == [
        polls[k] for k in ("quiz", "words", "unrevealed")
    ]
    # Nothing of the outcomes before voting: no results, no answer key.
    assert all("results" not in p and "correct" not in p for p in state["polls"])
    staff_polls = teach.received("replay:state")[0]["polls"]
    assert all("results" in p for p in staff_polls)

    # A ballot in the async cohort: both cohorts' results, the key of a quiz published live.
    ack = await cy.call("replay:vote", {"poll_id": polls["quiz"], "answer": [0]})
    assert ack["ok"] and ack["correct"] == [0] and ack["right"] is True
    assert ack["results"]["live"] == {"counts": [1, 1], "total": 2, "voters": 2}
    assert ack["results"]["async"] == {"counts": [1, 0], "total": 1, "voters": 1}
    again = await cy.call("replay:vote", {"poll_id": polls["quiz"], "answer": [1]})
    assert again["results"]["async"] == {"counts": [0, 1], "total": 1, "voters": 1}
    assert again["right"] is False  # replaced, never doubled
    ack = await cy.call("replay:vote", {"poll_id": polls["unrevealed"], "answer": [0]})
    assert ack["ok"] and "correct" not in ack
    ack = await dee.call("replay:vote", {"poll_id": polls["words"], "answer": "Wave"})
    assert {"word": "wave", "count": 1} in ack["results"]["async"]["words"]
    # Staff and the poll's voters get the async cohort's tally, coalesced.
    await teach.wait_for("replay:results", lambda d: d["poll_id"] == polls["quiz"])
    await cy.wait_for("replay:results", lambda d: d["poll_id"] == polls["quiz"])
    assert not [d for d in dee.received("replay:results") if d["poll_id"] == polls["quiz"]]
    # Nobody is ever named by a ballot.
    for peer in (cy, dee, teach):
        assert not [e for e in peer.events if e[0] == "replay:vote"]
        assert "dee" not in repr(peer.received("replay:results"))

    # A question at a moment, a reply, an upvote, a staff answer.
    duration = state["recording"]["duration_ms"]
    asked = await dee.call("replay:ask", {"text": "Why  three?", "at_ms": duration})
    qid = asked["question_id"]
    question = (await cy.wait_for("replay:question"))["question"]
    assert question | {"votes": 0} == question
    assert (question["id"], question["text"], question["at_ms"]) == (qid, "Why three?", duration)
    assert question["author"] == {"user_id": "dee", "name": "Dee"}
    assert (await cy.call("replay:upvote", {"question_id": qid}))["ok"]
    assert (await cy.call("replay:reply", {"question_id": qid, "text": "Good one"}))["ok"]
    assert (await teach.call("replay:answer", {"question_id": qid, "text": "Triangles."}))["ok"]
    answered = await dee.wait_for("replay:updated", lambda d: d["question"]["status"] == "answered")
    assert answered["question"]["answer"] == "Triangles."
    assert answered["question"]["replies"][0]["text"] == "Good one"
    votes = await dee.wait_for("replay:votes", lambda d: d["question_id"] == qid)
    assert votes["votes"] == 1

    # Progress is kept and comes back in the next state.
    watched = {"position_ms": duration, "watched": [[0, duration]]}
    assert await cy.call("replay:progress", watched) == {"ok": True}
    later = await watch(server, rid, "cy")
    mine = later.received("replay:state")[0]
    assert mine["progress"] == watched
    quiz = next(p for p in mine["polls"] if p["poll_id"] == polls["quiz"])
    assert quiz["your_answer"] == [1] and "results" in quiz
    assert [q["id"] for q in mine["questions"]] == [qid]
    assert mine["questions"][0]["voted"] is True


async def test_the_gate_refuses_and_changes_nothing(msgpack_server: Server) -> None:
    server = msgpack_server
    rid, polls = await recorded_class(server)
    cy = await watch(server, rid, "cy")
    teach = await watch(server, rid, "teacher", "host")
    qid = (await cy.call("replay:ask", {"text": "Hm?", "at_ms": 0}))["question_id"]
    await teach.wait_for("replay:question")

    async def refused(peer: Peer, event: str, data: Any, code: str) -> None:
        ack = await peer.call(event, data)
        assert ack["ok"] is False and ack["error"]["code"] == code, (event, ack)

    await refused(cy, "replay:answer", {"question_id": qid, "text": "Me"}, "forbidden")
    await refused(cy, "replay:dismiss", {"question_id": qid}, "forbidden")
    await refused(cy, "replay:vote", {"poll_id": polls["quiz"], "answer": [7]}, "bad_request")
    await refused(cy, "replay:vote", {"poll_id": "nope", "answer": [0]}, "not_found")
    await refused(cy, "replay:ask", {"text": "x" * 5000, "at_ms": 0}, "too_large")
    await refused(cy, "replay:ask", {"text": "late", "at_ms": 10**9}, "bad_request")
    await refused(cy, "poll:vote", {"poll_id": polls["quiz"], "answer": [0]}, "bad_request")
    await refused(cy, "replay:nope", {}, "bad_request")
    # The rate limit of a family: a burst of questions is cut off.
    codes = [(await cy.call("replay:ask", {"text": f"q{i}", "at_ms": 0}))["ok"] for i in range(40)]
    assert False in codes
    # A dismissed question leaves learners' lists; staff still see it.
    assert (await teach.call("replay:dismiss", {"question_id": qid}))["ok"]
    fresh = await watch(server, rid, "dee")
    assert qid not in [q["id"] for q in fresh.received("replay:state")[0]["questions"]]
    await refused(fresh, "replay:upvote", {"question_id": qid}, "not_found")


async def test_tokens_must_open_the_recording(msgpack_server: Server) -> None:
    server = msgpack_server
    cid = await server.create_class("Private")
    host = await server.join(cid, "teacher", "host")
    rid = str((await host.call("recording:start"))["recording_id"])
    assert (await host.call("recording:stop"))["ok"]
    await ready(server, rid)
    # Private (the default): a viewer's token does not open it; staff's does.
    with pytest.raises(Refused) as refusal:
        await watch(server, rid, "ann")
    assert refusal.value.code == "unauthorized"
    await watch(server, rid, "teacher", "host")
    for token in (mint_replay(SECRET, "r-none", "ann", "Ann"), "garbage"):
        with pytest.raises(Refused):
            await server.peer(token).connect(expect="replay:state")


async def test_catch_up_and_a_restart_keep_everything(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path)) as server:
        rid, polls = await recorded_class(server)
        cy, dee = await watch(server, rid, "cy"), await watch(server, rid, "dee")
        seq = cy.received("replay:state")[0]["seq"]
        await cy.close()
        first = (await dee.call("replay:ask", {"text": "One?", "at_ms": 0}))["question_id"]
        second = (await dee.call("replay:ask", {"text": "Two?", "at_ms": 0}))["question_id"]
        assert (await dee.call("replay:vote", {"poll_id": polls["quiz"], "answer": [0]}))["ok"]
        back = server.peer(mint_replay(SECRET, rid, "cy", "Cy"))
        resumed = await back.connect(last_seq=seq, expect="replay:resumed")
        asked = [d["question"]["id"] for d in back.received("replay:question")]
        assert asked == [first, second] and resumed["seq"] > seq
        assert not back.received("replay:state")
        duration = cy.received("replay:state")[0]["recording"]["duration_ms"]
        await dee.call("replay:progress", {"position_ms": duration, "watched": [[0, duration]]})
    async with running(settings_for(tmp_path)) as server:
        dee = await watch(server, rid, "dee")
        state = dee.received("replay:state")[0]
        assert [q["id"] for q in state["questions"]] == [first, second]
        assert state["progress"]["watched"] == [[0, duration]]
        quiz = next(p for p in state["polls"] if p["poll_id"] == polls["quiz"])
        assert quiz["your_answer"] == [0]
        assert quiz["results"]["async"]["voters"] == 1
        assert state["you"]["last_seen"] is not None  # a second visit


async def test_report_digest_and_xapi_for_staff(msgpack_server: Server) -> None:
    server = msgpack_server
    rid, polls = await recorded_class(server)
    cy = await watch(server, rid, "cy")
    duration = cy.received("replay:state")[0]["recording"]["duration_ms"]
    half = duration // 2
    assert (await cy.call("replay:vote", {"poll_id": polls["quiz"], "answer": [0]}))["ok"]
    assert (await cy.call("replay:vote", {"poll_id": polls["words"], "answer": "wave"}))["ok"]
    asked = await cy.call("replay:ask", {"text": "What?", "at_ms": half})
    progress = {"position_ms": half, "watched": [[0, half], [0, half // 2]]}
    assert (await cy.call("replay:progress", progress))["ok"]
    base = f"/api/recordings/{rid}"
    viewer = {"Authorization": f"Bearer {cy.token}"}

    # Staff only: nothing without credentials, 403 for a viewer's token.
    for path in ("/report", "/digest", "/xapi"):
        assert (await fetch(server, "GET", base + path))[0] == 401
        assert (await fetch(server, "GET", base + path, viewer))[0] == 403

    status, body = await fetch(server, "GET", base + "/report", AsAdmin)
    assert status == 200
    (row,) = body["viewers"]
    assert (row["user_id"], row["watched_ms"], row["polls_answered"]) == ("cy", half, 2)
    assert row["coverage"] == round(half / duration, 4) and row["quiz_correct"] == 1
    quiz = next(p for p in body["polls"] if p["poll_id"] == polls["quiz"])
    assert (quiz["live_voters"], quiz["async_voters"], quiz["async_correct"]) == (2, 1, 1)

    host = mint_replay(SECRET, rid, "teacher", "Teacher", "host")
    as_host = {"Authorization": f"Bearer {host}"}
    status, body = await fetch(server, "GET", base + "/digest?since=0", as_host)
    assert status == 200 and body["ballots"] == 2 and body["viewers"] == 1
    assert [q["id"] for q in body["questions"]] == [asked["question_id"]]
    status, feed = await fetch(server, "GET", base + "/digest?since=0&format=atom", as_host)
    entries = ElementTree.fromstring(feed).findall("{http://www.w3.org/2005/Atom}entry")
    assert status == 200 and len(entries) == 1

    status, body = await fetch(server, "GET", base + "/xapi", AsAdmin)
    answered = [s for s in body["statements"] if s["verb"]["display"]["en-US"] == "answered"]
    # The anonymous word poll names nobody; the quiz answer uses the live poll's activity.
    assert [s["object"]["id"].rsplit("/", 1)[1] for s in answered] == [polls["quiz"]]
    assert answered[0]["result"]["success"] is True
    class_id = answered[0]["object"]["id"].split("/c/")[1].split("/")[0]
    status, live = await fetch(server, "GET", f"/api/classes/{class_id}/xapi", AsAdmin)
    live_ids = {s["object"]["id"] for s in live["statements"]}
    assert answered[0]["object"]["id"] in live_ids
    played = [s for s in body["statements"] if s["verb"]["display"]["en-US"] == "played"]
    assert played[0]["result"]["extensions"][f"{VIDEO}/extensions/progress"] > 0


async def test_a_question_asked_in_a_replay_is_a_webhook(tmp_path: Path) -> None:
    published_for_replay(tmp_path, "r-hooked", encode_polls([QUIZ]))
    async with receiving() as receiver, running(hooked(tmp_path, receiver)) as server:
        ann = await watch(server, "r-hooked", "ann")
        asked = await ann.call("replay:ask", {"text": "Why?", "at_ms": 61_000})
        await ann.call("replay:ask", {"text": "Who?", "at_ms": 0, "anonymous": True})
        await receiver.wait_until(lambda: len(receiver.types()) == 2)
    bodies = sorted(
        (d.body for d in receiver.tries if d.answered == 200), key=lambda b: b["data"]["seq"]
    )
    first, second = (b["data"] for b in bodies)
    assert first["recording_id"] == "r-hooked" and first["title"] == "Geometry"
    assert first["question"] == {
        "id": asked["question_id"],
        "text": "Why?",
        "at_ms": 61_000,
        "author": {"user_id": "ann", "name": "Ann"},
    }
    assert second["question"]["author"] is None


async def test_a_stream_nobody_watches_unloads_and_comes_back(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path, class_idle_s=1.0)) as server:
        rid, polls = await recorded_class(server)
        dee = await watch(server, rid, "dee")
        assert (await dee.call("replay:vote", {"poll_id": polls["quiz"], "answer": [0]}))["ok"]
        asked = (await dee.call("replay:ask", {"text": "Why?", "at_ms": 0}))["question_id"]
        stream = server.app[REPLAYS].runtimes[rid]
        await dee.close()
        async with asyncio.timeout(10):
            await stream.closed.wait()
        assert rid not in server.app[REPLAYS].runtimes
        back = await watch(server, rid, "dee")
        state = back.received("replay:state")[0]
        assert [q["id"] for q in state["questions"]] == [asked]
        quiz = next(p for p in state["polls"] if p["poll_id"] == polls["quiz"])
        assert quiz["your_answer"] == [0]
        assert server.app[REPLAYS].runtimes[rid] is not stream
