"""The page receives only the video it shows: gallery pages, scrolled-out tiles, hidden tabs,
the camera's low layer for small tiles, audio only and its offer on a poor connection.

What the server forwards is read on the server (which feed each slot of the
page's `sub` connection is bound to) and in the page (the tracks its last
offer maps, and their inbound-rtp statistics). Publishers other than the page
are aiortc peers: a browser per tile would not fit a 2-core test machine.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from media.downlink import LocalDownlink
from media.encoded import Writer
from media.sfu import Sfu
from media.wire import SENT
from tests.browser import (  # noqa: F401  (fixtures)
    BrowserEnv,
    Person,
    browser_env,
    env,
    forwarded,
    negotiation,
    reported,
    sfu_of,
    until,
)
from tests.peer import WAIT_S
from tests.rtc_peer import Pattern, RtcClient

pytestmark = pytest.mark.asyncio(loop_scope="module")

INBOUND = """async () => {
    const c = window.__classroom;
    const out = {};
    for (const t of c.sub?.getTransceivers() ?? []) {
        const track = c.media.mids[t.mid];
        if (!track) continue;
        (await t.receiver.getStats()).forEach((r) => {
            if (r.type === "inbound-rtp" && r.kind === "video") {
                out[track] = { frames: r.framesDecoded ?? 0, width: r.frameWidth ?? 0 };
            }
        });
    }
    return out;
}"""
"""The page's received video: track id -> frames decoded and the latest frame's width."""

ON_SCREEN = """() => [...document.querySelectorAll("#spotlight .tile, #grid .tile")]
    .filter((el) => {
        const r = el.getBoundingClientRect();
        return r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth;
    })
    .map((el) => el.dataset.user)"""

HIDE = """(hidden) => {
    // Headless Chromium never hides a tab: report what a background tab reports.
    const hiddenState = { configurable: true, get: () => "hidden" };
    if (hidden) Object.defineProperty(document, "visibilityState", hiddenState);
    else delete document.visibilityState;
    document.dispatchEvent(new Event("visibilitychange"));
}"""


async def inbound(person: Person) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = await person.page.evaluate(INBOUND)
    return found


async def decoding(person: Person, track_ids: set[str]) -> None:
    """Wait until the page decodes video of exactly these tracks (and no other is mapped)."""
    for _ in range(round(WAIT_S / 0.2)):
        got = await inbound(person)
        if set(got) == track_ids and all(v["frames"] > 0 for v in got.values()):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the page decodes {await inbound(person)}, not {track_ids}")


async def publishers(where: BrowserEnv, cid: str, users: list[str]) -> dict[str, RtcClient]:
    out = {}
    for user in users:
        role = "host" if user == "teacher" else "participant"
        client = RtcClient(await where.server.join(cid, user, role))
        assert (await client.publish(Pattern(), sources=["camera"]))["ok"]
        out[user] = client
    return out


def cameras(sfu: Sfu) -> dict[str, str]:
    return {feed.user_id: track_id for track_id, feed in sfu.feeds.items() if feed.kind == "video"}


@reported
async def test_the_gallery_receives_its_page_and_what_is_on_screen(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Seminar")
    senders = await publishers(env, cid, ["teacher", "p0", "p1", "p2", "p3", "p4"])
    viewer = await env.join(cid, "viewer", name="Viewer", width=400, height=700)  # 4 tiles a page
    sfu = sfu_of(env, cid)
    await until(lambda: len(cameras(sfu)) == 7, "every camera published")
    ids = cameras(sfu)
    # Page 1: the teacher large, in full; P0 to P3 small (aiortc sends no low layer: in full).
    page_one = {"teacher", "p0", "p1", "p2", "p3"}
    await until(lambda: set(forwarded(sfu, "viewer")) == page_one, "page 1 forwarded")
    await decoding(viewer, {ids[u] for u in page_one})
    assert not await viewer.page.is_hidden("#pager")
    await viewer.page.click("#page-next")
    page_two = {"teacher", "p4"}  # and the viewer's own tile, which the server never sends
    await until(lambda: set(forwarded(sfu, "viewer")) == page_two, "page 2 forwarded")
    await decoding(viewer, {ids[u] for u in page_two})
    await viewer.page.click("#page-prev")
    await until(lambda: set(forwarded(sfu, "viewer")) == page_one, "page 1 again")
    # Scrolled: only the tiles still on screen are received.
    await viewer.page.evaluate("() => document.getElementById('grid').scrollIntoView()")
    await until(lambda: "teacher" not in forwarded(sfu, "viewer"), "the large tile paused")
    on_screen = set(await viewer.page.evaluate(ON_SCREEN))
    assert set(forwarded(sfu, "viewer")) == on_screen & page_one
    await viewer.page.evaluate("() => window.scrollTo(0, 0)")
    await until(lambda: set(forwarded(sfu, "viewer")) == page_one, "back in view")
    # A hidden tab receives no video at all; shown again, it does.
    await viewer.page.evaluate(HIDE, True)
    await until(lambda: forwarded(sfu, "viewer") == {}, "a hidden tab paused")
    await viewer.wait_text("#page-label", "Page 1 of 2")
    await viewer.page.evaluate(HIDE, False)
    await until(lambda: set(forwarded(sfu, "viewer")) == page_one, "shown again")
    await decoding(viewer, {ids[u] for u in page_one})
    for client in senders.values():
        await client.close()


@reported
async def test_small_tiles_get_the_low_layer_and_a_pinned_one_the_full(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Physics")
    teacher, ana = await asyncio.gather(
        env.join(cid, "teacher", "host", "Mr Okoye"), env.join(cid, "ana", name="Ana Lima")
    )
    await ana.page.click("#mic")  # quiet: the active speaker would be shown large
    sfu = sfu_of(env, cid)
    await until(
        lambda: "ana" in cameras(sfu) and cameras(sfu)["ana"] in sfu.lows, "ana's low layer"
    )
    camera = cameras(sfu)["ana"]
    # The teacher sees Ana in the gallery: her low layer, a quarter of the picture.
    await until(lambda: forwarded(sfu, "teacher") == {"ana": "low"}, "ana small")
    small = lambda v: v["frames"] > 0 and 0 < v["width"] <= 320  # noqa: E731
    await until_page(teacher, camera, small, lambda: negotiation(sfu, "teacher"))
    # And Ana sees the teacher large: in full.
    await until(lambda: forwarded(sfu, "ana") == {"teacher": "high"}, "the teacher large")
    await teacher.page.click("#grid .tile[data-user='ana'] .pin")
    await until(lambda: forwarded(sfu, "teacher") == {"ana": "high"}, "ana pinned large")
    await until_page(teacher, camera, lambda v: v["width"] > 320)
    await teacher.page.click("#spotlight .tile[data-user='ana'] .pin")
    await until(lambda: forwarded(sfu, "teacher") == {"ana": "low"}, "ana small again")


async def until_page(
    person: Person, track_id: str, condition: Any, server: Any = lambda: ""
) -> None:
    for _ in range(round(WAIT_S * 2 / 0.2)):
        got = (await inbound(person)).get(track_id)
        if got is not None and condition(got):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"the page's video of {track_id}: {await inbound(person)}; {server()}")


class Lossy:
    """Loses nine packets in ten on a slot's way out: a poor downlink, as a network makes it."""

    def __init__(self, wire: Writer) -> None:
        self.wire = wire
        self.count = 0

    def send(self, head: bytes, payload: bytes = b"") -> int:
        self.count += 1
        return self.wire.send(head, payload) if self.count % 10 == 0 else SENT


@reported
async def test_audio_only_by_hand_and_offered_on_a_poor_connection(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Lecture")
    (teacher,) = (await publishers(env, cid, ["teacher"])).values()
    ana = await env.join(cid, "ana", name="Ana Lima")
    sfu = sfu_of(env, cid)
    await until(lambda: forwarded(sfu, "ana") == {"teacher": "high"}, "the teacher's video")
    await ana.page.click("#audio-only")
    await until(lambda: forwarded(sfu, "ana") == {}, "audio only")
    assert await ana.page.get_attribute("#audio-only", "aria-pressed") == "true"
    await ana.page.click("#audio-only")
    await until(lambda: forwarded(sfu, "ana") == {"teacher": "high"}, "video again")
    await decoding(ana, set(cameras(sfu).values()) - {cameras(sfu)["ana"]})
    # The network starts losing nine in ten of Ana's video packets: the page offers audio only.
    downlink = sfu.people["ana"].sub
    assert isinstance(downlink, LocalDownlink)
    for slot in downlink.slots:
        if slot.kind == "video" and slot.wire is not None:
            slot.wire = Lossy(slot.wire)
    await ana.page.wait_for_selector("#quality-offer:not([hidden])", timeout=30_000)
    await ana.page.click("#quality-accept")
    await until(lambda: forwarded(sfu, "ana") == {}, "audio only, accepted")
    await teacher.close()
