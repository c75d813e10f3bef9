"""The LTI 1.3 tool against a simulated LMS on loopback (tests/lti_platform.py).

Launches of an instructor, a teaching assistant and learners; what is
refused (a forged signature, an unknown key, a replayed nonce, another
audience, an expired token, another deployment, a state or cookie that does
not match); deep linking; quiz scores sent to the gradebook through a
platform that fails the first tries and across a restart; the course's
roster in the report.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from signaling.auth import verify
from tests.conftest import SECRET, Server, running, settings_for
from tests.lti_platform import (
    CLIENT_ID,
    INSTRUCTOR,
    LEARNER,
    TEACHING_ASSISTANT,
    Answer,
    Browser,
    Person,
    Platform,
    browser_session,
)
from tests.peer import Peer
from tests.redis_server import free_port
from tests.test_polls import new_poll
from tests.test_recording import published
from web.keys import REGISTRY
from web.lti_api import LTI
from web.settings import Settings

FAST = (0.2, *([0.3] * 60))
"""Retry waits of scores in tests."""
TEACHER = Person("t-1", "Grace Hopper", INSTRUCTOR)
ASSISTANT = Person("ta-1", "Alan Turing", TEACHING_ASSISTANT)
ADA = Person("s-1", "Ada Lovelace", LEARNER)
BOB = Person("s-2", "Bob Noyce", LEARNER)


@dataclass
class Lms:
    server: Server
    platform: Platform
    browser: Browser

    async def launch(self, person: Person, **options: Any) -> Answer:
        return await self.browser.launch(self.platform, self.platform.message(person, **options))

    async def joined(self, person: Person, **options: Any) -> tuple[str, dict[str, Any]]:
        """Launch to a class: its id and the join token's claims."""
        answer = await self.launch(person, **options)
        assert answer.status == 303, answer.text
        path, _, fragment = answer.location.partition("#token=")
        assert path.startswith("/c/"), answer.location
        claims = verify(SECRET, fragment)
        return path.removeprefix("/c/"), {
            "name": claims.name,
            "role": claims.role,
            "user": claims.user_id,
            "token": fragment,
        }


def lti_settings(tmp_path: Path, **extra: Any) -> Settings:
    """A server on a port known beforehand: its links and LTI URLs name it."""
    settings = settings_for(tmp_path, lti_retry_delays_s=FAST, **extra)
    return dataclasses.replace(settings, port=free_port())


@contextlib.asynccontextmanager
async def lms(
    tmp_path: Path, platform: Platform | None = None, **settings: Any
) -> AsyncIterator[Lms]:
    platform = platform or Platform()
    await platform.start()
    try:
        async with (
            running(lti_settings(tmp_path, **settings)) as srv,
            browser_session() as http,
        ):
            platform.tool_url = srv.url
            status, body = await srv.http("POST", "/api/lti/platforms", platform.registration())
            assert status == 201, body
            yield Lms(srv, platform, Browser(http))
    finally:
        await platform.stop()


async def test_an_instructor_opens_the_class_learners_join_it(tmp_path: Path) -> None:
    async with lms(tmp_path) as env:
        early = await env.launch(ADA)
        assert early.status == 409 and "not been opened yet" in early.text
        class_id, teacher = await env.joined(TEACHER)
        assert class_id.startswith("lti-")
        assert (teacher["name"], teacher["role"]) == ("Grace Hopper", "host")
        again, ada = await env.joined(ADA)
        assert again == class_id and (ada["name"], ada["role"]) == ("Ada Lovelace", "participant")
        _, assistant = await env.joined(ASSISTANT)
        assert assistant["role"] == "moderator"
        # Relaunching is the same person in the same class.
        assert (await env.joined(ADA))[1]["user"] == ada["user"]
        about = await env.server.http("GET", f"/api/classes/{class_id}")
        assert about[1]["title"] == "Week 3: optics"
        # The token joins the class, with the name from the LMS: no second login.
        peer = Peer(env.server.url, ada["token"])
        env.server.peers.append(peer)
        state = await peer.connect()
        assert state["you"]["name"] == "Ada Lovelace" and state["class"]["id"] == class_id
        # Another resource link is another class.
        other, _ = await env.joined(TEACHER, resource_link="link-2")
        assert other != class_id


async def test_refusals(tmp_path: Path) -> None:
    async with lms(tmp_path) as env:
        platform = env.platform
        await env.joined(TEACHER)  # the key set is fetched once
        assert platform.jwks_fetches == 1
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        refused = {
            "forged": await env.launch(ADA, signing_key=stranger),
            "audience": await env.launch(ADA, audience="another-tool"),
            "azp": await env.launch(ADA, audience=[CLIENT_ID, "other"], azp="other"),
            "expired": await env.launch(ADA, issued_ago=1000, expires_in=300),
            "deployment": await env.launch(ADA, deployment="deployment-9"),
        }
        assert {k: a.status for k, a in refused.items()} == {
            "forged": 401,
            "audience": 401,
            "azp": 401,
            "expired": 401,
            "deployment": 403,
        }
        assert "Signature verification failed" in refused["forged"].text
        assert "expired" in refused["expired"].text
        assert "deployment is not registered" in refused["deployment"].text
        assert platform.jwks_fetches == 1  # known keys: no refetch

        # An unknown kid: the set is fetched again once, then the launch is refused.
        unknown = await env.launch(ADA, kid="never-published")
        assert unknown.status == 401 and "never-published" in unknown.text
        assert platform.jwks_fetches == 2

        # The platform rotates its key: the new kid makes the tool fetch the set again.
        platform.rotate()
        assert (await env.launch(ADA)).status == 303
        assert platform.jwks_fetches == 3


async def test_replays_and_foreign_states_are_refused(tmp_path: Path) -> None:
    async with lms(tmp_path) as env:
        platform, browser = env.platform, env.browser
        await env.joined(TEACHER)
        first = await browser.get(platform.login_url(platform.message(ADA)))
        action, form = await browser.authorize(first.location)
        assert (await browser.post(action, form)).status == 303
        # The same post again: its login was used.
        replayed = await browser.post(action, form)
        assert replayed.status == 401 and "used or expired" in replayed.text

        # A new login whose id_token carries the first one's nonce.
        old_nonce = jwt.decode(form["id_token"], options={"verify_signature": False})["nonce"]
        again = await env.launch(ADA, nonce=old_nonce)
        assert again.status == 401 and "nonce" in again.text

        # A state that was never given out.
        fresh = await browser.get(platform.login_url(platform.message(ADA)))
        action, form = await browser.authorize(fresh.location)
        forged = await browser.post(action, form | {"state": "not-a-state-we-gave"})
        assert forged.status == 401

        # The right state, posted by another browser (without this login's cookie).
        async with browser_session() as other_http:
            other = Browser(other_http)
            stolen = await other.post(action, form)
        assert stolen.status == 403 and "did not start in this browser" in stolen.text
        # ... which did not use the login up: its own browser still lands.
        assert (await browser.post(action, form)).status == 303


async def test_deep_linking_places_a_class_and_a_replay(tmp_path: Path) -> None:
    async with lms(tmp_path) as env:
        srv, platform = env.server, env.platform
        class_id, teacher = await env.joined(TEACHER)
        assert (await env.launch(ADA, kind="LtiDeepLinkingRequest")).status == 403

        # A replay of the class, published and shared with learners.
        host = Peer(srv.url, teacher["token"])
        srv.peers.append(host)
        await host.connect()
        recording_id = (await host.call("recording:start"))["recording_id"]
        assert (await host.call("recording:stop"))["ok"]
        await published(srv.url, recording_id)

        placed = {}
        for choice in (
            {"kind": "new_class", "title": "Office hours"},
            {"kind": "replay", "id": recording_id},
            {"kind": "class", "id": class_id},
        ):
            answer = await env.launch(TEACHER, kind="LtiDeepLinkingRequest")
            assert answer.status == 303 and answer.location.startswith("/lti/deep-link/")
            options = await _json(srv.url + answer.location + "/options")
            assert options["course"] == "Physics 101"
            assert class_id in [c["id"] for c in options["classes"]]
            assert [r["id"] for r in options["replays"]] == [recording_id]
            status, body = await _post(srv.url + answer.location, choice)
            assert status == 200, body
            assert body["return_url"] == f"{platform.url}/deep-link-return"
            await env.browser.post(body["return_url"], {"JWT": body["jwt"]})
            placed[choice["kind"]] = platform.deep_links[-1]
            # A choice is made once.
            assert (await _post(srv.url + answer.location, choice))[0] == 404

        response = placed["new_class"]
        assert (
            response["https://purl.imsglobal.org/spec/lti/claim/message_type"]
            == "LtiDeepLinkingResponse"
        )
        assert (
            response["https://purl.imsglobal.org/spec/lti-dl/claim/data"] == "opaque-platform-data"
        )
        assert response["iss"] == CLIENT_ID
        [item] = response["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
        assert item["type"] == "ltiResourceLink" and item["title"] == "Office hours"
        assert item["url"] == f"{srv.url}/lti/launch" and item["lineItem"]["scoreMaximum"] == 100

        # The platform's new resource link launches the placed class, learners included.
        custom = item["custom"]
        office, _ = await env.joined(TEACHER, resource_link="placed-1", custom=custom)
        assert office not in (class_id,)
        assert (await env.joined(ADA, resource_link="placed-1", custom=custom))[0] == office
        [same] = placed["class"]["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
        assert (await env.joined(ADA, resource_link="placed-2", custom=same["custom"]))[
            0
        ] == class_id

        # A placed replay: learners watch once it is shared with them.
        [replay] = placed["replay"]["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
        waiting = await env.launch(ADA, resource_link="placed-3", custom=replay["custom"])
        assert waiting.status == 409 and "not shared" in waiting.text
        status, body = await srv.http(
            "POST", f"/api/recordings/{recording_id}/publish", {"visibility": "learners"}
        )
        assert status == 202, body
        await published(srv.url, recording_id)
        watching = await env.launch(ADA, resource_link="placed-3", custom=replay["custom"])
        assert watching.status == 303 and watching.location.startswith(
            f"/replay/{recording_id}#token="
        )

        # A placement signed for another platform, or edited, is not honoured.
        forged = custom | {"classroom_placement": custom["classroom_placement"][:-4] + "AAAA"}
        assert (await env.joined(TEACHER, resource_link="placed-4", custom=forged))[0] not in (
            office,
        )


async def test_quiz_scores_reach_the_gradebook_despite_failures(tmp_path: Path) -> None:
    platform = Platform(fail_scores=3)
    # An ended class unloads at once, but not before its scores are in the outbox.
    async with lms(tmp_path, platform, class_ended_s=0.0) as env:
        srv = env.server
        class_id, teacher = await env.joined(TEACHER)
        _, ada = await env.joined(ADA)
        _, bob = await env.joined(BOB)
        peers = {}
        for who, claims in (("teacher", teacher), ("ada", ada), ("bob", bob)):
            peers[who] = Peer(srv.url, claims["token"])
            srv.peers.append(peers[who])
            await peers[who].connect()
        for correct_answer in ([1], [2]):
            poll_id = await new_poll(peers["teacher"], correct=correct_answer)
            assert (
                await peers["ada"].call("poll:vote", {"poll_id": poll_id, "answer": correct_answer})
            )["ok"]
            assert (await peers["bob"].call("poll:vote", {"poll_id": poll_id, "answer": [0]}))["ok"]
            assert (await peers["teacher"].call("poll:close", {"poll_id": poll_id}))["ok"]
        runtime = srv.app[REGISTRY].runtimes[class_id]
        enqueued_at_unload: list[int] = []
        runtime.on_close(lambda: enqueued_at_unload.append(len(_enqueued(srv, class_id))))
        assert (await peers["teacher"].call("class:end", {}))["ok"]

        scores = await _scores(platform, 2)
        await _until(lambda: bool(enqueued_at_unload))
        assert enqueued_at_unload == [2]
        by_user = {s["userId"]: s for s in scores}
        assert by_user["s-1"]["scoreGiven"] == 2 and by_user["s-2"]["scoreGiven"] == 0
        for score in scores:
            assert score["scoreMaximum"] == 2
            assert score["activityProgress"] == "Completed"
            assert score["gradingProgress"] == "FullyGraded"
            assert score["timestamp"].endswith("+00:00")
        assert platform.score_tries >= 5  # three refused, then both accepted
        assert len(platform.lineitems) == 1  # made once, for the resource link
        assert platform.lineitems[0]["resourceLinkId"] == "link-1"
        assert all(a["aud"] == f"{platform.url}/token" for a in platform.assertions)
        assert class_id.startswith("lti-")


async def test_scores_survive_a_restart(tmp_path: Path) -> None:
    platform = Platform(fail_scores=10**6)
    await platform.start()
    try:
        settings = lti_settings(tmp_path)
        async with running(settings) as srv, browser_session() as http:
            platform.tool_url = srv.url
            assert (await srv.http("POST", "/api/lti/platforms", platform.registration()))[0] == 201
            env = Lms(srv, platform, Browser(http))
            _, teacher = await env.joined(TEACHER)
            _, ada = await env.joined(ADA)
            host, learner = Peer(srv.url, teacher["token"]), Peer(srv.url, ada["token"])
            srv.peers += [host, learner]
            await host.connect()
            await learner.connect()
            poll_id = await new_poll(host, correct=[3])
            assert (await learner.call("poll:vote", {"poll_id": poll_id, "answer": [3]}))["ok"]
            assert (await host.call("poll:close", {"poll_id": poll_id}))["ok"]
            assert (await host.call("class:end", {}))["ok"]
            await _until(lambda: platform.score_tries >= 2)
        platform.fail_scores = 0  # the gradebook is back while the server is down
        async with running(settings) as srv:
            platform.tool_url = srv.url
            [score] = await _scores(platform, 1)
        assert (score["userId"], score["scoreGiven"], score["scoreMaximum"]) == ("s-1", 1, 1)
    finally:
        await platform.stop()


async def test_the_report_shows_the_roster_and_who_never_came(tmp_path: Path) -> None:
    async with lms(tmp_path) as env:
        class_id, teacher = await env.joined(TEACHER)
        _, ada = await env.joined(ADA)
        env.platform.people.append(BOB)  # in the course, never launched
        for claims in (teacher, ada):
            peer = Peer(env.server.url, claims["token"])
            env.server.peers.append(peer)
            await peer.connect()
        status, report = await env.server.http("GET", f"/api/classes/{class_id}/report")
        assert status == 200, report
        roster = report["roster"]
        assert roster["state"] == "ok"
        members = {m["lms_user_id"]: m for m in roster["members"]}
        assert set(members) == {"t-1", "s-1", "s-2"}  # both pages of the roster
        assert members["s-1"] | {"user_id": ""} == {
            "user_id": "",
            "lms_user_id": "s-1",
            "name": "Ada Lovelace",
            "role": "participant",
            "came": True,
        }
        assert members["s-1"]["user_id"] == ada["user"]
        assert not members["s-2"]["came"] and roster["never_came"] == [members["s-2"]["user_id"]]
        # A class that no course launched has no roster.
        plain = await env.server.create_class("Not from a course")
        assert (await env.server.http("GET", f"/api/classes/{plain}/report"))[1]["roster"] is None


async def test_registrations_over_rest_and_the_tool_key_set(tmp_path: Path) -> None:
    async with lms(tmp_path) as env:
        srv = env.server
        status, listed = await srv.http("GET", "/api/lti/platforms")
        [platform] = listed["platforms"]
        assert status == 200 and platform["issuer"] == env.platform.issuer
        status, urls = await srv.http("GET", "/api/lti/tool")
        assert urls["login_url"] == f"{srv.url}/lti/login"
        assert urls["launch_url"] == f"{srv.url}/lti/launch"
        keys = await _json(srv.url + "/.well-known/jwks.json")
        assert [k["kid"] for k in keys["keys"]] == [urls["key_id"]]
        assert (await srv.http("GET", "/api/lti/platforms", admin=False))[0] == 401
        bad = env.platform.registration() | {"jwks_url": "http://lms.example.edu/jwks"}
        status, body = await srv.http("POST", "/api/lti/platforms", bad)
        assert status == 400 and "https://" in body["error"]["message"]
        assert (await srv.http("DELETE", f"/api/lti/platforms/{platform['id']}"))[0] == 200
        refused = await env.launch(TEACHER)
        assert refused.status == 400 and "not registered" in refused.text


async def _json(url: str) -> Any:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def _post(url: str, body: Any) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as resp:
        return resp.status, await resp.json()


async def _until(done: Any, tries: int = 300) -> None:
    for _ in range(tries):
        if done():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not reached in time")


async def _scores(platform: Platform, count: int) -> list[dict[str, Any]]:
    await _until(lambda: len(platform.scores) >= count, tries=600)
    return platform.scores


def _enqueued(srv: Server, class_id: str) -> list[str]:
    """The ids of a class's scores in the tool's outbox."""
    entries = srv.app[LTI].grades.outbox.state.entries
    return [msg_id for msg_id in entries if msg_id.startswith(f"lti_{class_id}_")]
