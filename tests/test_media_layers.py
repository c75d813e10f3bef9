"""Receivers say what they show: layers, views and audio only, with real aiortc peers on 127.0.0.1.

Every test runs twice: subscribers' connections in the server process, and in
two media workers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiortc import MediaStreamTrack

from media.node import MediaNode
from media.sfu import Sfu
from tests.conftest import Server, running, settings_for
from tests.rtc_peer import Pattern, Received, RtcClient, Tone
from web.keys import MEDIA

FULL, SMALL = (640, 480), (320, 180)


@pytest.fixture(params=[0, 2], ids=["in-process", "two-workers"])
async def server(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Server]:
    settings = settings_for(
        tmp_path, media_host=("127.0.0.1",), media_allow_private=True, media_workers=request.param
    )
    async with running(settings) as srv:
        yield srv


def sfu_of(server: Server, cid: str) -> Sfu:
    node: MediaNode = server.app[MEDIA]
    return node.sfus[cid]


async def room(
    server: Server, *tracks: MediaStreamTrack, layers: list[str | None], tap: bool = False
) -> tuple[str, RtcClient, RtcClient, dict[str, str]]:
    """A teacher publishing `tracks` (camera first) and a viewer receiving them."""
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    viewer = RtcClient(await server.join(cid, "viewer"), tap=tap)
    sources = ["mic" if t.kind == "audio" else "camera" for t in tracks]
    ack = await host.publish(*tracks, sources=sources, layers=layers)
    assert ack["ok"], ack
    published = sum(layer is None for layer in layers)
    found = await viewer.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == published)
    return cid, host, viewer, {t["kind"]: t["track_id"] for t in found["tracks"]}


async def received(client: RtcClient, track_id: str) -> Received:
    """What arrives on the m-line that carries `track_id` now."""
    await client.until(lambda: any(client.mids.get(mid) == track_id for mid in client.by_mid))
    return next(r for mid, r in client.by_mid.items() if client.mids.get(mid) == track_id)


async def view(client: RtcClient, **body: Any) -> Any:
    ack = await client.peer.call("rtc:view", body)
    assert ack["ok"], ack
    return ack


async def test_a_tile_that_grows_gets_the_full_picture_and_back(server: Server) -> None:
    low = Pattern(*SMALL)
    cid, host, viewer, ids = await room(server, Pattern(*FULL), low, layers=[None, "low"])
    camera = ids["video"]  # the low layer is a layer of the camera, not a track of its own
    video = await received(viewer, camera)
    await viewer.until(lambda: video.size == FULL)  # shown in full until the viewer says
    answers, mids = viewer.answers, dict(viewer.mids)
    ack = await view(viewer, tracks=[{"track_id": camera, "layer": "low"}])
    assert ack["layers"] == {camera: "low"}
    await viewer.until(lambda: video.size == SMALL)
    sfu = sfu_of(server, cid)
    (slot,) = [b for b in sfu.people["viewer"].slots if b.kind == "video"]
    assert slot.feed is sfu.lows[camera] and sfu.lows[camera].layer == "low"
    ack = await view(viewer, tracks=[{"track_id": camera, "layer": "high"}])
    assert ack["layers"] == {camera: "high"}
    await viewer.until(lambda: video.size == FULL)
    await view(viewer, tracks=[{"track_id": camera, "layer": "low"}])
    await viewer.until(lambda: video.size == SMALL)
    # The same m-line carried both layers, one stream: no new offer, frames all along.
    assert (viewer.answers, viewer.mids) == (answers, mids)
    assert video.sizes == {FULL, SMALL}
    # The publisher stops its low layer: a small tile gets the full picture instead.
    assert (await host.stop_sending(low))["ok"]
    await viewer.until(lambda: video.size == FULL)
    assert camera not in sfu.lows
    for client in (host, viewer):
        await client.close()


async def video_packets(client: RtcClient) -> int:
    """RTP packets received on every video m-line of the `sub` connection (aiortc's stats)."""
    assert client.sub is not None
    total = 0
    for transceiver in client.sub.getTransceivers():
        if transceiver.kind == "video":
            for stats in (await transceiver.receiver.getStats()).values():
                if stats.type == "inbound-rtp":
                    total += stats.packetsReceived
    return total


async def test_audio_only_stops_every_video_packet(server: Server) -> None:
    cid, host, viewer, ids = await room(server, Pattern(), Tone(), layers=[None, None], tap=True)
    camera, mic = ids["video"], ids["audio"]
    video = await received(viewer, camera)
    await viewer.frames_of(camera, 10)
    assert (await view(viewer, audio_only=True))["layers"] == {}
    await viewer.until(lambda: viewer.sending() == {mic})
    sfu = sfu_of(server, cid)
    assert [b.feed for b in sfu.people["viewer"].slots if b.kind == "video"] == [None]
    before = await video_packets(viewer)
    await viewer.frames_of(mic, 50)  # a second of audio, and not one video packet
    assert await video_packets(viewer) == before
    # Back to video: the same m-line again, starting at a keyframe.
    packets = len(video.starts)
    assert (await view(viewer, audio_only=False))["layers"] == {camera: "high"}
    await viewer.until(lambda: viewer.sending() == {camera, mic})
    await viewer.until(lambda: len(video.starts) > packets)
    assert video.starts[packets]
    assert await video_packets(viewer) > before
    for client in (host, viewer):
        await client.close()


async def test_a_view_forwards_only_the_video_shown(server: Server) -> None:
    cid = await server.create_class()
    viewer = RtcClient(await server.join(cid, "viewer"))
    people = [RtcClient(await server.join(cid, f"p{i}")) for i in range(3)]
    for person in people:
        assert (await person.publish(Pattern(), Tone()))["ok"]
    found = await viewer.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 6)
    videos = [t["track_id"] for t in found["tracks"] if t["kind"] == "video"]
    audios = {t["track_id"] for t in found["tracks"] if t["kind"] == "audio"}
    await viewer.until(lambda: viewer.sending() == set(videos) | audios)
    # One tile shown, small: its publisher sends no low layer, so the full picture comes.
    ack = await view(viewer, tracks=[{"track_id": videos[1], "layer": "low"}])
    assert ack["layers"] == {videos[1]: "high"}
    await viewer.until(lambda: viewer.sending() == {videos[1]} | audios)
    await viewer.frames_of(videos[1], 5)
    # rtc:unsubscribe still holds, with a view or without.
    muted = next(iter(audios))
    assert (await viewer.peer.call("rtc:unsubscribe", {"track_ids": [muted]}))["ok"]
    await viewer.until(lambda: viewer.sending() == {videos[1]} | audios - {muted})
    ack = await view(viewer)  # no `tracks`: every video, in full
    assert ack["layers"] == dict.fromkeys(videos, "high")
    await viewer.until(lambda: viewer.sending() == set(videos) | audios - {muted})
    for client in (viewer, *people):
        await client.close()


async def test_refused_views_change_nothing(server: Server) -> None:
    cid, host, viewer, ids = await room(server, Pattern(), Tone(), layers=[None, None])
    camera, mic = ids["video"], ids["audio"]
    await viewer.until(lambda: viewer.sending() == {camera, mic})
    for body, code in [
        ({"tracks": [{"track_id": "nope"}]}, "not_found"),
        ({"tracks": [{"track_id": mic}]}, "bad_request"),  # audio is always received
        ({"tracks": [{"track_id": camera, "layer": "medium"}]}, "bad_request"),
        ({"tracks": [{"track_id": camera}, {"track_id": camera, "layer": "low"}]}, "bad_request"),
        ({"tracks": [{"track_id": camera}] * 65}, "too_large"),
        ({"audio_only": "yes"}, "bad_request"),
        ({"tracks": [], "zoom": 2}, "bad_request"),
    ]:
        ack = await viewer.peer.call("rtc:view", body)
        assert ack["error"]["code"] == code, (body, ack)
    offers = viewer.answers
    assert (await view(viewer, tracks=[{"track_id": camera}]))["layers"] == {camera: "high"}
    assert viewer.answers == offers and viewer.sending() == {camera, mic}
    # A low layer needs its camera; one low layer per camera.
    alone = RtcClient(await server.join(cid, "alone"))
    refused = await alone.publish(Pattern(*SMALL), sources=["camera"], layers=["low"])
    assert refused["error"]["code"] == "bad_request"
    assert (await host.publish(Pattern(*SMALL), sources=["camera"], layers=["low"]))["ok"]
    again = await host.publish(Pattern(*SMALL), sources=["camera"], layers=["low"])
    assert again["error"]["code"] == "conflict"
    for client in (host, viewer, alone):
        await client.close()
