"""Class reports over HTTP, from a class scripted over real sockets: every field, role checks.

And the report book the routes use, over a real file journal."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from aiortc import AudioStreamTrack

from classroom import commands as c
from classroom import events as e
from classroom.reports import ReportFold, class_report
from journal import Record
from journal.files import FileJournal
from tests.conftest import ADMIN, Server
from tests.peer import Peer
from tests.rtc_peer import RtcClient, Tone
from tests.test_reports_domain import ms, scripted
from tests.xapi_rules import check_all
from web.reports_api import ReportBook


@pytest.fixture
def server(msgpack_server: Server) -> Server:
    return msgpack_server


async def get(server: Server, path: str, bearer: str | None = ADMIN) -> tuple[int, str, Any]:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.url + path, headers=headers) as resp,
    ):
        kind = resp.headers.get("Content-Type", "")
        body = await resp.json() if kind.startswith("application/json") else await resp.text()
        return resp.status, kind, body


async def ts_of(peer: Peer, event: str, **match: Any) -> int:
    """The `ts` of the first `event` whose fields match (waits for it)."""
    data = await peer.wait_for(event, lambda d: all(d.get(k) == v for k, v in match.items()))
    return int(data["ts"])


async def nth_ts(peer: Peer, event: str, n: int, **match: Any) -> int:
    async def arrived() -> list[Any]:
        await peer.wait_for(
            event,
            lambda _: len([d for d in peer.received(event) if _matches(d, match)]) >= n,
        )
        return [d for d in peer.received(event) if _matches(d, match)]

    return int((await arrived())[n - 1]["ts"])


def _matches(data: Any, match: dict[str, Any]) -> bool:
    return all(data.get(k) == v for k, v in match.items())


async def ok(peer: Peer, event: str, data: Any = None) -> Any:
    ack = await peer.call(event, data)
    assert ack["ok"], ack
    return ack


async def test_a_scripted_class_is_reported_field_by_field(server: Server) -> None:
    cid = await server.create_class("Optics")
    # The moderator comes first, before the class starts, and watches every event's time.
    mod = await server.join(cid, "mod", "moderator")
    host = await server.join(cid, "teacher", "host")
    t_teacher = await ts_of(mod, "participant:joined", user_id="teacher")
    ann = await server.join(cid, "ann")
    bob = await server.join(cid, "bob")
    cat = await server.join(cid, "cat")
    t_ann = await ts_of(mod, "participant:joined", user_id="ann")
    t_bob = await ts_of(mod, "participant:joined", user_id="bob")
    t_cat = await ts_of(mod, "participant:joined", user_id="cat")

    # Chat, hands, reactions.
    await ok(ann, "chat:send", {"text": "hello"})
    await ok(ann, "chat:send", {"text": "psst", "to_user": "bob"})
    await ok(bob, "chat:send", {"text": "hi"})
    await ok(ann, "hand:raise")
    await ok(ann, "hand:lower")
    await ok(ann, "hand:raise")
    await ok(bob, "reaction:send", {"emoji": "👍"})
    await ok(bob, "reaction:send", {"emoji": "🎉"})

    # A named poll, an anonymous poll and a quiz question.
    async def poll(spec: dict[str, Any]) -> str:
        poll_id = str((await ok(host, "poll:create", spec))["poll_id"])
        await ok(host, "poll:open", {"poll_id": poll_id})
        return poll_id

    named = await poll({"question": "Ready?", "kind": "truefalse"})
    await ok(ann, "poll:vote", {"poll_id": named, "answer": [0]})
    secret = await poll({"question": "Lost?", "kind": "truefalse", "anonymous": True})
    await ok(bob, "poll:vote", {"poll_id": secret, "answer": [0]})
    quiz = await poll({"question": "2+2?", "kind": "single", "options": ["4", "5"], "correct": [0]})
    await ok(ann, "poll:vote", {"poll_id": quiz, "answer": [0]})
    await ok(bob, "poll:vote", {"poll_id": quiz, "answer": [1]})
    await ok(host, "poll:close", {"poll_id": quiz})

    # Questions: a named one with two upvotes, an anonymous one.
    asked = await ok(ann, "qa:ask", {"text": "Why is the sky blue?"})
    await ok(bob, "qa:ask", {"text": "Is this on the exam?", "anonymous": True})
    await ok(host, "qa:upvote", {"question_id": asked["question_id"]})
    await ok(cat, "qa:upvote", {"question_id": asked["question_id"]})

    # A reconnect (a leave and a join) and a replaced socket (nothing journaled).
    await ann.close()
    await ts_of(mod, "participant:left", user_id="ann")
    ann = await server.join(cid, "ann")
    await nth_ts(mod, "participant:joined", 2, user_id="ann")
    old_bob, bob = bob, await server.join(cid, "bob")
    await old_bob.wait_for("session:replaced")

    # Breakout rooms: ann chats in hers, bob calls for help in his.
    opened = await ok(
        host,
        "breakout:open",
        {"count": 2, "assignment": "manual", "assignments": {"ann": 0, "bob": 1}},
    )
    one, two = (r["id"] for r in opened["breakouts"]["rooms"])
    t_in_ann = await ts_of(mod, "participant:updated", user_id="ann", room=one)
    t_in_bob = await ts_of(mod, "participant:updated", user_id="bob", room=two)
    await ann.wait_for("breakout:assigned")
    await ok(ann, "chat:send", {"text": "in room one"})
    await ok(bob, "breakout:help")
    t_help = await ts_of(mod, "breakout:help_requested", user_id="bob")
    await ok(host, "breakout:close", {"grace_s": 0})
    t_out_ann = await ts_of(mod, "participant:updated", user_id="ann", room="main")
    t_out_bob = await ts_of(mod, "participant:updated", user_id="bob", room="main")

    # A recording with a chapter mark.
    rid = (await ok(host, "recording:start"))["recording_id"]
    await ok(host, "recording:marker", {"title": "Refraction"})
    await ok(host, "recording:stop")

    # Cat leaves for good; the host ends the class.
    await cat.close()
    t_cat_left = await ts_of(mod, "participant:left", user_id="cat")
    await ok(host, "class:end")
    t_end = await ts_of(mod, "class:ended")

    status, kind, report = await get(server, f"/api/classes/{cid}/report")
    assert status == 200 and kind.startswith("application/json"), report
    assert (report["class_id"], report["title"], report["media"]) == (cid, "Optics", "sfu")
    assert (report["started_at"], report["ended_at"], report["as_of"]) == (t_teacher, t_end, t_end)
    assert report["duration_ms"] == t_end - t_teacher
    assert report["people"] == 5 and report["peak_present"] == 5

    attendance = {a["user_id"]: a for a in report["attendance"]}
    assert [a["user_id"] for a in report["attendance"]] == ["mod", "teacher", "ann", "bob", "cat"]
    t_mod = attendance["mod"]["first_joined_at"]
    assert t_mod <= t_teacher
    expected = {
        "mod": ("moderator", t_mod, t_end, 1),  # came before the start: not late
        "teacher": ("host", t_teacher, t_end, 1),
        "ann": ("participant", t_ann, t_end, 2),  # the reconnect did not split her stay
        "bob": ("participant", t_bob, t_end, 1),  # the replaced socket journaled nothing
        "cat": ("participant", t_cat, t_cat_left, 1),
    }
    for uid, (role, start, end, joins) in expected.items():
        a = attendance[uid]
        assert (a["role"], a["spans"], a["joins"]) == (role, [[start, end]], joins), uid
        assert a["present_ms"] == end - start
        assert (a["first_joined_at"], a["last_left_at"]) == (start, end)
        assert a["late_ms"] == max(0, start - t_teacher) and a["late"] is False
        assert a["left_early_ms"] == t_end - end and a["left_early"] is False
        assert a["name"] == uid.title()

    participation = {p["user_id"]: p for p in report["participation"]}
    counts = [
        "chat",
        "direct_messages",
        "hands",
        "reactions",
        "polls_answered",
        "quiz_answered",
        "quiz_correct",
        "questions",
        "upvotes_received",
        "upvotes_given",
        "speaking_ms",
    ]
    got = {uid: [p[k] for k in counts] for uid, p in participation.items()}
    assert got == {
        "teacher": [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
        "ann": [3, 1, 2, 0, 2, 1, 1, 1, 2, 0, 0],
        "bob": [1, 0, 0, 2, 1, 1, 0, 0, 0, 0, 0],  # his anonymous vote and question: not his
        "mod": [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        "cat": [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0],
    }

    timeline = report["timeline"]
    assert timeline["bucket_ms"] == 60_000
    assert sum(b["chat"] for b in timeline["buckets"]) == 4
    assert sum(b["reactions"] for b in timeline["buckets"]) == 2
    assert max(b["present"] for b in timeline["buckets"]) == 5
    assert timeline["buckets"][0]["t"] == t_mod // 60_000 * 60_000
    assert timeline["buckets"][-1]["t"] == t_end // 60_000 * 60_000
    moments = [(m["kind"], m.get("id"), m.get("label")) for m in timeline["moments"]]
    assert moments == [
        ("poll.opened", named, "Ready?"),
        ("poll.opened", secret, "Lost?"),
        ("poll.opened", quiz, "2+2?"),
        ("poll.closed", quiz, "2+2?"),
        ("breakout.opened", None, "2"),
        ("breakout.closed", None, None),
        ("recording.started", rid, None),
        ("recording.marker", rid, "Refraction"),
        ("recording.stopped", rid, None),
        ("class.ended", None, None),
    ]
    assert timeline["moments"][-1]["t"] == t_end

    polls = {p["poll_id"]: p for p in report["polls"]}
    assert polls[named]["results"]["counts"] == [1, 0] and polls[named]["status"] == "open"
    assert polls[secret]["anonymous"] and polls[secret]["results"]["voters"] == 1
    assert polls[quiz]["status"] == "closed" and polls[quiz]["correct_voters"] == 1
    assert polls[quiz]["results"]["counts"] == [1, 1]

    rooms = {b["room_id"]: b for b in report["breakouts"]}
    assert [b["name"] for b in report["breakouts"]] == ["Room 1", "Room 2"]
    assert rooms[one]["people"] == [
        {"user_id": "ann", "name": "Ann", "role": "participant", "present_ms": t_out_ann - t_in_ann}
    ]
    assert rooms[two]["people"] == [
        {"user_id": "bob", "name": "Bob", "role": "participant", "present_ms": t_out_bob - t_in_bob}
    ]
    assert (rooms[one]["messages"], rooms[two]["messages"]) == (1, 0)
    assert rooms[two]["help_requests"] == [{"t": t_help, "user_id": "bob", "name": "Bob"}]
    assert rooms[one]["round"] == rooms[two]["round"] == 1
    assert rooms[one]["closed_at"] == rooms[two]["closed_at"] is not None

    assert [r["recording_id"] for r in report["recordings"]] == [rid]
    assert report["rules"] == {
        "rejoin_gap_ms": 60_000,
        "late_after_ms": 300_000,
        "early_before_ms": 300_000,
    }

    # The same class as CSV and as xAPI statements.
    status, kind, text = await get(server, f"/api/classes/{cid}/report?format=csv")
    assert status == 200 and kind.startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["user_id"] for r in rows] == ["mod", "teacher", "ann", "bob", "cat"]
    assert rows[2]["joins"] == "2" and rows[2]["chat"] == "3"
    assert rows[4]["present_ms"] == str(t_cat_left - t_cat)

    status, _, body = await get(server, f"/api/classes/{cid}/xapi")
    assert status == 200
    statements = body["statements"]
    check_all(statements, f"{server.settings.base_url}/c/{cid}")
    verbs = [s["verb"]["display"]["en-US"] for s in statements]
    assert verbs.count("joined") == verbs.count("left") == 5  # one stay each
    assert verbs.count("asked") == 3 and verbs.count("answered") == 3  # not the anonymous one
    assert verbs.count("posted") == 3  # the direct message is left out
    assert verbs[:3] == ["joined", "initialized", "joined"] and verbs[-1] == "terminated"
    poll_iri = f"{server.settings.base_url}/c/{cid}/polls/{quiz}"
    assert {
        s["object"]["id"] for s in statements if s["verb"]["display"]["en-US"] == "answered"
    } >= {poll_iri}


async def test_reports_are_for_hosts_moderators_and_the_admin(server: Server) -> None:
    cid = await server.create_class()
    other = await server.create_class("Another class")
    host = await server.join(cid, "teacher", "host")
    await server.join(cid, "ann")
    await server.join(cid, "mod", "moderator")
    await server.join(cid, "@evil", name="=cmd|' /C calc'!A0")
    for route in ("report", "xapi", "report?format=csv"):
        path = f"/api/classes/{cid}/{route}"
        assert (await get(server, path, None))[0] == 401
        assert (await get(server, path, "not-a-token"))[0] == 401
        assert (await get(server, path, server.token(cid, "ann")))[0] == 403
        assert (await get(server, path, server.token(other, "teacher", "host")))[0] == 403
        assert (await get(server, path, server.token(cid, "mod", "moderator")))[0] == 200
        assert (await get(server, path, server.token(cid, "teacher", "host")))[0] == 200
        assert (await get(server, path, ADMIN))[0] == 200
    path = f"/api/classes/{cid}/report"
    # The role the class gave last counts, not the one in the token.
    await ok(host, "participant:set_role", {"user_id": "ann", "role": "moderator"})
    await ok(host, "participant:set_role", {"user_id": "mod", "role": "participant"})
    assert (await get(server, path, server.token(cid, "ann")))[0] == 200
    assert (await get(server, path, server.token(cid, "mod", "moderator")))[0] == 403
    assert (await get(server, "/api/classes/nope/report", ADMIN))[0] == 404
    assert (await get(server, "/api/classes/../report", ADMIN))[0] == 404
    status, _, body = await get(server, f"{path}?format=pdf")
    assert status == 400 and body["error"]["code"] == "bad_request"
    status, _, text = await get(server, f"{path}?format=csv")
    evil = list(csv.DictReader(io.StringIO(text)))[-1]
    # Shown as text, never run as a formula.
    assert (evil["user_id"], evil["name"]) == ("'@evil", "''=cmd|' /C calc'!A0"[1:])


async def test_a_live_report_follows_the_class_as_it_goes(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    status, _, first = await get(server, f"/api/classes/{cid}/report")
    assert status == 200 and first["ended_at"] is None
    assert first["attendance"][0]["spans"] == [[first["started_at"], None]]
    assert first["attendance"][0]["present_ms"] == first["as_of"] - first["started_at"]
    ann = await server.join(cid, "ann")
    await ok(ann, "chat:send", {"text": "late to the party"})
    await host.wait_for("chat:message")
    status, _, second = await get(server, f"/api/classes/{cid}/report")
    assert [a["user_id"] for a in second["attendance"]] == ["teacher", "ann"]
    assert second["participation"][1]["chat"] == 1 and second["as_of"] >= first["as_of"]


@pytest.mark.timeout(60)
async def test_speaking_time_comes_from_the_sfu(media_server: Server) -> None:
    server = media_server
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    quiet = RtcClient(await server.join(cid, "quiet"))
    listener = await server.join(cid, "listener")
    await quiet.publish(AudioStreamTrack())  # silence
    await host.publish(Tone())
    await listener.wait_for("rtc:speaker", lambda d: d["user_id"] == "teacher")
    await ok(host.peer, "rtc:mute", {"source": "mic", "muted": True})
    await listener.wait_for("rtc:speaker", lambda d: d["user_id"] is None)
    await ok(host.peer, "class:end")
    t_end = (await listener.wait_for("class:ended"))["ts"]
    changes = [(d["ts"], d["user_id"]) for d in listener.received("rtc:speaker")]
    spoke = dict.fromkeys(["teacher", "quiet", "listener"], 0)
    for (start, who), (end, _) in itertools.pairwise([*changes, (t_end, None)]):
        if who is not None:
            spoke[who] += end - start
    _, _, report = await get(server, f"/api/classes/{cid}/report")
    speaking = {p["user_id"]: p["speaking_ms"] for p in report["participation"]}
    assert speaking == spoke and spoke["teacher"] > 0
    for client in (host, quiet):
        await client.close()


# -- the report book -------------------------------------------------------------


class DroppingJournal:
    """A real file journal whose next read from a position leaves one record out."""

    def __init__(self, inner: FileJournal) -> None:
        self.inner = inner
        self.drop = False

    async def read(self, class_id: str, after_seq: int = 0) -> AsyncIterator[Record]:
        dropped = False
        async for record in self.inner.read(class_id, after_seq):
            if self.drop and after_seq and not dropped:
                dropped = True
                continue
            yield record


async def test_the_book_folds_what_is_new_and_starts_over_on_a_hole(tmp_path: Path) -> None:
    h = scripted()
    h.at(40).do("teacher", c.ClassEnd())
    records = [(ev.seq, e.encode(ev)) for ev in h.history]
    files = FileJournal(tmp_path)
    journal = DroppingJournal(files)
    book = ReportBook(size=1)

    def report(fold: ReportFold) -> bytes:
        return msgspec.json.encode(fold.report(ms(50)))

    try:
        await files.append("c1", records[:10])
        first = await book.use(journal, "c1", report)  # type: ignore[arg-type]
        assert first == msgspec.json.encode(class_report(h.history[:10], ms(50)))
        await files.append("c1", records[10:])
        journal.drop = True  # the fold at seq 10 would be handed seq 12 next: refold it all
        whole = await book.use(journal, "c1", report)  # type: ignore[arg-type]
        assert whole == msgspec.json.encode(class_report(h.history, ms(50)))
        both = await asyncio.gather(*(book.use(files, "c1", report) for _ in range(3)))
        assert set(both) == {whole}
        await files.append("c2", records[:1])
        await book.use(files, "c2", report)  # the book keeps one class: c1 is dropped
        assert list(book._entries) == ["c2"]
    finally:
        await files.close()
