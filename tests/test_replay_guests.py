"""Watching a replay without a name: a share link's guest, where the host allows it.

A recording shared by `link` lets its share link's holders watch without
giving a name once its host turns `anonymous_viewing` on (off by default).
Guests get the timeline, the media and the questions, but every action is
refused with `name_required`; they are counted apart, as anonymous views,
and nothing of theirs is kept. Turning the setting off shuts them out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from signaling.auth import mint_replay
from tests.conftest import SECRET, Server, running, settings_for
from tests.peer import Peer, Refused
from tests.test_recording_privacy import AsAdmin, bearer, fetch
from tests.test_replay import recorded_class, watch


async def shared_by_link(server: Server, rid: str, **options: Any) -> str:
    """Share the recording by link (with `options`); returns the share link's key."""
    body = {"visibility": "link"} | options
    status, answer = await fetch(server, "POST", f"/api/recordings/{rid}/publish", AsAdmin, body)
    assert status == 202 and answer["state"] == "published", answer
    status, share = await fetch(server, "POST", f"/api/recordings/{rid}/share", AsAdmin, {})
    assert status == 201, share
    return str(share["link"].split("#invite=", 1)[1])


async def redeem(server: Server, rid: str, body: dict[str, Any]) -> tuple[int, Any]:
    return tuple(await fetch(server, "POST", f"/api/recordings/{rid}/join", None, body))  # type: ignore[return-value]


async def as_guest(server: Server, rid: str, invite: str) -> Peer:
    status, body = await redeem(server, rid, {"invite": invite})
    assert status == 201, body
    guest = server.peer(body["token"])
    await guest.connect(expect="replay:state")
    return guest


@pytest.mark.timeout(180)
async def test_a_guest_watches_but_never_takes_part(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path)) as server:
        rid, polls = await recorded_class(server)
        ann = await watch(server, rid, "ann")
        asked = await ann.call("replay:ask", {"text": "Why?", "at_ms": 0})

        # Off by default: a share link without a name is refused, and nothing is minted.
        invite = await shared_by_link(server, rid)
        status, body = await redeem(server, rid, {"invite": invite})
        assert (status, body["error"]["code"]) == (403, "name_required")

        invite = await shared_by_link(server, rid, anonymous_viewing=True)
        _, state = await fetch(server, "GET", f"/api/recordings/{rid}", AsAdmin)
        assert state["anonymous_viewing"] is True
        guest = await as_guest(server, rid, invite)
        claims = jwt.decode(guest.token, SECRET, algorithms=["HS256"])
        assert claims["gst"] is True and claims["name"] == "Guest"
        seen = guest.received("replay:state")[0]
        assert seen["you"]["guest"] is True and seen["progress"]["watched"] == []
        assert [q["id"] for q in seen["questions"]] == [asked["question_id"]]
        assert {p["poll_id"] for p in seen["polls"]} == set(polls.values())
        assert all("results" not in p for p in seen["polls"])  # nobody's results

        # They receive what everyone watching does...
        again = await ann.call("replay:ask", {"text": "And?", "at_ms": 0})
        assert again["ok"], again
        await guest.wait_for("replay:question", lambda d: d["question"]["text"] == "And?")
        # ...and are refused every action, with a code that says what to do.
        attempts = {
            "replay:vote": {"poll_id": polls["quiz"], "answer": [0]},
            "replay:ask": {"text": "Me?", "at_ms": 0},
            "replay:upvote": {"question_id": asked["question_id"]},
            "replay:reply": {"question_id": asked["question_id"], "text": "Hi"},
            "replay:progress": {"position_ms": 0, "watched": [[0, 50]]},
            "replay:answer": {"question_id": asked["question_id"], "text": "No"},
        }
        for event, data in attempts.items():
            reply = await guest.call(event, data)
            assert reply["error"]["code"] == "name_required", (event, reply)

        # The media: the recording's status and its files, through signed URLs.
        headers = bearer(guest.token)
        status, seen_status = await fetch(server, "GET", f"/api/recordings/{rid}", headers)
        assert status == 200 and "class_id" not in seen_status
        manifest_url = seen_status["manifest"]["files"]["manifest.json"]
        assert parse_qs(urlsplit(manifest_url).query)["g"] == ["guest-0"]
        assert (await fetch(server, "GET", manifest_url))[0] == 200

        # Counted apart: a view, never a viewer, and nothing personal.
        await as_guest(server, rid, invite)
        status, report = await fetch(server, "GET", f"/api/recordings/{rid}/report", AsAdmin)
        assert report["anonymous_views"] == 2
        assert [v["user_id"] for v in report["viewers"]] == ["ann"]
        status, digest = await fetch(
            server, "GET", f"/api/recordings/{rid}/digest?since=0", AsAdmin
        )
        assert (digest["anonymous_views"], digest["viewers"]) == (2, 1)
        _, xapi = await fetch(server, "GET", f"/api/recordings/{rid}/xapi", AsAdmin)
        assert claims["sub"] not in str(xapi)

        # The host turns it off: the guest's token opens nothing any more.
        await shared_by_link(server, rid, anonymous_viewing=False)
        assert (await fetch(server, "GET", f"/api/recordings/{rid}", headers))[0] == 403
        assert (await fetch(server, "GET", manifest_url))[0] == 403
        with pytest.raises(Refused) as refused:
            await server.peer(guest.token).connect(expect="replay:state")
        assert refused.value.code == "unauthorized"
        status, body = await redeem(server, rid, {"invite": invite})
        assert (status, body["error"]["code"]) == (403, "name_required")
        # A name still works, and takes part.
        status, body = await redeem(server, rid, {"invite": invite, "name": "Bea"})
        assert status == 201
        bea = server.peer(body["token"])
        await bea.connect(expect="replay:state")
        assert (await bea.call("replay:upvote", {"question_id": asked["question_id"]}))["ok"]


async def test_a_guest_token_needs_link_visibility(tmp_path: Path) -> None:
    """A guest token, however obtained, is a share link's: `learners` visibility refuses it."""
    async with running(settings_for(tmp_path)) as server:
        rid, _ = await recorded_class(server)  # shared with learners, not by link
        token = mint_replay(SECRET, rid, "u-guest", "Guest", link=0, guest=True)
        with pytest.raises(Refused) as refused:
            await server.peer(token).connect(expect="replay:state")
        assert refused.value.code == "unauthorized"
        assert (await fetch(server, "GET", f"/api/recordings/{rid}", bearer(token)))[0] == 403
