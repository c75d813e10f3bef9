"""The replay page in a real browser, with recordings that are private until shared:
a personal replay link, a share link that asks for a name, refusals, and signed file
URLs that the video loads, that expire and that the page renews."""

from __future__ import annotations

import time
from typing import Any

import pytest

from classroom.sharing import Access
from signaling.auth import mint, mint_replay, verify_replay
from tests.browser import BrowserEnv, Person, browser_env, env, reported  # noqa: F401  (fixtures)
from tests.conftest import ADMIN, SECRET
from tests.replay_package import captioned_package, replay_package
from web.keys import RECORDER
from web.replay_access import file_url

pytestmark = pytest.mark.asyncio(loop_scope="module")

PLAYHEAD = "document.getElementById('video').currentTime"
VIDEO = "document.getElementById('video')"
KEPT_TOKEN = "(rid) => sessionStorage.getItem(`replay-token:${rid}`)"
STATUS_OF = "async (url) => (await fetch(url)).status"


def shared(where: BrowserEnv, rid: str, visibility: str, state: str = "published") -> None:
    """A recording whose package is there, shared as `visibility`."""
    store = where.server.app[RECORDER].store
    meta = {"id": rid, "title": "Geometry", "state": state, "visibility": visibility}
    store.create(rid, meta)
    if state == "published":
        replay_package(store.package_dir(rid), "ana-camera.webm", rid)


async def admin_post(where: BrowserEnv, path: str, body: dict[str, Any]) -> dict[str, Any]:
    status, out = await where.server.http("POST", path, body)
    assert status in (201, 202), out
    return dict(out)


async def plays(person: Person) -> None:
    """The video loads from a signed URL and plays (muted: no user gesture needed)."""
    page = person.page
    await page.wait_for_selector("#replay:not([hidden])", timeout=30_000)
    src = await page.get_attribute("#video", "src")
    assert src is not None and "/files/ana-camera.webm?" in src and "sig=" in src
    await page.evaluate(f"() => {{ {VIDEO}.muted = true; return {VIDEO}.play(); }}")
    await page.wait_for_function(f"() => {PLAYHEAD} > 0.5")


@reported
async def test_a_personal_replay_link_plays_and_stays_in_the_tab(env: BrowserEnv) -> None:  # noqa: F811
    rid = "r-personal"
    shared(env, rid, "learners")
    ana = {"user_id": "ana", "name": "Ana"}
    minted = await admin_post(env, f"/api/recordings/{rid}/tokens", ana)
    viewer = await env.open(f"{env.server.url}/replay/{rid}#token={minted['token']}")
    await plays(viewer)
    await viewer.wait_text("#chat .text", "Hi")
    # The token left the address bar and stays in this tab: a reload plays again.
    assert "#" not in viewer.page.url
    assert await viewer.page.evaluate(KEPT_TOKEN, rid) == minted["token"]
    await viewer.page.reload()
    await plays(viewer)
    assert await viewer.page.is_hidden("#sharing")  # sharing is for hosts


@reported
async def test_a_share_link_asks_for_a_name_then_plays(env: BrowserEnv) -> None:  # noqa: F811
    rid = "r-shared"
    shared(env, rid, "link")
    link = (await admin_post(env, f"/api/recordings/{rid}/share", {}))["link"]
    invite = link.split("#", 1)[1]  # the link names the configured port
    person = await env.open(f"{env.server.url}/replay/{rid}#{invite}")
    await person.page.wait_for_selector("#name-form:not([hidden])")
    await person.page.fill("#name-input", "Zoë Visitor")
    await person.page.click("#name-form button[type=submit]")
    await plays(person)
    token = await person.page.evaluate(KEPT_TOKEN, rid)
    claims = verify_replay(SECRET, token, rid)
    assert (claims.name, claims.role, claims.link) == ("Zoë Visitor", "viewer", 0)
    # Opening the share link again in this tab does not ask again, nor mint another identity.
    await person.page.goto(f"{env.server.url}/replay/{rid}#{invite}")
    await plays(person)
    assert await person.page.evaluate(KEPT_TOKEN, rid) == token


@reported
async def test_the_replay_says_why_it_cannot_open(env: BrowserEnv) -> None:  # noqa: F811
    rid = "r-refusals"
    shared(env, rid, "private")
    base = f"{env.server.url}/replay/{rid}"
    nothing = await env.open(base)
    await nothing.wait_text("#banner-text", "has no access key")
    # Without a replay token the browser gets nothing, not even the files.
    file = f"/api/recordings/{rid}/files/ana-camera.webm"
    assert await nothing.page.evaluate(STATUS_OF, file) == 401
    assert await nothing.page.evaluate(STATUS_OF, f"/api/recordings/{rid}") == 401
    cid = await env.server.create_class("Geometry")
    participant = mint(SECRET, cid, "ana", "Ana", "participant")
    joined = await env.open(f"{base}#token={participant}")
    await joined.wait_text("#banner-text", "not valid or has expired")
    waiting = await env.open(f"{base}#token={mint_replay(SECRET, rid, 'ana', 'Ana')}")
    await waiting.wait_text("#status", "has not been shared with you yet")
    assert await waiting.page.get_attribute("#video", "src") is None
    unknown = mint_replay(SECRET, "r-nothing-here", "ana", "Ana")
    gone = await env.open(f"{env.server.url}/replay/r-nothing-here#token={unknown}")
    await gone.wait_text("#banner-text", "no such recording")
    # Once shared with learners, the waiting page opens by itself.
    env.server.app[RECORDER].store.update(rid, visibility="learners")
    await plays(waiting)


@reported
async def test_expired_file_urls_are_refused_and_renewed(env: BrowserEnv) -> None:  # noqa: F811
    rid = "r-expiring"
    shared(env, rid, "learners")
    token = mint_replay(SECRET, rid, "ana", "Ana")
    viewer = await env.open(f"{env.server.url}/replay/{rid}#token={token}")
    await plays(viewer)
    page = viewer.page
    expired = file_url(SECRET, rid, "ana-camera.webm", Access("learner"), int(time.time()) - 1)
    assert await page.evaluate(STATUS_OF, expired) == 401
    # The video's URL runs out mid-play: the page fetches fresh ones and plays on.
    await page.evaluate(
        f"(url) => {{ window.__replay.manifest.files_expire_at = 0; {VIDEO}.src = url; }}", expired
    )
    await page.wait_for_function(
        f"(url) => {VIDEO}.src !== url && {VIDEO}.readyState >= 2", arg=env.server.url + expired
    )
    fresh = await page.get_attribute("#video", "src")
    assert fresh is not None and await page.evaluate(STATUS_OF, fresh) == 200


@reported
async def test_replay_waits_for_publishing_and_plays_a_track(env: BrowserEnv) -> None:  # noqa: F811
    store = env.server.app[RECORDER].store
    rid = "r-replay-test"
    shared(env, rid, "learners", state="publishing")
    store.update(rid, percent=40)
    token = mint_replay(SECRET, rid, "ana", "Ana")
    viewer = await env.open(f"{env.server.url}/replay/{rid}?t=2#token={token}")
    await viewer.wait_text("#status", "being prepared (40%)")
    replay_package(store.package_dir(rid), "ana-camera.webm", rid)
    store.update(rid, state="published", percent=100)
    # The page notices, plays the camera track (it starts 1 s in) from 2 s: the chat is
    # there, the poll not yet.
    await viewer.page.wait_for_selector("#replay:not([hidden])")
    assert await viewer.page.is_hidden("#download")
    await viewer.page.wait_for_function(f"() => Math.abs({PLAYHEAD} - 1) < 0.1")
    await viewer.wait_text("#chat .text", "Hi")
    assert await viewer.page.locator("#polls .poll").count() == 0
    await viewer.page.click("#chapters button")
    await viewer.page.wait_for_function(f"() => Math.abs({PLAYHEAD} - 2) < 0.1")
    await viewer.page.click("#tab-polls")
    await viewer.wait_text("#polls .question", "Which shape has three sides?")
    assert ADMIN not in viewer.page.url


TEXT_TRACK = f"{VIDEO}.textTracks[0]"


@reported
async def test_captions_show_on_the_video_and_the_transcript_seeks(env: BrowserEnv) -> None:  # noqa: F811
    store = env.server.app[RECORDER].store
    rid = "r-captions"
    store.create(
        rid, {"id": rid, "title": "Optics", "state": "published", "visibility": "learners"}
    )
    captioned_package(store.package_dir(rid), rid)
    viewer = await env.open(
        f"{env.server.url}/replay/{rid}#token={mint_replay(SECRET, rid, 'ana', 'Ana')}"
    )
    page = viewer.page
    await page.wait_for_selector("#replay:not([hidden])")
    fields = ", ".join(f"{TEXT_TRACK}.{name}" for name in ("kind", "language", "label"))
    track = await page.evaluate(f"() => [{VIDEO}.textTracks.length, {fields}]")
    assert track == [1, "captions", "en", "English (automatic)"]
    # The viewer turns captions on: the cues load, and the one at the playhead shows.
    await page.evaluate(f"() => {{ {TEXT_TRACK}.mode = 'showing'; {VIDEO}.currentTime = 2; }}")
    await page.wait_for_function(f"() => {TEXT_TRACK}.cues?.length === 2")
    await page.wait_for_function(
        f"() => [...({TEXT_TRACK}.activeCues ?? [])].some((c) => c.text.includes('speed of light'))"
    )
    # The transcript panel: who said what, when; a line plays from its time.
    await viewer.tab("transcript")
    await viewer.wait_text("#transcript .text", "what is refraction")
    assert await page.locator("#transcript .who").all_text_contents() == ["Dr Teach", "Ana"]
    await page.locator("#transcript li").nth(1).locator("button").click()
    await page.wait_for_function(f"() => Math.abs({PLAYHEAD} - 3.5) < 0.1")
    await page.wait_for_selector('#transcript li:nth-child(2)[aria-current="true"]')
    # The replay's search finds words of the transcript.
    await page.fill("#search", "refraction")
    await viewer.wait_text("#search-summary", "1 transcript line match")
    assert await page.locator("#transcript li:not([hidden])").count() == 1
    await page.fill("#search", "")
    await page.wait_for_function(
        "() => document.querySelectorAll('#transcript li:not([hidden])').length === 2"
    )
    assert viewer.csp_violations() == [] and viewer.errors == []
