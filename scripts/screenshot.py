"""Take the README screenshots: a live class (video, chat, a poll), its replay, the console.

Usage: PYTHONPATH=. .venv/bin/python scripts/screenshot.py [docs/]
Runs a server on a loopback port in a temporary data dir and three browsers
with Chromium's fake camera and microphone, then writes screenshot.png (the
classroom as a learner sees it), slides.png (a lecture on slides, the
teacher's ink on the page and the cameras small under it), replay.png (the
recording of that class), replay-take-part.png (a learner taking part in it
later), console.png (an organizer's classes), console-report.png (the report
of a 50-minute class of 30, whose journal is made by the reports
benchmark's scripted class, with people's names and questions put in) and
console-recording-report.png (the report of a recording watched by 120
learners, whose stream is made by the recording report benchmark's).
"""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from playwright.async_api import async_playwright

from bench.recording_report import make_stream
from bench.reports import make_class
from classroom import events as e
from classroom import replay_events as r
from classroom.replay import encode_polls
from signaling.auth import mint_organizer, mint_replay
from tests import pdfs
from tests.browser import CHROMIUM, CHROMIUM_ARGS, BrowserEnv, Person
from tests.conftest import SECRET, Server, settings_for
from tests.test_browser_slides import rendered
from web.keys import REGISTRY, REPLAYS

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


SLIDE = pdfs.lecture(
    "The outer planets",
    ["Jupiter: 95 known moons", "Saturn: 146 known moons", "Uranus: 28", "Neptune: 16"],
)


async def slides(env: BrowserEnv, cid: str) -> None:
    """A lecture on slides, as a learner sees it: the page large with the teacher's ink."""
    host, ana = await asyncio.gather(
        env.join(cid, "rivera", "host", "Ms Rivera", width=WIDE[0], height=WIDE[1]),
        env.join(cid, "ana", name="Ana Souza", width=WIDE[0], height=WIDE[1]),
    )
    files = [{"name": "outer-planets.pdf", "mimeType": "application/pdf", "buffer": SLIDE}]
    await host.page.set_input_files("#slides-file", files=files)
    await rendered(host)
    await ana.wait_text("#slides-page", "Page 1")
    await host.page.select_option("#board-tool", "ellipse")
    box = await host.page.locator("#ink").bounding_box()
    assert box is not None
    at = lambda fx, fy: (box["x"] + fx * box["width"], box["y"] + fy * box["height"])  # noqa: E731
    await host.page.mouse.move(*at(0.06, 0.31))
    await host.page.mouse.down()
    await host.page.mouse.move(*at(0.46, 0.47), steps=10)
    await host.page.mouse.up()
    await ana.page.wait_for_function(
        "() => [...window.__classroom.state.slides.pages.values()].some((p) => p.size > 0)"
    )
    await send(ana, "chat:send", {"text": "Why does Saturn have so many more?"})
    await send(host, "chat:send", {"text": "Good question: its rings are part of the answer."})
    await ana.wait_text("#chat", "part of the answer")
    await ana.wait_videos(1)
    await ana.page.screenshot(path=str(OUT / "slides.png"))
    for person in (host, ana):
        await person.close()
        env.people.remove(person)


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


ORGANIZER = mint_organizer(SECRET, "rivera", "Ms Rivera")
NAMES = [
    "Ana Souza",
    "Li Wei",
    "Sam Lee",
    "Noor Haddad",
    "Jonas Berg",
    "Chiara Conti",
    "Kofi Mensah",
    "Emma Dubois",
    "Yuki Tanaka",
    "Mateo García",
    "Olga Ivanova",
    "Ravi Patel",
    "Sara Nilsson",
    "Tomás Silva",
    "Amara Okafor",
    "Lena Fischer",
    "Hugo Martin",
    "Zainab Ali",
    "Piotr Nowak",
    "Mia Jensen",
    "Omar Farouk",
    "Ines Moreau",
    "Daniel Cohen",
    "Aiko Sato",
    "Lucas Rossi",
    "Fatima Zahra",
    "Erik Larsen",
    "Nina Petrova",
    "Jin Park",
    "Clara Weber",
]
QUESTIONS = [
    "What bends light more: glass or water?",
    "Which lens makes things look bigger?",
    "Is light a wave or a particle?",
    "Rate today's pace",
    "One word for refraction",
    "Which colour bends the most in a prism?",
    "Total internal reflection needs…",
    "Snell's law: n1 sin θ1 = ?",
    "Where is the focal point?",
    "How clear was the lab demo?",
]

RECORDED = [
    ("What bends light more: glass or water?", ["Glass", "Water", "The same", "It depends"]),
    ("Which lens makes things look bigger?", ["Convex", "Concave", "Flat", "Neither"]),
    ("Is light a wave or a particle?", ["A wave", "A particle", "Both", "Neither"]),
    ("Which colour bends the most in a prism?", ["Red", "Green", "Blue", "Violet"]),
    ("Total internal reflection needs…", ["Denser first", "Lighter first", "A mirror", "A lens"]),
    ("Where is the focal point of a convex lens?", ["In front", "Behind", "At it", "Nowhere"]),
    ("Why does a straw look bent in water?", ["Refraction", "Reflection", "Diffraction", "Dust"]),
    ("What does a prism split white light into?", ["Colours", "Heat", "Shadows", "Sound"]),
    ("Which has the highest refractive index?", ["Diamond", "Glass", "Water", "Air"]),
    (
        "What do glasses for short sight use?",
        ["Concave lenses", "Convex lenses", "Prisms", "Mirrors"],
    ),
]
"""The recorded polls of the watched recording: questions and options for the page."""


async def api(server: Server, method: str, path: str, body: Any = None) -> Any:
    async with (
        aiohttp.ClientSession() as http,
        http.request(
            method, server.url + path, json=body, headers={"Authorization": f"Bearer {ORGANIZER}"}
        ) as resp,
    ):
        assert resp.status < 300, await resp.text()
        return await resp.json()


def renamed(ev: e.Event, class_id: str, shift: int) -> e.Event:
    """The benchmark's scripted class with names and questions for the page, moved to recently."""
    ev = msgspec.structs.replace(ev, ts=ev.ts + shift)
    match ev:
        case e.ClassCreated():
            return msgspec.structs.replace(
                ev, class_id=class_id, title="Physics 201: Optics", created_by="rivera"
            )
        case e.ParticipantJoined() if ev.user_id.startswith("p"):
            return msgspec.structs.replace(ev, name=NAMES[int(ev.user_id[1:]) % len(NAMES)])
        case e.ParticipantJoined():
            return msgspec.structs.replace(ev, name="Ms Rivera")
        case e.PollCreated() | e.PollOpened():
            number = int(ev.question.split()[1].rstrip("?")) - 1
            return msgspec.structs.replace(ev, question=QUESTIONS[number % len(QUESTIONS)])
    return ev


async def past_class(server: Server) -> str:
    """A 50-minute class of 30 that ended an hour ago, written into the journal."""
    events, _ = make_class(len(NAMES), 50)
    class_id = "optics-201"
    shift = int(time.time() * 1000) - 3600_000 - events[-1].ts
    records = [(ev.seq, e.encode(renamed(ev, class_id, shift))) for ev in events]
    await server.app[REGISTRY].journal.append(class_id, records)
    return class_id


async def console(env: BrowserEnv, live: str) -> None:
    """The organizer's console: their classes, then the report of last lesson."""
    server = env.server
    for title, starts in [("Physics 201: Lenses", "09:30"), ("Physics 201: Waves", "14:00")]:
        day = time.strftime("%Y-%m-%d", time.localtime(time.time() + 7 * 86400))
        spec = {"title": title, "starts_at": f"{day}T{starts}", "time_zone": "Europe/Paris"}
        await api(server, "POST", "/api/classes", spec | {"capacity": 40})
    past = await past_class(server)
    person = await env.open(f"{server.url}/console", *WIDE)
    await person.page.fill("#credential", ORGANIZER)
    await person.page.click("#sign-in button[type=submit]")
    await person.page.locator(f'#classes-live [data-key="{live}"]').wait_for()
    await person.page.locator(f'#classes-ended [data-key="{past}"]').wait_for()
    await person.page.locator("#new-class-box summary").click()  # folded away
    await person.page.screenshot(path=str(OUT / "console.png"))
    await person.page.locator(f'#classes-ended [data-key="{past}"] .report-open').click()
    await person.page.wait_for_function(
        "() => window.Chart.getChart(document.getElementById('chart-people')) !== undefined"
    )
    await person.page.set_viewport_size({"width": WIDE[0], "height": 1400})
    await person.page.screenshot(path=str(OUT / "console-report.png"))


async def watched_recording(server: Server, class_id: str) -> str:
    """A published recording of the class, watched by 120 learners with names."""
    audience = make_stream(120, 50)
    recording_id = "optics-201-recording"
    recorded = [
        dataclasses.replace(p, question=question, options=options)
        for p, (question, options) in zip(audience.recorded, RECORDED, strict=True)
    ]
    folder = server.settings.data_dir / "recordings" / recording_id
    (folder / "package").mkdir(parents=True)
    when = int(time.time() * 1000) - 7 * 86400_000
    meta = {"id": recording_id, "class_id": class_id, "state": "published"}
    meta |= {"visibility": "learners", "started_at": when, "stopped_at": when + 3000_000}
    (folder / "recording.json").write_bytes(msgspec.json.encode(meta))
    manifest = {"id": recording_id, "title": "Physics 201: Optics", "tracks": []}
    manifest["duration_ms"] = audience.duration
    (folder / "package" / "manifest.json").write_bytes(msgspec.json.encode(manifest))
    (folder / "replay-polls.json").write_bytes(encode_polls(recorded))

    def named(ev: e.Event) -> e.Event:
        if isinstance(ev, r.ViewerVisited):
            name = "Ms Rivera" if ev.role == "host" else NAMES[int(ev.user_id[1:]) % len(NAMES)]
            return msgspec.structs.replace(ev, name=name)
        return ev

    records = [(ev.seq, r.encode(named(ev))) for ev in audience.history]
    await server.app[REPLAYS].journal.append(recording_id, records)
    return recording_id


async def recording_report(env: BrowserEnv, class_id: str) -> None:
    """The report of the class's recording, as its organizer opens it in the console."""
    recording_id = await watched_recording(env.server, class_id)
    person = await env.open(f"{env.server.url}/console", *WIDE)
    await person.page.fill("#credential", ORGANIZER)
    await person.page.click("#sign-in button[type=submit]")
    await person.page.click("#tab-recordings")
    card = person.page.locator(f'#recordings [data-key="{recording_id}"]')
    await card.locator(".report-open:not([hidden])").click()
    await person.page.wait_for_function(
        "() => window.Chart.getChart(document.getElementById('chart-cohorts')) !== undefined"
    )
    await person.page.set_viewport_size({"width": WIDE[0], "height": 1400})
    await person.page.screenshot(path=str(OUT / "console-recording-report.png"))


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
                cid = (await api(server, "POST", "/api/classes", {"title": "Astronomy 101"}))["id"]
                _, recording_id = await live_class(env, cid)
                lecture = await api(server, "POST", "/api/classes", {"title": "Planets"})
                await slides(env, lecture["id"])
                await replay(env, recording_id)
                await take_part(env, recording_id)
                await console(env, cid)
                await recording_report(env, "optics-201")
                await env.close_people()
                await browser.close()
        finally:
            await server.stop()


OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "docs")

if __name__ == "__main__":
    asyncio.run(main())
