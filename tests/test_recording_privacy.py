"""Recordings are private until shared, over real sockets and HTTP.

Participants never learn a recording's id (live, in a snapshot, on
catch-up); the manifest and files need a replay token or the admin key;
share links are redeemed with a name; files load from signed, expiring URLs;
a pseudonymised package names nobody but the hosts, in any of its files.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from classroom.sharing import Access
from signaling.auth import mint, mint_invite, mint_replay, verify_replay
from signaling.ratelimit import RateLimiter
from tests.conftest import ADMIN, SECRET, Server, settings_for
from tests.peer import Peer, Refused
from tests.rtc_peer import Pattern, RtcClient, Tone
from web.keys import REPLAY_JOINS
from web.recordings_api import JOIN_RATES
from web.replay_access import file_url

AsAdmin = {"Authorization": f"Bearer {ADMIN}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def fetch(
    server: Server,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    json: Any = None,
    local: str | None = None,
) -> tuple[int, Any]:
    """One request; JSON bodies are decoded, others returned as bytes. `local`: source address."""
    connector = aiohttp.TCPConnector(local_addr=(local, 0)) if local else None
    async with (
        aiohttp.ClientSession(connector=connector) as http,
        http.request(method, server.url + path, headers=headers, json=json) as resp,
    ):
        body = await resp.read()
        if "json" in resp.content_type:
            return resp.status, await resp.json()
        return resp.status, body


async def ready(
    server: Server,
    recording_id: str,
    until: Callable[[str], bool] = lambda state: state == "published",
    limit_s: float = 90,
) -> dict[str, Any]:
    """The status once the package is built, or its state is what `until` waits for (bounded)."""
    async with asyncio.timeout(limit_s):
        while True:
            status, body = await fetch(server, "GET", f"/api/recordings/{recording_id}", AsAdmin)
            assert status == 200 and body["state"] != "failed", body
            if until(body["state"]):
                return dict(body)
            await asyncio.sleep(0.1)


async def recorded(server: Server, class_id: str, host: Peer) -> str:
    rid = str((await host.call("recording:start"))["recording_id"])
    assert (await host.call("chat:send", {"text": "welcome"}))["ok"]
    assert (await host.call("recording:stop"))["ok"]
    await ready(server, rid)
    return rid


# -- the id reaches staff only ------------------------------------------------------


async def test_participants_never_learn_the_recording_id(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    mod = await server.join(cid, "mo", "moderator")
    ann = await server.join(cid, "ann")
    ben = await server.join(cid, "ben")
    last = ben.last_seq
    await ben.close()

    rid = (await host.call("recording:start"))["recording_id"]
    cy = await server.join(cid, "cy")  # a snapshot while recording
    dee = await server.join(cid, "dee", "moderator")
    assert (await host.call("recording:marker", {"title": "Part one"}))["ok"]
    assert (await host.call("recording:pause"))["ok"]
    assert (await host.call("recording:resume"))["ok"]
    back = server.peer(server.token(cid, "ben"))
    await back.connect(last_seq=last)  # catch-up of everything since
    assert (await host.call("recording:stop"))["ok"]
    for peer in (ann, cy, back, mod, dee):
        await peer.wait_for("recording:state", lambda d: d["state"] == "idle")

    assert cy.received("class:state")[0]["recording"] == {"state": "recording"}
    assert dee.received("class:state")[0]["recording"] == {
        "state": "recording",
        "recording_id": rid,
    }
    states = [d["state"] for d in ann.received("recording:state")]
    assert states == ["recording", "paused", "recording", "idle"]
    caught_up = [d["state"] for d in back.received("recording:state")]
    assert caught_up[:3] == ["recording", "paused", "recording"]  # replayed, not live
    assert [m["title"] for m in ann.received("recording:marker")] == ["Part one"]
    for staff in (mod, host):
        assert {d.get("recording_id") for d in staff.received("recording:state")} == {rid}
        assert staff.received("recording:marker")[0]["recording_id"] == rid
    for participant in (ann, cy, back):
        assert rid not in repr(participant.events)

    # Roles are followed: a demoted moderator stops getting ids, a promoted participant starts.
    assert (await host.call("participant:set_role", {"user_id": "mo", "role": "participant"}))["ok"]
    assert (await host.call("participant:set_role", {"user_id": "ann", "role": "moderator"}))["ok"]
    await ann.wait_for("participant:updated", lambda d: d["user_id"] == "ann")
    second = (await host.call("recording:start"))["recording_id"]
    await mod.wait_for("recording:state", lambda d: d["state"] == "recording")
    await ann.wait_for("recording:state", lambda d: d.get("recording_id") == second)
    await cy.wait_for("recording:state", lambda d: d["state"] == "recording")
    assert second not in repr(mod.events) and second not in repr(cy.events)


async def test_a_replay_token_never_opens_a_class(msgpack_server: Server) -> None:
    cid = await msgpack_server.create_class()
    for role in ("host", "viewer"):
        peer = msgpack_server.peer(mint_replay(SECRET, cid, "ann", "Ann", role))
        with pytest.raises(Refused) as refused:
            await peer.connect()
        assert refused.value.code == "unauthorized"


# -- who may read the package -------------------------------------------------------


async def test_manifest_and_files_need_credentials(msgpack_server: Server) -> None:
    server = msgpack_server
    cid = await server.create_class("Private")
    host = await server.join(cid, "teacher", "host")
    rid = await recorded(server, cid, host)
    manifest = f"/api/recordings/{rid}"
    timeline = f"/api/recordings/{rid}/files/timeline.json"
    participant = mint(SECRET, cid, "ann", "Ann", "participant")
    other_class = await server.create_class("Elsewhere")

    # Nobody without credentials, and not even existence is told apart.
    for path in (manifest, timeline, "/api/recordings/r-none", "/api/recordings"):
        assert (await fetch(server, "GET", path))[0] == 401, path
    # A participant's join token opens nothing, and may not publish, share or mint.
    for path in (manifest, timeline):
        assert (await fetch(server, "GET", path, bearer(participant)))[0] == 401, path
    for action in ("publish", "share", "tokens"):
        status, _ = await fetch(server, "POST", f"{manifest}/{action}", bearer(participant), {})
        assert status == 403, action
    elsewhere = mint(SECRET, other_class, "teacher", "T", "host")
    assert (await fetch(server, "POST", f"{manifest}/publish", bearer(elsewhere), {}))[0] == 404
    other_recording = mint_replay(SECRET, "r-other", "ann", "Ann", "host")
    assert (await fetch(server, "GET", manifest, bearer(other_recording)))[0] == 401
    assert (await fetch(server, "GET", "/api/recordings", bearer(other_recording)))[0] == 401

    # A personal viewer token: refused while private, served once shared with learners.
    status, minted = await fetch(
        server, "POST", f"{manifest}/tokens", AsAdmin, {"user_id": "ann", "name": "Ann"}
    )
    assert status == 201 and minted["link"].endswith(f"/replay/{rid}#token={minted['token']}")
    viewer = bearer(minted["token"])
    assert (await fetch(server, "GET", manifest, viewer))[0] == 403
    assert (await fetch(server, "GET", timeline, viewer))[0] == 403
    status, body = await fetch(server, "POST", f"{manifest}/publish", AsAdmin, {"bogus": 1})
    assert status == 400
    host_token = mint(SECRET, cid, "teacher", "Teacher", "host")
    status, body = await fetch(
        server, "POST", f"{manifest}/publish", bearer(host_token), {"visibility": "learners"}
    )
    assert status == 202 and body["visibility"] == "learners", body
    status, shared = await fetch(server, "GET", manifest, viewer)
    assert status == 200 and shared["manifest"]["title"] == "Private"
    assert "options" not in shared  # the publish options are the staff's business
    assert "class_id" not in shared and "class_id" not in shared["manifest"]
    assert (await fetch(server, "GET", timeline, viewer))[0] == 200

    # Staff trade their join token for a replay token of their own; participants cannot.
    status, staff = await fetch(server, "POST", f"{manifest}/tokens", bearer(host_token))
    assert status == 201
    claims = verify_replay(SECRET, staff["token"], rid)
    assert (claims.user_id, claims.role) == ("teacher", "host")
    assert (await fetch(server, "GET", manifest, bearer(host_token)))[0] == 401

    # Back to private: the viewer is shut out again, staff are not.
    assert (await fetch(server, "POST", f"{manifest}/publish", AsAdmin, {"visibility": "private"}))[
        0
    ] == 202
    assert (await fetch(server, "GET", manifest, viewer))[0] == 403
    assert (await fetch(server, "GET", manifest, bearer(staff["token"])))[0] == 200


async def test_signed_file_urls_play_ranges_and_expire(msgpack_server: Server) -> None:
    server = msgpack_server
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    rid = await recorded(server, cid, host)
    viewer = mint_replay(SECRET, rid, "ann", "Ann", "viewer")
    await fetch(
        server, "POST", f"/api/recordings/{rid}/publish", AsAdmin, {"visibility": "learners"}
    )
    status, body = await fetch(server, "GET", f"/api/recordings/{rid}", bearer(viewer))
    assert status == 200
    files = body["manifest"]["files"]
    assert set(files) >= {"manifest.json", "timeline.json", "chapters.vtt"}
    expires = body["manifest"]["files_expire_at"]
    assert time.time() < expires <= verify_replay(SECRET, viewer).expires

    url = files["timeline.json"]
    status, data = await fetch(server, "GET", url)  # no header: the URL is the credential
    assert status == 200 and data["events"]
    async with (
        aiohttp.ClientSession() as http,
        http.get(server.url + url, headers={"Range": "bytes=0-9"}) as resp,
    ):
        assert resp.status == 206 and len(await resp.read()) == 10

    learner = Access("learner")
    forged = [
        url.replace("timeline.json", "chapters.vtt", 1),  # another file, same signature
        url.replace("g=learner", "g=staff"),
        url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB"),
        file_url("another-secret-of-enough-length", rid, "timeline.json", learner, expires),
    ]
    for bad in forged:
        assert (await fetch(server, "GET", bad))[0] == 401, bad
    expired = file_url(SECRET, rid, "timeline.json", learner, int(time.time()) - 1)
    status, refused = await fetch(server, "GET", expired)
    assert status == 401 and "expired" in refused["error"]["message"]

    # A signed URL obeys the recording's sharing as it is now.
    await fetch(
        server, "POST", f"/api/recordings/{rid}/publish", AsAdmin, {"visibility": "private"}
    )
    assert (await fetch(server, "GET", url))[0] == 403


async def test_share_links_are_redeemed_with_a_name(msgpack_server: Server) -> None:
    server = msgpack_server
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    rid = await recorded(server, cid, host)
    base = f"/api/recordings/{rid}"
    host_token = mint(SECRET, cid, "teacher", "Teacher", "host")

    async def share() -> str:
        status, body = await fetch(server, "POST", f"{base}/share", bearer(host_token), {})
        assert status == 201 and f"/replay/{rid}#invite=" in body["link"]
        return str(body["link"].split("#invite=")[1])

    async def redeem(invite: str, name: str = "Zoë Visitor") -> tuple[int, Any]:
        return await fetch(server, "POST", f"{base}/join", json={"invite": invite, "name": name})

    invite = await share()
    assert (await redeem(invite))[0] == 403  # private: the link does not work yet
    await fetch(server, "POST", f"{base}/publish", bearer(host_token), {"visibility": "link"})
    status, body = await redeem(invite)
    assert status == 201
    claims = verify_replay(SECRET, body["token"], rid)
    assert (claims.name, claims.role, claims.link) == ("Zoë Visitor", "viewer", 0)
    token = bearer(body["token"])
    assert (await fetch(server, "GET", base, token))[0] == 200

    class_invite = mint_invite(SECRET, cid, "participant")
    for bad in (class_invite, host_token, invite + "x", ""):
        assert (await redeem(bad))[0] in (400, 401), bad
    assert (await redeem(invite, ""))[0] == 400

    # Personal tokens only: the link and what it gave stop working ...
    await fetch(server, "POST", f"{base}/publish", AsAdmin, {"visibility": "learners"})
    assert (await fetch(server, "GET", base, token))[0] == 403
    assert (await redeem(invite))[0] == 403
    # ... and stay dead when the recording is shared by link again: new links work.
    await fetch(server, "POST", f"{base}/publish", AsAdmin, {"visibility": "link"})
    assert (await fetch(server, "GET", base, token))[0] == 403
    assert (await redeem(invite))[0] == 403
    status, body = await redeem(await share())
    assert status == 201 and (await fetch(server, "GET", base, bearer(body["token"])))[0] == 200


async def test_share_link_redemptions_are_rate_limited(tmp_path: Path) -> None:
    server = Server(settings_for(tmp_path))
    server.app[REPLAY_JOINS] = RateLimiter(JOIN_RATES, clock=lambda: 0.0)  # time stands still
    await server.start()
    try:
        cid = await server.create_class()
        host = await server.join(cid, "teacher", "host")
        rid = await recorded(server, cid, host)
        base = f"/api/recordings/{rid}"
        await fetch(server, "POST", f"{base}/publish", AsAdmin, {"visibility": "link"})
        _, link = await fetch(server, "POST", f"{base}/share", AsAdmin, {})
        invite = link["link"].split("#invite=")[1]
        _, other = await fetch(server, "POST", f"{base}/share", AsAdmin, {"ttl_s": 3600})
        second_invite = other["link"].split("#invite=")[1]

        async def join(address: str, key: str = invite) -> int:
            body = {"invite": key, "name": "Someone"}
            return (await fetch(server, "POST", f"{base}/join", json=body, local=address))[0]

        # Per address: a burst of 10, whatever the link.
        codes = [await join("127.0.0.2") for _ in range(10)]
        assert codes == [201] * 10
        assert await join("127.0.0.2") == 429
        assert await join("127.0.0.2", second_invite) == 429
        # Per link: 50 in all, from however many addresses.
        addresses = [f"127.0.0.{n}" for n in range(3, 9)]
        codes = [await join(a) for a in addresses for _ in range(8)]
        assert codes == [201] * 40 + [429] * 8
        assert await join("127.0.0.9", second_invite) == 201
    finally:
        await server.stop()


# -- pseudonyms --------------------------------------------------------------------

LEARNERS = {"ann-lee@example.org": "Ann Lee", "mo-ra@example.org": "Mo Rivera"}
LATE = ("ben-ok", "Ben Okafor")


async def test_a_pseudonymised_package_names_nobody_in_any_file(
    media_server: Server, tmp_path: Path
) -> None:
    server = media_server
    cid = await server.create_class("Anatomy")
    host = await server.join(cid, "teacher", "host", name="Dr Teach")
    ann = await server.join(cid, "ann-lee@example.org", name="Ann Lee")
    mo = await server.join(cid, "mo-ra@example.org", "moderator", name="Mo Rivera")
    media, watcher = RtcClient(ann), RtcClient(host, tap=True)
    assert (await media.publish(Pattern(), Tone()))["ok"]
    tracks = await host.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 2)
    video_id = next(t["track_id"] for t in tracks["tracks"] if t["kind"] == "video")
    rid = (await host.call("recording:start"))["recording_id"]
    await watcher.frames_of(video_id, 20)  # the recorder has media too

    await everything_people_do(server, cid, host, ann, mo)
    await watcher.frames_of(video_id, 40)
    assert (await host.call("recording:stop"))["ok"]
    await ready(server, rid, until=lambda state: state != "recording")
    # Published with pseudonyms while the package is being built without: built again.
    options = {"pseudonyms": True, "visibility": "learners"}
    assert (await fetch(server, "POST", f"/api/recordings/{rid}/publish", AsAdmin, options))[
        0
    ] == 202
    status = await ready(server, rid)
    assert status["options"]["pseudonyms"] is True
    for client in (media, watcher):
        await client.close()

    real = [*LEARNERS, *LEARNERS.values(), *LATE]
    package = tmp_path / "recordings" / rid / "package"
    files = sorted(p for p in package.rglob("*") if p.is_file())
    assert {p.suffix for p in files} >= {".json", ".vtt", ".webm"}
    for path in files:
        data = path.read_bytes()
        for value in real:
            for form in (value, value.lower()):
                assert form.encode() not in data, f"{path.name} holds {form!r}"
    # Not vacuous: the timeline has what people did, under pseudonyms; the host is named.
    events = json.loads((package / "timeline.json").read_bytes())["events"]
    said = {e["data"]["text"]: e["data"]["from"] for e in events if e["name"] == "chat:message"}
    assert re.fullmatch(r"Participant \d+", said["hello from ann"]["name"])
    assert said["a word from the moderator"]["name"] != said["hello from ann"]["name"]
    muted = next(e["data"] for e in events if e["name"] == "rtc:muted")
    assert re.fullmatch(r"p\d+", muted["by"]) and muted["by"] != muted["user_id"]
    manifest = json.loads((package / "manifest.json").read_bytes())
    assert {"user_id": "teacher", "name": "Dr Teach"} in manifest["participants"]
    # What a learner downloads through the API is the same package.
    viewer = bearer(mint_replay(SECRET, rid, "v", "Viewer"))
    _, body = await fetch(server, "GET", f"/api/recordings/{rid}", viewer)
    served = repr(body) + repr(
        (await fetch(server, "GET", body["manifest"]["files"]["timeline.json"]))[1]
    )
    assert not [value for value in real if value in served]


async def everything_people_do(server: Server, cid: str, host: Peer, ann: Peer, mo: Peer) -> None:
    """Chat, hands, reactions, questions, polls, breakouts, mutes and roles, by learners."""
    calls: list[tuple[Peer, str, dict[str, Any]]] = [
        (ann, "chat:send", {"text": "hello from ann"}),
        (ann, "hand:raise", {}),
        (ann, "reaction:send", {"emoji": "👍"}),
        (mo, "rtc:mute_user", {"user_id": "ann-lee@example.org", "source": "mic"}),
        (mo, "chat:send", {"text": "a word from the moderator"}),
    ]
    for peer, event, data in calls:
        assert (await peer.call(event, data))["ok"], event
    asked = await ann.call("qa:ask", {"text": "What does the heart do?"})
    assert (await mo.call("qa:upvote", {"question_id": asked["question_id"]}))["ok"]
    answer = {"question_id": asked["question_id"], "text": "It pumps."}
    assert (await mo.call("qa:answer", answer))["ok"]
    poll = await host.call("poll:create", {"question": "Ready?", "kind": "truefalse"})
    for peer, event, data in [
        (host, "poll:open", {"poll_id": poll["poll_id"]}),
        (ann, "poll:vote", {"poll_id": poll["poll_id"], "answer": [0]}),
        (host, "poll:show_results", {"poll_id": poll["poll_id"]}),
        (host, "breakout:open", {"count": 1, "assignment": "random"}),
        (mo, "breakout:broadcast", {"text": "one minute"}),
        (host, "breakout:close", {"grace_s": 0}),
    ]:
        assert (await peer.call(event, data))["ok"], event
    await ann.wait_for("breakout:closed")
    ben = await server.join(cid, LATE[0], name=LATE[1])
    assert (await ben.call("chat:send", {"text": "sorry I am late"}))["ok"]
    assert (await ben.call("chat:send", {"text": "psst", "to_user": "ann-lee@example.org"}))["ok"]
    assert (await host.call("participant:set_role", {"user_id": LATE[0], "role": "moderator"}))[
        "ok"
    ]
    await ben.close()
    await host.wait_for("participant:left", lambda d: d["user_id"] == LATE[0])
    await host.wait_for("chat:message", lambda d: d["text"] == "sorry I am late")
