"""Take the README screenshots: a live class (video, chat, a poll) and its replay.

Usage: .venv/bin/python scripts/screenshot.py [docs/]
Runs a server on a loopback port in a temporary data dir and three browsers
with Chromium's fake camera and microphone, then writes screenshot.png (the
classroom as a learner sees it), replay.png (the recording of that class) and
replay-take-part.png (a learner taking part in it later).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

from playwright.async_api import async_playwright

from signaling.auth import mint_replay
from tests.browser import CHROMIUM, CHROMIUM_ARGS, BrowserEnv, Person
from tests.conftest import SECRET, Server, settings_for

WIDE = 1600, 900
QUESTION = "Which planet has the most moons?"


async def send(person: Person, event: str, data: dict[str, Any]) -> Any:
    """Act through the page's own connection (the page is opened with `test` in its link)."""
    return await person.page.evaluate(
        "([event, data]) => window.__classroom.conn.send(event, data)", [event, data]
    )


async def live_class(env: BrowserEnv, cid: str) -> tuple[Person, str]:
    host, ana, li = await asyncio.gather(
        env.join(cid, "rivera", "host", "Ms Rivera", width=WIDE[0], height=WIDE[1]),
        env.join(cid, "ana", name="Ana Souza", width=WIDE[0], height=WIDE[1]),
        env.join(cid, "li", name="Li Wei"),
    )
    sam = await env.server.join(cid, "sam", name="Sam Lee")
    await asyncio.gather(*(p.wait_videos(2) for p in (host, ana, li)))
    started = await send(host, "recording:start", {})
    await send(host, "recording:marker", {"title": "Welcome"})
    await send(ana, "chat:send", {"text": "Good morning! Is the recording on?"})
    await send(host, "chat:send", {"text": "Yes, it is. Today: the outer planets."})
    await sam.call("chat:send", {"text": "Can we go over exercise 3 again?"})
    await sam.call("hand:raise", {})
    await send(li, "qa:ask", {"text": "Is Pluto still a planet?"})
    poll = {"question": QUESTION, "kind": "single", "options": ["Jupiter", "Saturn", "Uranus"]}
    poll_id = (await send(host, "poll:create", poll | {"correct": [1]}))["poll_id"]
    await send(host, "poll:open", {"poll_id": poll_id})
    await send(ana, "poll:vote", {"poll_id": poll_id, "answer": [1]})
    await send(li, "poll:vote", {"poll_id": poll_id, "answer": [0]})
    await sam.call("poll:vote", {"poll_id": poll_id, "answer": [1]})
    await send(host, "poll:show_results", {"poll_id": poll_id})
    await send(li, "chat:send", {"text": "Saturn, I think: it keeps finding new ones."})
    await ana.tab("polls")
    await ana.wait_text("#polls .summary", "3 votes")
    await ana.page.wait_for_function("() => !document.getElementById('rec-indicator').hidden")
    await ana.page.screenshot(path=str(OUT / "screenshot.png"))
    await send(host, "poll:close", {"poll_id": poll_id})
    await send(host, "poll:publish", {"poll_id": poll_id})
    await sam.call("chat:send", {"text": "Thanks, that helped."})
    await send(host, "recording:stop", {})
    await sam.close()
    return host, str(started["recording_id"])


async def replay(env: BrowserEnv, recording_id: str) -> None:
    """The replay as a learner with a personal link sees it, once the host shared it."""
    shared = {"visibility": "learners"}
    await env.server.http("POST", f"/api/recordings/{recording_id}/publish", shared)
    token = mint_replay(SECRET, recording_id, "sam", "Sam")
    person = await env.open(f"{env.server.url}/replay/{recording_id}#token={token}", *WIDE)
    await person.page.wait_for_selector("#replay:not([hidden])", timeout=120_000)
    await person.page.wait_for_function("() => document.getElementById('video').readyState >= 1")
    await person.page.locator("#chapters button", has_text=QUESTION).click()
    await person.page.click("#tab-polls")
    await person.page.locator("#polls .poll").wait_for()
    await person.page.evaluate(
        "() => { const v = document.getElementById('video'); v.currentTime = v.duration; }"
    )
    await person.wait_text("#polls .meta", "Published")
    await person.page.screenshot(path=str(OUT / "replay.png"))


async def take_part(env: BrowserEnv, recording_id: str) -> None:
    """A learner watching later takes part: the poll answered, results side by side, a
    question asked at a moment and answered by the host."""
    token = mint_replay(SECRET, recording_id, "dee", "Dee Okafor")
    person = await env.open(f"{env.server.url}/replay/{recording_id}#token={token}", *WIDE)
    page = person.page
    await page.wait_for_selector("#tab-part:not([hidden])", timeout=120_000)
    await page.click("#tab-part")
    await page.locator("#part-polls .card", has_text=QUESTION).wait_for()
    await page.check("#part-polls input[value='1']")
    await page.click("#part-polls form.vote button")
    await person.wait_text("#part-polls .outcome", "Watching later")
    await page.fill("#ask-text", "Why do moons get counted so late?")
    await page.click("#ask-form button[type=submit]")
    await page.locator("#part-questions .card").wait_for()
    host = await env.open(
        f"{env.server.url}/replay/{recording_id}#token="
        + mint_replay(SECRET, recording_id, "rivera", "Ms Rivera", "host")
    )
    await host.page.wait_for_selector("#tab-part:not([hidden])", timeout=120_000)
    await host.page.click("#tab-part")
    answer = "input[id^='replay-answer']"
    await host.page.fill(
        f"#part-questions {answer}", "Small moons are found by probes and new telescopes."
    )
    await host.page.click(f"#part-questions form:has({answer}) button")
    await person.wait_text("#part-questions .answer", "Ms Rivera")
    await page.screenshot(path=str(OUT / "replay-take-part.png"))


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(
            settings_for(Path(tmp), media_host=("127.0.0.1",), media_allow_private=True)
        )
        await server.start()
        try:
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                env = BrowserEnv(server, browser)
                cid = await server.create_class("Astronomy 101")
                _, recording_id = await live_class(env, cid)
                await replay(env, recording_id)
                await take_part(env, recording_id)
                await env.close_people()
                await browser.close()
        finally:
            await server.stop()


OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")

if __name__ == "__main__":
    asyncio.run(main())
