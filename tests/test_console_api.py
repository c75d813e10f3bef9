"""The console's REST routes on a real server: classes created, scheduled, listed, ended;
links and rosters; and who may do what (admin, organizers, hosts, everyone else)."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import jwt
import pytest

from signaling.auth import mint_organizer
from tests.conftest import ADMIN, SECRET, Server
from tests.peer import Refused
from tests.test_recording import published

ANA = mint_organizer(SECRET, "ana", "Ana Organizer")
BEN = mint_organizer(SECRET, "ben", "Ben Organizer")


@pytest.fixture
def server(msgpack_server: Server) -> Server:
    return msgpack_server


async def call(
    server: Server, method: str, path: str, bearer: str | None, json: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, server.url + path, json=json, headers=headers) as resp,
    ):
        kind = resp.headers.get("Content-Type", "")
        body = await resp.json() if kind.startswith("application/json") else await resp.text()
        return resp.status, body


async def create(server: Server, bearer: str, **spec: Any) -> str:
    status, body = await call(server, "POST", "/api/classes", bearer, {"title": "Optics", **spec})
    assert status == 201, body
    return str(body["id"])


async def listed(server: Server, bearer: str, query: str = "") -> dict[str, dict[str, Any]]:
    status, body = await call(server, "GET", f"/api/classes{query}", bearer)
    assert status == 200, body
    return {c["id"]: c for c in body["classes"]}


def token_of(link: str) -> str:
    return link.split("#", 1)[1].split("=", 1)[1]


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = jwt.decode(token, SECRET, algorithms=["HS256"])
    return decoded


async def test_an_organizer_schedules_a_class_and_it_is_listed_as_scheduled(
    server: Server,
) -> None:
    spec = {"starts_at": "2031-03-10T09:30", "time_zone": "Europe/Paris", "capacity": 40}
    status, body = await call(server, "POST", "/api/classes", ANA, {"title": "Optics", **spec})
    assert status == 201, body
    cid = body["id"]
    paris_930 = int(datetime(2031, 3, 10, 8, 30, tzinfo=UTC).timestamp() * 1000)  # UTC+1
    about = (await listed(server, ANA))[cid]
    assert about == {
        "id": cid,
        "title": "Optics",
        "media": "sfu",
        "created_at": about["created_at"],
        "created_by": "ana",
        "scheduled_at": paris_930,
        "time_zone": "Europe/Paris",
        "capacity": 40,
        "state": "upcoming",
        "started_at": None,
        "ended_at": None,
        "present": 0,
        "people": 0,
    }
    assert abs(about["created_at"] - time.time() * 1000) < 60_000
    # The host link carries the organizer's name and lasts until well after the start.
    host = claims(token_of(body["links"]["host"]))
    assert (host["role"], host["name"], host["cls"]) == ("host", "Ana Organizer", cid)
    assert host["exp"] >= paris_930 // 1000 + 6 * 3600 - 60
    invite = claims(token_of(body["links"]["participant"]))
    assert invite["inv"] is True and invite["exp"] >= paris_930 // 1000 + 7 * 24 * 3600 - 60
    # Summer time: the same wall-clock time is UTC+2 in July.
    spec["starts_at"] = "2031-07-10T09:30"
    july = await create(server, ANA, **spec)
    summer = int(datetime(2031, 7, 10, 7, 30, tzinfo=UTC).timestamp() * 1000)
    assert (await listed(server, ANA))[july]["scheduled_at"] == summer


@pytest.mark.parametrize(
    ("spec", "said"),
    [
        ({"starts_at": "2031-03-30T02:30", "time_zone": "Europe/Paris"}, "does not exist"),
        ({"starts_at": "2031-03-10T09:30", "time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"starts_at": "2031-03-10T09:30", "time_zone": "../../etc/passwd"}, "unknown time"),
        ({"starts_at": "2031-03-10T09:30"}, "together"),
        ({"time_zone": "Europe/Paris"}, "together"),
        ({"starts_at": "2031-13-45T09:30", "time_zone": "UTC"}, "starts_at"),
        ({"starts_at": "next tuesday", "time_zone": "UTC"}, "starts_at"),
        ({"capacity": 0}, "capacity"),
        ({"media": "p2p"}, "media"),
        ({"created_by": "mallory"}, "created_by"),
    ],
)
async def test_a_bad_class_is_refused_and_nothing_is_created(
    server: Server, spec: dict[str, Any], said: str
) -> None:
    status, body = await call(server, "POST", "/api/classes", ANA, {"title": "Optics", **spec})
    assert status == 400, body
    assert said in body["error"]["message"]
    assert await listed(server, ADMIN) == {}


async def test_each_organizer_sees_and_manages_only_the_classes_they_created(
    server: Server,
) -> None:
    ana_class = await create(server, ANA)
    ben_class = await create(server, BEN, title="Ben's class")
    admin_class = await create(server, ADMIN)
    assert set(await listed(server, ANA)) == {ana_class}
    assert set(await listed(server, BEN)) == {ben_class}
    everything = await listed(server, ADMIN)
    assert set(everything) == {ana_class, ben_class, admin_class}
    assert everything[admin_class]["created_by"] is None
    # Ben may not touch Ana's class, nor its report; the admin may touch all.
    for method, path in [
        ("POST", f"/api/classes/{ana_class}/links"),
        ("POST", f"/api/classes/{ana_class}/roster"),
        ("POST", f"/api/classes/{ana_class}/end"),
        ("GET", f"/api/classes/{ana_class}/report"),
        ("GET", f"/api/classes/{ana_class}/xapi"),
        ("GET", f"/api/classes/{ana_class}/polls.csv"),
    ]:
        body = {"csv": "Zoe,zoe"} if path.endswith("roster") else None
        status, answer = await call(server, method, path, BEN, body)
        assert status == 403, (path, answer)
        assert answer["error"]["message"] == "another organizer created this class"
    status, _ = await call(server, "GET", f"/api/classes/{ana_class}/report", ANA)
    assert status == 200
    status, _ = await call(server, "POST", f"/api/classes/{ana_class}/links", ADMIN)
    assert status == 201
    # An unknown class is 404 for everyone who may manage classes.
    for bearer in (ANA, ADMIN):
        status, _ = await call(server, "POST", "/api/classes/nope/links", bearer)
        assert status == 404


async def test_no_credential_but_the_admin_key_or_an_organizer_token_manages_classes(
    server: Server,
) -> None:
    cid = await create(server, ANA)
    participant = server.token(cid, "pat")
    host = server.token(cid, "teacher", "host")
    expired = mint_organizer(SECRET, "ana", "Ana", ttl_s=-3600)
    forged = mint_organizer("another-secret-that-is-long-enough-for-hs256", "ana", "Ana")
    for bearer in (None, participant, host, expired, forged, "not-a-token"):
        for method, path in [
            ("GET", "/api/classes"),
            ("POST", "/api/classes"),
            ("POST", f"/api/classes/{cid}/links"),
            ("POST", f"/api/classes/{cid}/roster"),
        ]:
            status, body = await call(server, method, path, bearer, {"title": "X"})
            assert status == 401, (bearer, path, body)
    status, body = await call(server, "GET", "/api/classes", expired)
    assert "expired" in body["error"]["message"]
    # An organizer token is no join token: it opens no class.
    with pytest.raises(Refused) as refused:
        await server.peer(ANA).connect()
    assert refused.value.code == "unauthorized"
    assert set(await listed(server, ADMIN)) == {cid}


async def test_a_class_is_upcoming_then_live_with_who_is_there_then_ended(
    server: Server,
) -> None:
    cid = await create(server, ANA)
    assert (await listed(server, ANA))[cid]["state"] == "upcoming"
    host = await server.join(cid, "teacher", "host")
    learner = await server.join(cid, "lea")
    now = (await listed(server, ANA))[cid]
    assert (now["state"], now["present"], now["people"]) == ("live", 2, 2)
    assert now["started_at"] is not None
    await learner.close()
    await host.wait_for("participant:left", lambda d: d["user_id"] == "lea")
    now = (await listed(server, ANA, "?state=live"))[cid]
    assert (now["present"], now["people"]) == (1, 2)
    assert await listed(server, ANA, "?state=upcoming") == {}
    # The organizer ends it from the console: the host is told and disconnected.
    status, body = await call(server, "POST", f"/api/classes/{cid}/end", ANA)
    assert (status, body) == (200, {"ok": True})
    ended = await host.wait_for("class:ended")
    assert ended["seq"] > 0
    await host.disconnected.wait()
    now = (await listed(server, ANA, "?state=ended"))[cid]
    assert (now["present"], now["people"]) == (0, 2)
    assert now["ended_at"] >= now["started_at"]
    status, body = await call(server, "POST", f"/api/classes/{cid}/end", ANA)
    assert status == 409 and body["error"]["code"] == "conflict"
    with pytest.raises(Refused) as refused:
        await server.join(cid, "late")
    assert refused.value.code == "ended"


async def test_a_host_ends_the_class_by_rest_and_others_of_it_may_not(server: Server) -> None:
    cid = await create(server, ADMIN)
    other = await create(server, ADMIN)
    host = await server.join(cid, "teacher", "host")
    await server.join(cid, "mod", "moderator")
    for bearer, code in [
        (server.token(cid, "mod", "moderator"), 403),
        (server.token(cid, "pat"), 403),
        (server.token(other, "teacher", "host"), 401),
    ]:
        status, body = await call(server, "POST", f"/api/classes/{cid}/end", bearer)
        assert status == code, body
    assert (await listed(server, ADMIN))[cid]["state"] == "live"
    status, _ = await call(server, "POST", f"/api/classes/{cid}/end", host.token)
    assert status == 200
    await host.wait_for("class:ended")


async def test_a_recording_going_on_stops_when_the_class_is_ended_by_rest(
    server: Server,
) -> None:
    cid = await create(server, ANA)
    host = await server.join(cid, "teacher", "host")
    rid = (await host.call("recording:start"))["recording_id"]
    status, _ = await call(server, "POST", f"/api/classes/{cid}/end", ANA)
    assert status == 200
    stopped = await host.wait_for("recording:state", lambda d: d["state"] == "idle")
    assert stopped["seq"] < (await host.wait_for("class:ended"))["seq"]
    await published(server.url, rid)


async def test_the_capacity_of_a_class_bounds_its_participants_not_its_staff(
    server: Server,
) -> None:
    cid = await create(server, ANA, capacity=1)
    await server.join(cid, "first")
    with pytest.raises(Refused) as refused:
        await server.join(cid, "second")
    assert refused.value.code == "full"
    await server.join(cid, "teacher", "host")
    await server.join(cid, "ta", "moderator")


async def test_fresh_links_for_a_class(server: Server) -> None:
    cid = await create(server, ANA)
    status, body = await call(server, "POST", f"/api/classes/{cid}/links", ANA)
    assert status == 201, body
    host = claims(token_of(body["host"]))
    assert (host["name"], host["role"], host["cls"]) == ("Ana Organizer", "host", cid)
    status, body = await call(
        server, "POST", f"/api/classes/{cid}/links", ADMIN, {"host_name": "Dr Rivera"}
    )
    assert claims(token_of(body["host"]))["name"] == "Dr Rivera"
    assert f"/c/{cid}#invite=" in body["participant"]


ROSTER = """Name;E-mail;Group
Zoë Martin;Zoe.Martin@Example.org;A
=HYPERLINK("http://evil.example","click");evil@example.org;B

Li Wei;s-1234;A
"""


async def test_roster_links_are_personal_and_join_the_class_as_their_person(
    server: Server,
) -> None:
    cid = await create(server, ANA, starts_at="2031-03-10T09:30", time_zone="UTC")
    path = f"/api/classes/{cid}/roster"
    status, body = await call(server, "POST", path, ANA, {"csv": ROSTER})
    assert status == 201, body
    people = [(p["name"], p["user_id"]) for p in body["links"]]
    assert people == [
        ("Zoë Martin", "zoe.martin@example.org"),
        ('=HYPERLINK("http://evil.example","click")', "evil@example.org"),
        ("Li Wei", "s-1234"),
    ]
    assert body["role"] == "participant"
    start_s = int(datetime(2031, 3, 10, 9, 30, tzinfo=UTC).timestamp())
    assert body["expires_at"] >= start_s + 24 * 3600 - 60
    li = body["links"][2]["link"]
    assert f"/c/{cid}#token=" in li
    peer = server.peer(token_of(li))
    state = await peer.connect()
    assert state["you"]["user_id"] == "s-1234" and state["you"]["name"] == "Li Wei"
    # The same people as CSV, which a spreadsheet shows and never runs.
    status, text = await call(server, "POST", path + "?format=csv", ANA, {"csv": ROSTER})
    assert status == 201
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["name", "user_id", "link"]
    assert rows[2][0] == '\'=HYPERLINK("http://evil.example","click")'
    assert [r[1] for r in rows[1:]] == ["zoe.martin@example.org", "evil@example.org", "s-1234"]
    assert claims(token_of(rows[1][2]))["sub"] == "zoe.martin@example.org"
    # People as a list, as moderators.
    given = {"people": [{"name": "Tom", "user_id": "tom"}], "role": "moderator", "ttl_s": 3600}
    status, body = await call(server, "POST", path, ADMIN, given)
    assert status == 201
    tom = claims(token_of(body["links"][0]["link"]))
    assert (tom["role"], tom["exp"] - tom["iat"]) == ("moderator", 3600)


@pytest.mark.parametrize(
    ("body", "said"),
    [
        ({"csv": "Ann,ann\nBob,ann"}, "row 2: ann is also on row 1"),
        ({"csv": "Ann,ann\nBob\n"}, "row 2: give a name and an id"),
        ({"csv": "Ann,ann bob@x"}, "row 1: the id must be"),
        ({"csv": "name,group\nAnn,A"}, "the header names no id column"),
        ({"csv": " \n\n"}, "the roster is empty"),
        ({"people": []}, "the roster is empty"),
        ({"people": [{"name": "A", "user_id": "a"}, {"name": "B", "user_id": "a"}]}, "row 2"),
        ({"csv": "Ann,ann", "people": [{"name": "A", "user_id": "a"}]}, "either"),
        ({}, "either"),
        ({"csv": "Ann,ann", "role": "admin"}, "role"),
    ],
)
async def test_a_bad_roster_is_refused_with_the_rows_at_fault(
    server: Server, body: dict[str, Any], said: str
) -> None:
    cid = await create(server, ANA)
    status, answer = await call(server, "POST", f"/api/classes/{cid}/roster", ANA, body)
    assert status == 400, answer
    assert said in answer["error"]["message"]


async def test_a_roster_of_two_thousand_people(server: Server) -> None:
    cid = await create(server, ANA)
    text = "\n".join(f"Learner {n},learner-{n}@example.org" for n in range(2000))
    status, body = await call(server, "POST", f"/api/classes/{cid}/roster", ANA, {"csv": text})
    assert status == 201, body
    assert len(body["links"]) == 2000
    status, body = await call(
        server, "POST", f"/api/classes/{cid}/roster", ANA, {"csv": text + "\nOne more,more"}
    )
    assert status == 400 and "at most 2000" in body["error"]["message"]


async def test_an_organizer_reads_the_reports_of_their_class(server: Server) -> None:
    cid = await create(server, ANA)
    host = await server.join(cid, "teacher", "host")
    learner = await server.join(cid, "lea")
    await learner.call("chat:send", {"text": "hello"})
    status, report = await call(server, "GET", f"/api/classes/{cid}/report", ANA)
    assert status == 200
    assert [p["chat"] for p in report["participation"]] == [0, 1]
    status, text = await call(server, "GET", f"/api/classes/{cid}/report?format=csv", ANA)
    assert status == 200 and text.startswith("user_id,name,role")
    status, body = await call(server, "GET", f"/api/classes/{cid}/xapi", ANA)
    assert status == 200 and body["statements"]
    status, text = await call(server, "GET", f"/api/classes/{cid}/polls.csv", ANA)
    assert status == 200
    await host.close()


async def test_an_organizer_manages_the_recordings_of_their_classes_only(
    server: Server,
) -> None:
    mine = await create(server, ANA)
    theirs = await create(server, BEN)
    recordings = {}
    for cid in (mine, theirs):
        host = await server.join(cid, "teacher", "host")
        recordings[cid] = (await host.call("recording:start"))["recording_id"]
        assert (await host.call("recording:stop"))["ok"]
        await published(server.url, recordings[cid])
    rid, other = recordings[mine], recordings[theirs]
    status, body = await call(server, "GET", "/api/recordings", ANA)
    assert status == 200
    assert [r["id"] for r in body["recordings"]] == [rid]
    status, body = await call(server, "GET", "/api/recordings", ADMIN)
    assert {r["id"] for r in body["recordings"]} == {rid, other}
    status, body = await call(server, "GET", f"/api/recordings/{rid}", ANA)
    assert status == 200 and body["class_id"] == mine and body["manifest"] is not None
    publish = {"visibility": "link", "pseudonyms": True, "trim_start_ms": 0}
    status, body = await call(server, "POST", f"/api/recordings/{rid}/publish", ANA, publish)
    assert status == 202, body
    status, body = await call(server, "POST", f"/api/recordings/{rid}/share", ANA, {})
    assert status == 201 and body["visibility"] == "link"
    for method, path in [
        ("GET", f"/api/recordings/{other}"),
        ("POST", f"/api/recordings/{other}/publish"),
        ("POST", f"/api/recordings/{other}/share"),
        ("DELETE", f"/api/recordings/{other}"),
    ]:
        status, body = await call(server, method, path, ANA, {})
        assert status == 404, (path, body)
    await published(server.url, rid)
    status, body = await call(server, "DELETE", f"/api/recordings/{rid}", ANA)
    assert (status, body) == (200, {"ok": True})
    status, _ = await call(server, "GET", f"/api/recordings/{other}", ADMIN)
    assert status == 200


def test_the_command_line_mints_organizer_tokens() -> None:
    command = [sys.executable, "-m", "server", "token", "--organizer", "--user", "ana"]
    command += ["--name", "Ana", "--secret", SECRET, "--ttl", "600"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    got = claims(out.strip())
    assert (got["sub"], got["name"], got["org"]) == ("ana", "Ana", True)
    assert got["exp"] - got["iat"] == 600
    assert "cls" not in got and "rec" not in got


async def test_the_console_page_is_served_with_the_strict_policy(server: Server) -> None:
    async with aiohttp.ClientSession() as http, http.get(server.url + "/console") as resp:
        assert resp.status == 200
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["Cache-Control"] == "no-store"
        page = await resp.text()
    assert '<script type="module" src="/static/js/console.js"></script>' in page
