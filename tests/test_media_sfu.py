"""Functional tests of the SFU: real aiortc peers through the server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiortc import AudioStreamTrack

from media.encoded import is_tapped
from media.node import MediaNode
from media.tracks import Feed
from tests.conftest import Server, settings_for
from tests.rtc_peer import Encoded, Pattern, RtcClient
from web.keys import MEDIA


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    srv = Server(settings_for(tmp_path, media_host=("127.0.0.1",)))
    await srv.start()
    yield srv
    await srv.stop()


def node(server: Server) -> MediaNode:
    return server.app[MEDIA]


async def test_publisher_reaches_every_subscriber(server: Server) -> None:
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    subs = [RtcClient(await server.join(cid, f"s{i}")) for i in range(3)]
    ack = await host.publish(Pattern(), AudioStreamTrack())
    assert ack["ok"] and ack["type"] == "answer"
    tracks = await subs[0].peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 2)
    kinds = {t["kind"]: t for t in tracks["tracks"]}
    assert kinds["video"]["source"] == "camera" and kinds["audio"]["source"] == "mic"
    assert all(t["user_id"] == "teacher" and not t["muted"] for t in tracks["tracks"])
    for sub in subs:
        for track in tracks["tracks"]:
            await sub.frames_of(track["track_id"], 10)
        video = next(r for r in sub.by_mid.values() if r.kind == "video")
        assert video.sizes == {(160, 120)}
    for client in [host, *subs]:
        await client.close()


def feeds_of(server: Server, cid: str) -> dict[str, Feed]:
    return node(server).sfus[cid].feeds


async def test_late_joiner_gets_a_keyframe_and_decodes(server: Server) -> None:
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    early = RtcClient(await server.join(cid, "early"))
    await host.publish(Pattern())
    tracks = await early.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 1)
    video = tracks["tracks"][0]["track_id"]
    await early.frames_of(video, 30)  # the publisher's encoder is well past its first keyframe
    asked = feeds_of(server, cid)[video].keyframe_requests
    late = RtcClient(await server.join(cid, "late"))
    await late.frames_of(video, 5)
    assert feeds_of(server, cid)[video].keyframe_requests > asked
    for client in (host, early, late):
        await client.close()


async def test_forwarding_never_transcodes(server: Server) -> None:
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    viewer = RtcClient(await server.join(cid, "viewer"), tap=True)
    source = Encoded(frames=40, gop=10)
    await host.publish(source)
    tracks = await viewer.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 1)
    await viewer.frames_of(tracks["tracks"][0]["track_id"], 25)
    (got,) = viewer.by_mid.values()
    # Every forwarded frame is byte for byte one the publisher encoded.
    assert len(got.encoded) >= 25
    assert set(got.encoded) <= set(source.packets)
    sfu = node(server).sfus[cid]
    publisher = sfu.people["teacher"]
    assert publisher.pub is not None
    assert all(is_tapped(t.receiver) for t in publisher.pub.getTransceivers())
    for client in (host, viewer):
        await client.close()
