"""A class in real browsers: a host and two learners see each other, chat, vote in a
poll, ask and upvote a question, go to breakout rooms and back, and the recording of
it all replays with the poll at the right moment."""

from __future__ import annotations

import asyncio

import pytest

from tests.browser import (  # noqa: F401  (fixtures)
    VIDEO_WAIT_MS,
    BrowserEnv,
    Person,
    browser_env,
    env,
    reported,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
TILES_ARE = "(n) => document.querySelectorAll('#grid .tile, #spotlight .tile').length === n"
QUESTION = "Which planet is the largest?"
PUBLISHING_MS = 90_000
"""Publishing builds a composite video: give a slow machine time."""
PLAYHEAD = "document.getElementById('video').currentTime"


@reported
async def test_a_class_in_three_browsers(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Astronomy")
    host, ana, ben = await asyncio.gather(
        env.join(cid, "teacher", "host", "Ms Rivera"),
        env.join(cid, "ana", name="Ana Souza"),
        env.join(cid, "ben", name="Ben Okafor"),
    )
    everyone = (host, ana, ben)
    for person in everyone:
        await person.page.wait_for_function(TILES_ARE, arg=3, timeout=VIDEO_WAIT_MS)
    # Each sees the other two's video playing: frames decoded on the sub connection.
    await asyncio.gather(*(p.wait_videos(2) for p in everyone))
    # All three fake microphones talk at once (tests/browser.py): the SFU names one speaker.
    await host.page.wait_for_selector(".tile.speaking")

    await host.page.click("text=Start recording")
    for person in everyone:
        await person.page.wait_for_selector("#rec-indicator:not([hidden])")

    await ana.page.fill("#chat-input", "Hello everyone")
    await ana.page.press("#chat-input", "Enter")
    for person in everyone:
        await person.wait_text("#chat .text", "Hello everyone")

    await run_poll(host, ana, ben)
    await ask_and_upvote(host, ana, ben)
    await breakout_round(host, ana, ben)

    await host.page.click("text=Stop recording")
    link = host.page.locator("#rec-link")
    await link.wait_for()
    replay_url = env.server.url + str(await link.get_attribute("href"))
    await watch_replay(env, replay_url)

    for person in env.people:
        assert person.csp_violations() == []
        assert person.errors == []


async def run_poll(host: Person, ana: Person, ben: Person) -> None:
    """The host creates a quiz question; both learners vote; the host closes and publishes it."""
    for person in (host, ana, ben):
        await person.tab("polls")
    await host.page.click("#poll-create summary")
    await host.page.fill("#poll-question", QUESTION)
    await host.page.fill("#poll-options", "Mars\nJupiter\nVenus")
    await host.page.fill("#poll-correct", "2")
    await host.page.click("#poll-form button[type=submit]")

    for person, choice in ((ana, "Jupiter"), (ben, "Mars")):
        card = person.page.locator("#polls .poll", has_text=QUESTION)
        await card.get_by_label(choice).check()
        await card.locator(".vote-btn").click()
        await card.locator(".yours", has_text=choice).wait_for()
    # The host's live chart counts both ballots.
    await host.wait_text("#polls .summary", "2 votes")
    await host.page.click("#polls .poll button:text('Close')")
    await host.page.click("#polls .poll button:text('Publish')")
    await ana.wait_text("#polls .yours", "correct!")
    await ben.wait_text("#polls .yours", "not quite")
    for person in (ana, ben):
        await person.wait_text("#polls .bar.correct .label", "Jupiter")
        await person.wait_text("#polls .meta", "Published")


async def ask_and_upvote(host: Person, ana: Person, ben: Person) -> None:
    for person in (host, ana, ben):
        await person.tab("qa")
    await ben.page.fill("#qa-input", "Will this be on the exam?")
    await ben.page.click("#qa-form button[type=submit]")
    await ana.wait_text("#questions .qtext", "Will this be on the exam?")
    await ana.page.click("#questions .upvote")
    await ana.page.wait_for_selector("#questions .upvote[aria-pressed=true]")
    for person in (host, ana, ben):
        await person.wait_text("#questions .meta", "1 vote")
    await host.page.click("#questions button:text('Pin')")
    await ben.wait_text("#questions .meta", "Pinned")


async def breakout_round(host: Person, ana: Person, ben: Person) -> None:
    """Two rooms opened at random; each learner is told where they are; then closed."""
    await host.tab("rooms")
    await host.page.click("#bo-plan-form summary")
    await host.page.fill("#bo-count", "2")
    await host.page.click("#bo-form button[value=open]")
    for learner in (ana, ben):
        await learner.wait_text("#bar-room", "You are in Room")
        await learner.page.wait_for_selector("#bar-help:not([hidden])")
    await host.wait_text("#bo-rooms", "Ana Souza")
    await host.page.fill("#bo-broadcast", "Two minutes left")
    await host.page.click("#bo-broadcast-form button[type=submit]")
    await ana.wait_text("#status", "Two minutes left")
    await host.page.click("#bo-close-now")
    for learner in (ana, ben):
        await learner.page.wait_for_selector("#breakout-bar", state="hidden")
    # Back in the main room: everyone's video again.
    for person in (host, ana, ben):
        await person.page.wait_for_function(TILES_ARE, arg=3, timeout=VIDEO_WAIT_MS)


async def watch_replay(env: BrowserEnv, url: str) -> None:  # noqa: F811
    """The replay shows the poll only from the moment it opened, with its results once published."""
    viewer = await env.open(url)
    page = viewer.page
    await page.wait_for_selector("#replay:not([hidden])", timeout=PUBLISHING_MS)
    await page.wait_for_function("() => document.getElementById('video').readyState >= 1")
    assert await page.locator("#polls .poll").count() == 0
    download = await page.get_attribute("#download", "href")
    assert download is not None and "/files/composite.webm?" in download  # a signed URL
    await page.select_option("#speed", "1.5")
    assert await page.evaluate("() => document.getElementById('video').playbackRate") == 1.5
    chapter = page.locator("#chapters button", has_text=f"Poll: {QUESTION}")
    await chapter.click()
    await page.click("#tab-polls")
    await page.locator("#polls .poll", has_text=QUESTION).wait_for()
    assert await page.locator("#polls .meta").first.inner_text() == "Open · Quiz"
    # A deep link to the end: the poll is published, with Jupiter marked correct.
    end = await page.evaluate("Math.floor(document.getElementById('video').duration)")
    assert "#token=" not in page.url  # kept in the tab, out of the address bar
    await page.goto(f"{page.url}?t={end}")
    await page.wait_for_function(f"(t) => {PLAYHEAD} >= t", arg=end - 1)
    await page.click("#tab-polls")
    await page.locator("#polls .bar.correct", has_text="Jupiter").wait_for()
    # Searching finds the chat message; clicking its time seeks back.
    await page.click("#tab-chat")
    await page.fill("#search", "hello")
    await page.locator("#chat .msg", has_text="Hello everyone").wait_for()
    await page.click("#chat .msg .seek")
    await page.wait_for_function(f"(t) => {PLAYHEAD} < t", arg=end - 1)
    await share_by_link(env, viewer)


async def share_by_link(env: BrowserEnv, host: Person) -> None:  # noqa: F811
    """Private until shared: the host shares it by link; a learner gives a name and watches."""
    page = host.page
    await page.select_option("#visibility", "link")
    await page.click("#share-form button[type=submit]")
    await host.wait_text("#status", "Sharing saved")
    await page.click("#share-link")
    await page.wait_for_selector("#share-url:not([hidden])")
    link = await page.input_value("#share-url")
    assert "#invite=" in link
    learner = await env.open(link)
    await learner.page.fill("#name-input", "Late Learner")
    await learner.page.click("#name-form button[type=submit]")
    await learner.page.wait_for_selector("#replay:not([hidden])")
    await learner.page.wait_for_function("() => document.getElementById('video').readyState >= 1")
    await learner.wait_text("#chapters button", f"Poll: {QUESTION}")
    assert await learner.page.is_hidden("#sharing")
