"""Slides and the whiteboard in real browsers: a host uploads a deck, turns to page 2 and
draws; a learner sees page and ink live, a late joiner in their snapshot; in breakout
rooms each room's board is its own. Checked on the pixels of the page and its canvas."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from tests import pdfs
from tests.browser import (  # noqa: F401  (fixtures)
    BrowserEnv,
    Person,
    browser_env,
    env,
    forwarded,
    reported,
    sfu_of,
    until,
)
from tests.conftest import ADMIN

pytestmark = pytest.mark.asyncio(loop_scope="module")

TITLES = ["Limits", "Derivatives", "Integrals"]
RED_INK = (0xD0, 0x20, 0x20)
RENDER_MS = 120_000
PAGE_2 = tuple(round(c * 255) for c in pdfs.COLORS[1])
"""Page 2 of the deck is filled green."""

PIXEL = """([selector, fx, fy]) => {
    const el = document.querySelector(selector);
    let canvas = el;
    if (el.tagName === "IMG") {
        if (!el.complete || !el.naturalWidth) return null;
        canvas = document.createElement("canvas");
        canvas.width = el.naturalWidth;
        canvas.height = el.naturalHeight;
        canvas.getContext("2d").drawImage(el, 0, 0);
    }
    const x = Math.round(fx * (canvas.width - 1)), y = Math.round(fy * (canvas.height - 1));
    return [...canvas.getContext("2d").getImageData(x, y, 1, 1).data];
}"""


async def rendered(host: Person) -> None:
    """Wait for the uploaded deck to be rendered (a worker process: slow on a busy machine)."""
    await host.page.wait_for_function(
        "() => document.getElementById('slides-progress').textContent.includes('pages ready')",
        timeout=RENDER_MS,
    )


async def showing(person: Person, page: int) -> None:
    """Wait until the person's board shows the deck's page `page`, loaded and sized: the
    page's box changes size when it replaces the blank board, so ink is drawn after."""
    await person.page.wait_for_function(
        """(page) => {
            const sheet = document.getElementById("sheet");
            const img = sheet.querySelector("img");
            return new RegExp(`^[^:]+:${page}$`).test(sheet.dataset.page ?? "")
                && !img.hidden && img.complete && img.naturalWidth > 0;
        }""",
        arg=page,
    )


def near(pixel: list[int] | None, rgb: tuple[int, ...], tolerance: int = 40) -> bool:
    return pixel is not None and all(
        abs(a - b) <= tolerance for a, b in zip(pixel, rgb, strict=False)
    )


async def pixel(person: Person, selector: str, fx: float, fy: float) -> list[int] | None:
    found: list[int] | None = await person.page.evaluate(PIXEL, [selector, fx, fy])
    return found


async def wait_pixel(
    person: Person, selector: str, fx: float, fy: float, rgb: tuple[int, ...]
) -> None:
    """Wait until the pixel at (fx, fy) of the element (a fraction of its size) is `rgb`."""
    await person.page.wait_for_function(
        f"""([selector, fx, fy, rgb]) => {{
            const found = ({PIXEL})([selector, fx, fy]);
            return found !== null && rgb.every((c, i) => Math.abs(c - found[i]) <= 40);
        }}""",
        arg=[selector, fx, fy, list(rgb)],
    )


async def stroke(person: Person, y: float, x0: float = 0.2, x1: float = 0.8) -> None:
    """Draw a horizontal line across the board with the mouse, at height `y` (a fraction).
    Each point is placed on the board where it is then (a status line may wrap meanwhile)."""

    async def to(x: float) -> None:
        box = await person.page.locator("#ink").bounding_box()
        assert box is not None
        await person.page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])

    await to(x0)
    await person.page.mouse.down()
    for i in range(1, 21):
        await to(x0 + (x1 - x0) * i / 20)
        await asyncio.sleep(0.01)
    await person.page.mouse.up()


INK_COUNT = (
    "() => [...window.__classroom.state.slides.pages.values()].reduce((n, p) => n + p.size, 0)"
)


async def ink_count(person: Person) -> int:
    count: int = await person.page.evaluate(INK_COUNT)
    return count


async def strokes_done(person: Person, count: int) -> None:
    """Wait until the board holds `count` strokes, each echoed whole: a stroke's last batch
    is still on its way when the mouse button comes up."""
    await person.page.wait_for_function(
        """(count) => {
            const pages = [...window.__classroom.state.slides.pages.values()];
            const strokes = pages.flatMap((page) => [...page.values()]);
            return strokes.length === count && strokes.every((stroke) => stroke.done);
        }""",
        arg=count,
    )


@reported
async def test_a_deck_and_its_ink_live_and_for_a_late_joiner(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Calculus")
    host, ana = await asyncio.gather(
        env.join(cid, "teacher", "host", "Ms Rivera"), env.join(cid, "ana", name="Ana Souza")
    )
    assert await ana.page.locator("#board").is_hidden()  # nothing shown yet
    await host.page.set_input_files(
        "#slides-file",
        files=[
            {"name": "calculus.pdf", "mimeType": "application/pdf", "buffer": pdfs.deck(TITLES)}
        ],
    )
    await rendered(host)
    await ana.page.wait_for_selector("#board:not([hidden])")
    await ana.wait_text("#slides-page", "Page 1")
    await host.page.click("#slides-next")
    await ana.wait_text("#slides-page", "Page 2")
    await wait_pixel(ana, "#sheet img", 0.5, 0.9, PAGE_2)
    await showing(host, 2)

    await host.page.select_option("#board-width", "100")
    await stroke(host, 0.5)
    await strokes_done(host, 1)
    await wait_pixel(ana, "#ink", 0.5, 0.5, RED_INK)
    assert not near(await pixel(ana, "#ink", 0.5, 0.2), RED_INK)  # only where it was drawn
    # One stroke, its points thinned to at most one per mouse move.
    assert await ink_count(ana) == 1
    points = await ana.page.evaluate(
        "() => [...window.__classroom.state.slides.pages.values()][0].values().next().value.points"
    )
    assert 4 <= len(points) <= 2 * 22  # the start and 21 moves

    ben = await env.join(cid, "ben", name="Ben Okafor")
    await ben.wait_text("#slides-page", "Page 2")
    await wait_pixel(ben, "#sheet img", 0.5, 0.9, PAGE_2)
    await wait_pixel(ben, "#ink", 0.5, 0.5, RED_INK)
    assert await ben.page.locator("#board-tools").is_hidden()  # learners do not draw yet

    # Undo takes the stroke off everyone's board.
    await host.page.click("#board-undo")
    for learner in (ana, ben):
        await learner.page.wait_for_function(f"() => ({INK_COUNT})() === 0")
    assert not near(await pixel(ana, "#ink", 0.5, 0.5), RED_INK)


@reported
async def test_each_breakout_room_draws_on_its_own_board(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Geometry")
    host, ana, ben = await asyncio.gather(
        env.join(cid, "teacher", "host", "Ms Rivera"),
        env.join(cid, "ana", name="Ana Souza"),
        env.join(cid, "ben", name="Ben Okafor"),
    )
    await host.page.check("#board-everyone")
    for learner in (ana, ben):
        await learner.page.wait_for_selector("#board-tools:not([hidden])")
    opened = await host.page.evaluate(
        """() => window.__classroom.conn.send("breakout:open",
            {count: 2, assignment: "manual", assignments: {ana: 0, ben: 1}})"""
    )
    assert opened["ok"], opened
    for learner in (ana, ben):
        await learner.wait_text("#bar-room", "You are in")
        await learner.page.wait_for_selector("#board-tools:not([hidden])")
    await stroke(ana, 0.3)
    await stroke(ben, 0.7)
    await wait_pixel(ana, "#ink", 0.5, 0.3, RED_INK)
    await wait_pixel(ben, "#ink", 0.5, 0.7, RED_INK)
    assert not near(await pixel(ana, "#ink", 0.5, 0.7), RED_INK)
    assert not near(await pixel(ben, "#ink", 0.5, 0.3), RED_INK)
    # The main room's board stayed blank.
    assert await ink_count(host) == 0
    assert not near(await pixel(host, "#ink", 0.5, 0.3), RED_INK)


PUBLISHING_MS = 120_000
PLAYHEAD = "document.getElementById('video').currentTime"


async def timeline_of(env: BrowserEnv, recording_id: str) -> list[dict[str, Any]]:  # noqa: F811
    """The published timeline's entries, read with the admin key."""
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with aiohttp.ClientSession() as http:
        async with http.get(
            f"{env.server.url}/api/recordings/{recording_id}", headers=headers
        ) as r:
            manifest = (await r.json())["manifest"]
        async with http.get(env.server.url + manifest["files"]["timeline.json"]) as r:
            events: list[dict[str, Any]] = (await r.json())["events"]
    return events


@reported
async def test_the_replay_shows_the_slide_and_its_ink_at_every_moment(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Analysis")
    host = await env.join(cid, "teacher", "host", "Ms Rivera")
    await host.page.set_input_files(
        "#slides-file",
        files=[
            {"name": "analysis.pdf", "mimeType": "application/pdf", "buffer": pdfs.deck(TITLES)}
        ],
    )
    await rendered(host)
    await showing(host, 1)
    await host.page.select_option("#board-width", "100")
    await stroke(host, 0.3)  # drawn before the recording: the replay starts with it
    await strokes_done(host, 1)
    await host.page.click("text=Start recording")
    await host.page.wait_for_selector("#rec-indicator:not([hidden])")
    await host.page.click("#slides-next")
    await host.wait_text("#slides-page", "Page 2")
    await showing(host, 2)
    await stroke(host, 0.5)
    await strokes_done(host, 2)
    await asyncio.sleep(2)  # two moments of the replay, apart
    await stroke(host, 0.7)
    await strokes_done(host, 3)
    await asyncio.sleep(1)
    await host.page.click("text=Stop recording")
    link = host.page.locator("#rec-link")
    await link.wait_for()
    href = str(await link.get_attribute("href"))
    recording_id = href.split("/replay/")[1].split("#")[0].split("?")[0]

    viewer = await env.open(env.server.url + href)
    page = viewer.page
    await page.wait_for_selector("#replay:not([hidden])", timeout=PUBLISHING_MS)
    await page.wait_for_function("() => document.getElementById('video').readyState >= 1")
    inked = [e for e in await timeline_of(env, recording_id) if e["name"] == "board:ink"]
    page_2 = [e["t"] for e in inked if e["data"]["page"] == 2]
    first, last = page_2[0], page_2[-1]
    assert [e["data"]["page"] for e in inked] == [2] * len(inked)  # page 1's ink is the start state
    # At the start: page 1 with the ink drawn before the recording.
    await page.evaluate(f"() => {{ {PLAYHEAD} = 0; }}")
    await wait_pixel(viewer, "#ink", 0.5, 0.3, RED_INK)
    await wait_pixel(viewer, "#sheet img", 0.5, 0.9, tuple(round(c * 255) for c in pdfs.COLORS[0]))
    # Between the two strokes on page 2: the first only.
    middle = (first + last) / 2000
    await page.evaluate(f"(t) => {{ {PLAYHEAD} = t; }}", middle)
    await wait_pixel(viewer, "#sheet img", 0.5, 0.9, PAGE_2)
    await wait_pixel(viewer, "#ink", 0.5, 0.5, RED_INK)
    assert not near(await pixel(viewer, "#ink", 0.5, 0.7), RED_INK)
    assert not near(await pixel(viewer, "#ink", 0.5, 0.3), RED_INK)  # page 1's ink stays there
    # At the end: both.
    end = await page.evaluate("document.getElementById('video').duration")
    await page.evaluate(f"(t) => {{ {PLAYHEAD} = t; }}", end)
    await wait_pixel(viewer, "#ink", 0.5, 0.7, RED_INK)
    await wait_pixel(viewer, "#ink", 0.5, 0.5, RED_INK)
    # Slide titles are chapters, and the slides' text is searched.
    await page.locator("#chapters button", has_text="Derivatives").wait_for()
    await page.fill("#search", "derivatives")
    await page.locator("#slide-results button", has_text="Derivatives").click()
    await page.wait_for_function(f"(t) => Math.abs({PLAYHEAD} * 1000 - t) < 1500", arg=page_2[0])


ON_SCREEN = """(selector) => {
    const box = document.querySelector(selector).getBoundingClientRect();
    return box.top >= 0 && box.bottom <= innerHeight;
}"""


@reported
async def test_a_page_shown_is_the_large_picture_and_the_cameras_a_strip_under_it(
    env: BrowserEnv,  # noqa: F811
) -> None:
    cid = await env.server.create_class("Optics")
    host, ana = await asyncio.gather(
        env.join(cid, "teacher", "host", "Ms Rivera"), env.join(cid, "ana", name="Ana Souza")
    )
    sfu = sfu_of(env, cid)
    await until(lambda: forwarded(sfu, "ana") == {"teacher": "high"}, "the teacher large")
    await host.page.click("#slides-next")  # the whiteboard's first page
    await ana.wait_text("#slides-page", "Blank page 1")
    # The teacher's camera goes small, under the page, as its low layer; all in view.
    await ana.page.wait_for_selector("#grid .tile[data-user='teacher']")
    assert await ana.page.locator("#spotlight .tile").count() == 0
    await until(lambda: forwarded(sfu, "ana") == {"teacher": "low"}, "the teacher small")
    for person in (ana, host):  # at 1280x800, the controls' last row too
        for selector in ("#sheet", "#grid", "#controls"):
            assert await person.page.evaluate(ON_SCREEN, selector), selector
    # Pinned, it is large again, over the strip.
    await ana.page.click("#grid .tile[data-user='teacher'] .pin")
    await until(lambda: forwarded(sfu, "ana") == {"teacher": "high"}, "the teacher pinned")
