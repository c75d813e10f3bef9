"""The console in a real browser: an organizer signs in, schedules a class, makes roster
links and downloads them; the class takes place; the organizer ends it, reads its report
with its charts drawn, exports it, and publishes its recording with a trim chosen on the
preview. The admin sees the webhook log. Every page keeps to the CSP (the `env` fixture)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from signaling.auth import mint_organizer
from tests.browser import BrowserEnv, Person, browser_env, env, reported  # noqa: F401  (fixtures)
from tests.conftest import ADMIN, SECRET
from tests.peer import Peer
from tests.rtc_peer import Pattern, RtcClient, Tone
from tests.test_recording import published
from tests.webhook_receiver import SECRET as WEBHOOK_SECRET

pytestmark = pytest.mark.asyncio(loop_scope="module")
NOWHERE = "http://127.0.0.1:9/hooks"
"""A webhook endpoint that refuses connections: its messages wait to be retried."""
SERVER_OPTIONS = {
    "captions": False,
    "webhook_urls": (NOWHERE,),
    "webhook_secret": WEBHOOK_SECRET,
    "webhook_retry_delays_s": (3600.0,),
}

ANA = mint_organizer(SECRET, "ana", "Ana Souza")
ROSTER = """name,email
Li Wei,Li.Wei@Example.org
Sam Lee,s-2041
=HYPERLINK("http://evil.example"),mallory@example.org
"""
CHARTS = ["chart-presence", "chart-activity", "chart-people"]
INKED = """(id) => {
    const canvas = document.getElementById(id);
    if (!window.Chart.getChart(canvas) || canvas.width === 0) return 0;
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    let inked = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) inked += 1;
    return inked;
}"""


async def sign_in(where: BrowserEnv, credential: str, **size: Any) -> Person:
    person = await where.open(f"{where.server.url}/console", **size)
    await person.page.wait_for_selector("#sign-in:not([hidden])")
    await person.page.fill("#credential", credential)
    await person.page.click("#sign-in button[type=submit]")
    await person.page.wait_for_selector("#console:not([hidden])")
    return person


async def card(person: Person, state: str, title: str) -> Any:
    found = person.page.locator(f"#classes-{state} li", has_text=title)
    await found.wait_for()
    return found


async def downloaded(person: Person, button: str) -> tuple[str, str]:
    async with person.page.expect_download() as event:
        await person.page.click(button)
    download = await event.value
    path = Path(await download.path())
    return download.suggested_filename, await asyncio.to_thread(path.read_text, "utf-8")


async def schedule(person: Person) -> str:
    page = person.page
    await page.fill("#class-title", "Astronomy 101")
    await page.fill("#class-start", "2031-03-10T09:30")
    await page.select_option("#class-zone", "Europe/Paris")
    await page.fill("#class-capacity", "30")
    await page.click("#new-class button[type=submit]")
    upcoming = await card(person, "upcoming", "Astronomy 101")
    await upcoming.locator(".meta", has_text="(Europe/Paris)").wait_for()
    assert "Mar 10, 2031, 9:30" in await upcoming.locator(".meta").inner_text()
    key = await upcoming.get_attribute("data-key")
    assert key is not None
    return key


async def roster_links(person: Person, cid: str) -> list[list[str]]:
    """Personal links for the roster, shown and then downloaded as CSV."""
    page = person.page
    await (await card(person, "upcoming", "Astronomy 101")).locator(".roster-open").click()
    await page.fill("#roster-text", ROSTER)
    await page.click("#roster-make")
    await page.wait_for_selector("#roster-links tbody tr:nth-child(3)")
    shown = await page.locator("#roster-links tbody td:nth-child(2)").all_inner_texts()
    assert shown == ["li.wei@example.org", "s-2041", "mallory@example.org"]
    name, text = await downloaded(person, "#roster-download")
    assert name == "links-astronomy-101.csv"
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["name", "user_id", "link"]
    assert [r[0] for r in rows[1:]] == ["Li Wei", "Sam Lee", '\'=HYPERLINK("http://evil.example")']
    assert all(f"/c/{cid}#token=" in r[2] for r in rows[1:])
    return rows[1:]


async def take_place(where: BrowserEnv, cid: str, rows: list[list[str]]) -> tuple[Peer, str]:
    """The class, by Socket.IO: the host records, learners from their roster links act."""
    server = where.server
    host = await server.join(cid, "teacher", "host", name="Ms Rivera")
    li, sam = (server.peer(row[2].split("#token=", 1)[1]) for row in rows[:2])
    await li.connect()
    await sam.connect()
    media = RtcClient(host)
    watcher = RtcClient(li, tap=True)
    assert (await media.publish(Pattern(), Tone()))["ok"]
    tracks = await li.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 2)
    video = next(t["track_id"] for t in tracks["tracks"] if t["kind"] == "video")
    rid = (await host.call("recording:start"))["recording_id"]
    await watcher.frames_of(video, 30)
    for peer, text in ((li, "Good morning"), (sam, "Hello"), (li, "Is this recorded?")):
        assert (await peer.call("chat:send", {"text": text}))["ok"]
    assert (await sam.call("reaction:send", {"emoji": "👍"}))["ok"]
    poll = {"question": "Which planet has the most moons?", "kind": "single"}
    made = await host.call("poll:create", poll | {"options": ["Jupiter", "Saturn"], "correct": [1]})
    assert (await host.call("poll:open", {"poll_id": made["poll_id"]}))["ok"]
    assert (await li.call("poll:vote", {"poll_id": made["poll_id"], "answer": [1]}))["ok"]
    assert (await sam.call("poll:vote", {"poll_id": made["poll_id"], "answer": [0]}))["ok"]
    assert (await host.call("poll:close", {"poll_id": made["poll_id"]}))["ok"]
    await watcher.frames_of(video, 90)
    await sam.close()
    await host.wait_for("participant:left", lambda d: d["user_id"] == "s-2041")
    return host, rid


async def tried(where: BrowserEnv, kind: str) -> None:
    """Wait until a message of this kind has had its first try (bounded)."""
    async with asyncio.timeout(15):
        while True:
            _, log = await where.server.http("GET", "/api/webhooks/deliveries")
            ours = [m for m in log["messages"] if m["type"] == kind]
            tries = [d["tries"] for m in ours for d in m["deliveries"]]
            if tries and min(tries) > 0:
                return
            await asyncio.sleep(0.1)


async def charts_drawn(person: Person) -> None:
    for chart in CHARTS:
        await person.page.wait_for_function(f"() => ({INKED})('{chart}') > 500")


@reported
async def test_an_organizer_schedules_a_class_and_later_reads_its_report(env: BrowserEnv) -> None:  # noqa: F811
    ana = await sign_in(env, ANA, width=1400, height=1000)
    page = ana.page
    assert await page.inner_text("#who") == "Ana Souza (organizer)"
    assert await page.is_hidden("#tab-webhooks")
    assert await page.evaluate("() => sessionStorage.getItem('console-credential')") == ANA
    assert "token" not in page.url and ANA not in page.url
    cid = await schedule(ana)
    _, body = await env.server.http("GET", "/api/classes")
    about = next(c for c in body["classes"] if c["id"] == cid)
    paris = int(datetime(2031, 3, 10, 8, 30, tzinfo=UTC).timestamp() * 1000)
    assert (about["scheduled_at"], about["time_zone"]) == (paris, "Europe/Paris")
    assert about["capacity"] == 30
    assert about["created_by"] == "ana"
    rows = await roster_links(ana, cid)
    upcoming = await card(ana, "upcoming", "Astronomy 101")
    await upcoming.locator(".host-link").click()
    await upcoming.locator(".link-out:not([hidden])").wait_for()
    host_link = await upcoming.locator(".link-out").input_value()
    assert f"/c/{cid}#token=" in host_link

    # Later: the class takes place, and the organizer ends it from the console.
    host, rid = await take_place(env, cid, rows)
    await page.reload()
    await page.wait_for_selector("#console:not([hidden])")  # still signed in, in this tab
    live = await card(ana, "live", "Astronomy 101")
    await live.locator(".meta", has_text="2 present").wait_for()
    await live.locator(".end").click()
    await live.locator(".end", has_text="Confirm").click()
    await host.wait_for("class:ended")
    ended = await card(ana, "ended", "Astronomy 101")
    await ended.locator(".meta", has_text="3 came").wait_for()

    # The report, with its charts drawn.
    await ended.locator(".report-open").click()
    await page.wait_for_selector("#report:not([hidden])")
    await ana.wait_text("#report-summary", "3 people came")
    await charts_drawn(ana)
    await ana.wait_text("#report-polls", "Which planet has the most moons?")
    await ana.wait_text("#report-polls", "2 answered, 1 right")
    names = await page.locator("#attendance tbody th").all_inner_texts()
    assert names == ["Ms Rivera", "Li Wei", "Sam Lee"]
    label = await page.get_attribute("#chart-activity", "aria-label")
    assert label == "3 chat messages and 1 reaction over the class."
    name, text = await downloaded(ana, "#export-attendance")
    assert name == "astronomy-101-attendance.csv" and text.startswith("user_id,name,role")
    assert "li.wei@example.org,Li Wei,participant" in text
    name, text = await downloaded(ana, "#export-xapi")
    assert name == "astronomy-101-xapi.json" and '"statements"' in text
    await publish_with_a_trim(env, ana, rid)


async def publish_with_a_trim(where: BrowserEnv, ana: Person, rid: str) -> None:
    """The recording: a preview of the package, a trim chosen on it, a share link."""
    page = ana.page
    await published(where.server.url, rid)
    await page.click("#tab-recordings")
    recording = page.locator("#recordings li", has_text="Astronomy 101")
    await recording.locator(".state", has_text="published").wait_for()
    await recording.locator(".publish-open").click()
    await page.wait_for_selector("#preview:not([hidden])")
    await page.wait_for_function("() => document.getElementById('preview').readyState >= 1")
    await page.evaluate("() => { document.getElementById('preview').currentTime = 1; }")
    await page.wait_for_function("() => document.getElementById('preview').currentTime >= 1")
    await page.click("#trim-start")
    assert await page.inner_text("#trim-from") == "0:01"
    await page.select_option("#publish-visibility", "link")
    await page.check("#publish-pseudonyms")
    await page.click("#publish-form button[type=submit]")
    await recording.locator(".visibility", has_text="share link").wait_for()
    status = await published(where.server.url, rid)
    assert status["visibility"] == "link"
    assert status["options"]["pseudonyms"] is True
    assert 1000 <= status["options"]["trim_start_ms"] < 1100
    assert status["options"]["trim_end_ms"] is None
    await recording.locator(".share").click()
    await recording.locator(".link-out:not([hidden])").wait_for()
    share = await recording.locator(".link-out").input_value()
    assert f"/replay/{rid}#invite=" in share


@reported
async def test_a_bad_credential_is_refused_and_the_admin_sees_all(env: BrowserEnv) -> None:  # noqa: F811
    person = await env.open(f"{env.server.url}/console")
    await person.page.fill("#credential", "not the key")
    await person.page.click("#sign-in button[type=submit]")
    await person.wait_text("#status", "neither the admin key nor a valid organizer token")
    assert await person.page.evaluate("() => sessionStorage.getItem('console-credential')") is None
    other = await env.server.create_class("Admin's own class")
    await env.server.join(other, "teacher", "host")  # class.started, for the webhook log
    await tried(env, "class.started")
    ben = await sign_in(env, mint_organizer(SECRET, "ben", "Ben"))
    for state in ("live", "upcoming", "ended"):  # Ana's classes and the admin's are not his
        assert await ben.page.is_visible(f"#empty-{state}")
    assert await ben.page.locator(f'#panel-classes [data-key="{other}"]').count() == 0
    admin = await sign_in(env, ADMIN)
    await card(admin, "live", "Admin's own class")
    assert await admin.page.inner_text("#who") == "Admin"
    await admin.page.click("#tab-webhooks")
    await admin.wait_text("#webhooks-endpoints", f"Posting to {NOWHERE}.")
    started = admin.page.locator("#webhooks tbody tr", has_text="class.started").first
    await started.wait_for()
    assert await started.locator(".tag").inner_text() == "retrying"
    assert NOWHERE in await started.inner_text()
    await admin.page.click("#sign-out")
    await admin.page.wait_for_selector("#sign-in:not([hidden])")
    assert await admin.page.evaluate("() => sessionStorage.getItem('console-credential')") is None


@reported
async def test_an_organizer_link_signs_in_and_leaves_the_address_bar(env: BrowserEnv) -> None:  # noqa: F811
    person = await env.open(f"{env.server.url}/console#token={ANA}")
    await person.page.wait_for_selector("#console:not([hidden])")
    assert person.page.url.endswith("/console")
    assert await person.page.inner_text("#who") == "Ana Souza (organizer)"
