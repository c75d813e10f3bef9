"""Taking part in a replay, in a real browser: a learner opens it from a share link and
gives a name; a quiz question is offered (and the video paused) at its moment, both
cohorts' results after answering, the score; a question asked at a moment, answered by
a host in another browser; after a reload the answer is there and the video resumes
where the learner left off."""

from __future__ import annotations

import asyncio

import pytest

from classroom import events as e
from classroom.replay import RecordedPoll, encode_polls
from signaling.auth import mint_replay
from tests.browser import BrowserEnv, Person, browser_env, env, reported  # noqa: F401  (fixtures)
from tests.conftest import SECRET
from tests.replay_package import replay_package
from web.keys import GATEWAY, RECORDER

pytestmark = pytest.mark.asyncio(loop_scope="module")

VIDEO = "document.getElementById('video')"
QUIZ = RecordedPoll(
    "quiz",
    2000,
    "Which shape has three sides?",
    "single",
    ["Triangle", "Square"],
    quiz=True,
    correct=[0],
    live=e.PollResults(kind="single", counts=[7, 3], total=10, voters=10),
)


def published(where: BrowserEnv, rid: str) -> None:
    store = where.server.app[RECORDER].store
    store.create(rid, {"id": rid, "title": "Geometry", "state": "published", "visibility": "link"})
    replay_package(store.package_dir(rid), "ana-camera.webm", rid)
    store.replay_polls(rid).write_bytes(encode_polls([QUIZ]))


async def taking_part(person: Person) -> Person:
    await person.page.wait_for_selector("#tab-part:not([hidden])", timeout=30_000)
    await person.tab("part")
    return person


async def opened(where: BrowserEnv, rid: str, user: str, role: str = "viewer") -> Person:
    token = mint_replay(SECRET, rid, user, user.title(), role)  # type: ignore[arg-type]
    return await taking_part(await where.open(f"{where.server.url}/replay/{rid}#token={token}"))


async def from_share_link(where: BrowserEnv, rid: str, name: str) -> Person:
    status, body = await where.server.http("POST", f"/api/recordings/{rid}/share", {})
    assert status == 201, body
    invite = body["link"].split("#", 1)[1]
    person = await where.open(f"{where.server.url}/replay/{rid}#{invite}")
    await person.page.wait_for_selector("#name-form:not([hidden])")
    await person.page.fill("#name-input", name)
    await person.page.click("#name-form button[type=submit]")
    return await taking_part(person)


@reported
async def test_a_learner_answers_asks_and_resumes(env: BrowserEnv) -> None:  # noqa: F811
    rid = "r-take-part"
    published(env, rid)
    ana = await from_share_link(env, rid, "Ana Lima")
    page = ana.page
    await ana.wait_text("#part-polls .card", "Which shape has three sides?")
    # Nothing of the outcome before answering.
    assert await page.locator("#part-polls .cohorts").count() == 0
    await page.evaluate(f"() => {{ {VIDEO}.muted = true; return {VIDEO}.play(); }}")
    # At its moment the quiz question is offered and the video pauses.
    await page.wait_for_selector("#poll-now-box:not([hidden]) #poll-now .card")
    await page.wait_for_function(f"() => {VIDEO}.paused")
    await page.check("#poll-now input[value='0']")
    await page.click("#poll-now button[type=submit]")
    await ana.wait_text("#poll-now .outcome", "In class: 10 answers")
    await ana.wait_text("#poll-now .outcome", "Watching later: 1 answer")
    await ana.wait_text("#poll-now .outcome", "Right!")
    await ana.wait_text("#score", "Quiz: 1 of 1 right")

    # A question at this moment, answered by a host watching elsewhere.
    await page.fill("#ask-text", "Why <b>three</b>?")
    await page.click("#ask-form button[type=submit]")
    await ana.wait_text("#part-questions .card", "Why <b>three</b>?")  # as text, never markup
    assert await page.locator("#markers .marker.question").count() == 1
    host = await opened(env, rid, "teach", "host")
    await host.wait_text("#waiting", "Why <b>three</b>?")
    await host.page.fill(
        "#part-questions input[id^='replay-answer']", "Three sides make a triangle."
    )
    await host.page.click("#part-questions form:has(input[id^='replay-answer']) button")
    await ana.wait_text("#part-questions .answer", "Teach: Three sides make a triangle.")
    await host.page.wait_for_selector("#waiting-empty:not([hidden])")
    assert await host.page.locator("#part-questions .meta", has_text="Ana Lima").count() == 1

    # Progress is kept: a reload resumes where the learner paused.
    position = await page.evaluate(f"() => {VIDEO}.currentTime")
    stream = env.server.app[GATEWAY].replays.runtimes[rid].stream
    async with asyncio.timeout(10):  # the pause's progress report is on its way
        while True:
            if [v for v in stream.viewers.values() if v.name == "Ana Lima" and v.position_ms]:
                break
            await asyncio.sleep(0.05)
    await page.reload()
    await page.wait_for_selector("#tab-part:not([hidden])", timeout=30_000)
    await page.wait_for_function(f"(t) => {VIDEO}.currentTime >= t - 0.5", arg=position)
    await ana.tab("part")
    await ana.wait_text("#part-questions .answer", "Teach: Three sides make a triangle.")
    await ana.wait_text("#part-polls .yours", "Your answer: Triangle")
    for person in (ana, host):
        assert person.csp_violations() == [] and person.errors == []


@reported
async def test_a_guest_watches_without_a_name(env: BrowserEnv) -> None:  # noqa: F811
    rid = "r-guest"
    published(env, rid)
    store = env.server.app[RECORDER].store
    store.update(rid, anonymous_viewing=True)
    status, body = await env.server.http("POST", f"/api/recordings/{rid}/share", {})
    assert status == 201, body
    guest = await env.open(f"{env.server.url}/replay/{rid}#{body['link'].split('#', 1)[1]}")
    await guest.page.wait_for_selector("#name-form:not([hidden]) #name-skip:not([hidden])")
    await guest.page.click("#name-skip")
    await taking_part(guest)
    await guest.wait_text("#part-status", "watching without a name")
    await guest.wait_text("#part-polls .card", "Which shape has three sides?")
    # Nothing to take part with: no ballot, no asking; the video plays.
    assert await guest.page.locator("#part-polls form.vote").count() == 0
    assert await guest.page.locator("#ask-form").is_hidden()
    await guest.page.evaluate(f"() => {{ {VIDEO}.muted = true; return {VIDEO}.play(); }}")
    await guest.page.wait_for_function(f"() => {VIDEO}.currentTime > 2.5")
    assert env.server.app[GATEWAY].replays.runtimes[rid].stream.anonymous_views == 1
    assert guest.csp_violations() == [] and guest.errors == []
