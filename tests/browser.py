"""Playwright helpers: Debian's Chromium with fake camera and microphone, one per test module.

Each test module gets one browser and one server (`browser_env`); each person
in a test is a browser context of their own (`env.open(...)`), so cookies,
storage and media devices are separate, as on separate machines. Every page's
console and errors are kept, so tests can assert that the Content Security
Policy held and no script failed.
"""

from __future__ import annotations

import asyncio
import functools
import math
import re
import struct
import wave
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    async_playwright,
)

from media.downlink import LocalDownlink
from media.node import MediaNode
from media.sfu import Sfu
from media.workers import RemoteDownlink
from tests.conftest import Server, settings_for
from tests.peer import WAIT_S
from web.keys import MEDIA

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
WAIT_MS = 15_000
VIDEO_WAIT_MS = 30_000
CSP_VIOLATION = re.compile(r"Content Security Policy|Refused to (execute|load|apply)", re.I)

INBOUND_VIDEO_FRAMES = """async () => {
    const out = [];
    for (const pc of window.__classroom?.pcs ?? []) {
        (await pc.getStats()).forEach((r) => {
            if (r.type === "inbound-rtp" && r.kind === "video") out.push(r.framesDecoded ?? 0);
        });
    }
    return out;
}"""
"""framesDecoded of every inbound video stream of the page (its `sub` connection, or mesh peers)."""

STATS_PROBE = f"""() => {{
    window.__frames = [];
    if (window.__probe) return;
    const frames = {INBOUND_VIDEO_FRAMES};
    window.__probe = setInterval(async () => {{ window.__frames = await frames(); }}, 200);
}}"""

PAGE_REPORT = """() => {
    const c = window.__classroom;
    const media = c?.media;
    const text = (id) => document.getElementById(id)?.textContent;
    const pcState = (pc) => `${pc.signalingState}/${pc.connectionState}`;
    return JSON.stringify({
        url: location.pathname, status: text("status"),
        shown: ["name-form", "prejoin", "class", "banner"].filter((id) => {
            const el = document.getElementById(id);
            return el && !el.hidden;
        }),
        banner: document.getElementById("banner")?.hidden ? null : text("banner-text"),
        user: c?.state.you?.user_id, room: c?.state.you?.room, seq: c?.state.seq,
        tracks: c ? [...c.state.tracks.values()].map((t) => `${t.user_id}:${t.source}`) : null,
        offers: media?.offers, published: media?.published, mids: media?.mids,
        pcs: c ? [c.pub, ...c.pcs].filter(Boolean).map(pcState) : null,
        frames: window.__frames ?? null,
        view: media?._view?.sent ?? null, speaker: c?.state.speaker ?? null, height: innerHeight,
        tiles: [...document.querySelectorAll(".tile")].map((el) => {
            const box = el.getBoundingClientRect();
            const span = `${Math.round(box.top)}-${Math.round(box.bottom)}`;
            return `${el.dataset.user}:${el.dataset.source}@${el.parentElement?.id}:${span}`;
        }),
    });
}"""

HAS_TEXT = """([sel, text]) => [...document.querySelectorAll(sel)]
    .some((el) => el.textContent.includes(text))"""


@dataclass
class Person:
    """One browser context and its page, with everything its console said."""

    context: BrowserContext
    page: Page
    console: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [line for line in self.console if CSP_VIOLATION.search(line)]

    async def tab(self, name: str) -> None:
        await self.page.click(f"#tab-{name}")

    async def wait_text(self, selector: str, text: str) -> None:
        """Wait until an element matching `selector` contains `text`."""
        await self.page.wait_for_function(HAS_TEXT, arg=[selector, text])

    async def frames_decoded(self) -> list[int]:
        frames: list[int] = await self.page.evaluate(INBOUND_VIDEO_FRAMES)
        return frames

    async def wait_videos(self, count: int) -> None:
        """Wait until at least `count` inbound videos have decoded frames.

        getStats is asynchronous and a wait_for_function predicate must not be
        (a promise is truthy): a probe in the page keeps the latest figures.
        """
        await self.page.evaluate(STATS_PROBE)
        await self.page.wait_for_function(
            "(n) => (window.__frames ?? []).filter((f) => f > 0).length >= n",
            arg=count,
            timeout=VIDEO_WAIT_MS,
        )

    async def close(self) -> None:
        await self.context.close()


@dataclass
class BrowserEnv:
    server: Server
    browser: Browser
    people: list[Person] = field(default_factory=list)

    async def open(self, url: str, width: int = 1280, height: int = 800) -> Person:
        context = await self.browser.new_context(
            viewport={"width": width, "height": height},
            permissions=["camera", "microphone"],
        )
        page = await context.new_page()
        page.set_default_timeout(WAIT_MS)
        person = Person(context, page)
        page.on("console", lambda msg: _keep(person, msg))
        page.on("pageerror", lambda exc: person.errors.append(str(exc)))
        self.people.append(person)
        await page.goto(url)
        return person

    def link(self, class_id: str, user: str, role: str = "participant", name: str = "") -> str:
        token = self.server.token(class_id, user, role, name=name or user.title())
        return f"{self.server.url}/c/{class_id}#token={token}&test=1"

    async def join(
        self, class_id: str, user: str, role: str = "participant", name: str = "", **options: Any
    ) -> Person:
        """Open the class page as `user`, pass the device check and wait to be in."""
        person = await self.open(self.link(class_id, user, role, name), **options)
        await person.page.wait_for_selector("#join:not([hidden])")
        await person.page.click("#join")
        await person.page.wait_for_selector("#class:not([hidden])")
        return person

    async def join_refused(self, url: str) -> Person:
        """Open a class link and pass the device check, expecting to be refused (no wait)."""
        person = await self.open(url)
        await person.page.wait_for_selector("#join:not([hidden])")
        await person.page.click("#join")
        return person

    async def report(self) -> str:
        """What each page shows and its media state, and the server's side of each
        participant's media, for the log of a failed test."""
        lines = []
        for i, person in enumerate(self.people):
            try:
                state = await person.page.evaluate(PAGE_REPORT)
            except Exception as exc:
                state = f"(page not readable: {exc})"
            lines.append(f"person {i} {person.page.url[:60]}: {state}")
            lines.extend(f"  console: {line}" for line in person.console[-10:])
            lines.extend(f"  error: {line}" for line in person.errors)
        node: MediaNode | None = self.server.app.get(MEDIA)
        for class_id, sfu in (node.sfus if node is not None else {}).items():
            lines.extend(f"{class_id} {user}: {negotiation(sfu, user)}" for user in sfu.people)
        return "\n".join(lines)

    async def close_people(self) -> None:
        for person in self.people:
            await person.close()
        self.people.clear()


def sfu_of(where: BrowserEnv, cid: str) -> Sfu:
    node: MediaNode = where.server.app[MEDIA]
    return node.sfus[cid]


def forwarded(sfu: Sfu, user: str) -> dict[str, str]:
    """The video the server sends `user` now: publisher -> layer."""
    p = sfu.people[user]
    out: dict[str, str] = {}
    for binding in p.slots:
        feed = binding.feed
        if feed is not None and feed.kind == "video":
            out[feed.user_id] = feed.layer
    return out


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait for the server's state, looking again every tenth of a second (bounded)."""
    for _ in range(round(WAIT_S / 0.1)):
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"never: {what}")


def negotiation(sfu: Sfu, user: str) -> str:
    """The server's side of `user`'s media: what they show, and their sub negotiation."""
    p = sfu.people[user]
    sub = p.sub
    if isinstance(sub, LocalDownlink):
        state = sub.pc.signalingState
    elif isinstance(sub, RemoteDownlink):
        state = f"worker {sub.worker.index}.{sub.generation} stable={sub.stable}"
    else:
        state = repr(sub)
    return (
        f"view={p.view} audio_only={p.audio_only} bound={p.bound} offers={p.offers} "
        f"offered={p.offered} layout={p.layout()} dirty={p.dirty} syncing={p.sync_running()} "
        f"sub={state} mids={p.sub_mids}"
    )


Test = Callable[[BrowserEnv], Awaitable[None]]


def reported(test: Test) -> Test:
    """On failure, print what every page of the test showed (pytest shows it with the error)."""

    @functools.wraps(test)
    async def run(env: BrowserEnv) -> None:
        try:
            await test(env)
        except BaseException:
            print(await env.report())
            raise

    return run


def write_voice(path: Path, seconds: float = 2.0, rate: int = 48_000) -> Path:
    """A speech-like microphone: 200 ms "words" of a 220 Hz voice with harmonics, 120 ms apart.

    Chromium's own fake microphone beeps for 20 ms twice a second, which the
    speaker detector rightly takes for a click, not for someone speaking.
    """
    samples = bytearray()
    for i in range(int(seconds * rate)):
        t = i / rate
        word = t % 0.32 < 0.2
        tone = sum(math.sin(2 * math.pi * 220 * k * t) / k for k in (1, 2, 3))
        samples += struct.pack("<h", int(8000 * tone) if word else 0)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(samples))
    return path


def _keep(person: Person, msg: ConsoleMessage) -> None:
    person.console.append(f"{msg.type}: {msg.text}")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BrowserEnv]:
    """`SERVER_OPTIONS` of the test module, if any, are more settings of its server."""
    data: Path = tmp_path_factory.mktemp("browser")
    voice = write_voice(data / "voice.wav")
    options = getattr(request.module, "SERVER_OPTIONS", {})
    server = Server(
        settings_for(data, media_host=("127.0.0.1",), media_allow_private=True, **options)
    )
    await server.start()
    async with async_playwright() as pw:
        args = [*CHROMIUM_ARGS, f"--use-file-for-fake-audio-capture={voice}"]
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=args)
        env = BrowserEnv(server, browser)
        try:
            yield env
        finally:
            await env.close_people()
            await browser.close()
            await server.stop()


@pytest_asyncio.fixture(loop_scope="module")
async def env(browser_env: BrowserEnv) -> AsyncIterator[BrowserEnv]:
    """The module's browser and server; each test's browser contexts are closed after it.

    Every page of every test must have kept to the Content Security Policy and
    run without an uncaught error.
    """
    yield browser_env
    troubles = [
        f"{person.page.url[:60]}: {line}"
        for person in browser_env.people
        for line in person.csp_violations() + person.errors
    ]
    await browser_env.close_people()
    assert troubles == [], "\n".join(troubles)
