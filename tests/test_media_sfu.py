"""Functional tests of the SFU: real aiortc peers through the server on 127.0.0.1."""

from __future__ import annotations

import threading

import aiohttp
import pytest
from aiortc import AudioStreamTrack

from media.encoded import is_tapped
from media.node import MediaNode
from media.tracks import Feed
from tests.conftest import Server
from tests.rtc_peer import Encoded, Pattern, RtcClient, Tone
from web.keys import MEDIA


@pytest.fixture
def server(media_server: Server) -> Server:
    return media_server


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
    figures = await metrics(server)
    assert figures["classroom_media_peer_connections"] == 4  # one pub, three subs
    assert figures["classroom_media_tracks"] == 2 and figures["classroom_media_streams"] == 6
    assert figures["classroom_media_frames_forwarded_total"] >= 3 * 2 * 10
    for client in [host, *subs]:
        await client.close()


async def metrics(server: Server) -> dict[str, float]:
    async with aiohttp.ClientSession() as http, http.get(server.url + "/metrics") as resp:
        text = await resp.text()
    return {
        name: float(value)
        for name, value in (
            line.split(" ") for line in text.splitlines() if line.startswith("classroom_media")
        )
    }


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
    # No decoder anywhere while media flows: not the SFU's, not the tapping viewer's.
    assert [t.name for t in threading.enumerate() if t.name.endswith("-decoder")] == []
    for client in (host, viewer):
        await client.close()


async def test_screen_share_starts_and_stops(server: Server) -> None:
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    viewer = RtcClient(await server.join(cid, "viewer"))
    await host.publish(Pattern(), AudioStreamTrack(), sources=["camera", "mic"])
    await viewer.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 2)
    screen = Pattern(width=320, height=240)
    ack = await host.publish(screen, sources=["screen"])
    assert ack["ok"], ack
    tracks = await viewer.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 3)
    shared = next(t for t in tracks["tracks"] if t["source"] == "screen")
    assert shared["kind"] == "video" and shared["user_id"] == "teacher"
    await viewer.frames_of(shared["track_id"], 5)
    mid = next(m for m, t in viewer.mids.items() if t == shared["track_id"])
    assert (320, 240) in viewer.by_mid[mid].sizes
    seen = len(viewer.peer.events)
    assert (await host.stop_sending(screen))["ok"]
    after = await viewer.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 2, seen)
    assert {t["source"] for t in after["tracks"]} == {"camera", "mic"}
    await viewer.until(lambda: shared["track_id"] not in viewer.sending())
    gone = await viewer.peer.wait_for("rtc:track_unpublished")
    assert gone["track_id"] == shared["track_id"] and gone["reason"] == "stopped"
    # Sharing again on the same m-line publishes a new track.
    assert (await host.resume_sending(screen))["ok"]
    again = await viewer.peer.wait_for(
        "rtc:track_published",
        lambda d: d["source"] == "screen" and d["track_id"] != gone["track_id"],
    )
    await viewer.frames_of(again["track_id"], 5)
    for client in (host, viewer):
        await client.close()


async def test_a_source_can_be_published_once(server: Server) -> None:
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    assert (await host.publish(Pattern(), sources=["camera"]))["ok"]
    ack = await host.publish(Pattern(), sources=["camera"])
    assert ack["error"]["code"] == "conflict"
    ack = await host.publish(AudioStreamTrack(), sources=["camera"])
    assert ack["error"]["code"] == "bad_request"
    await host.close()


async def test_selective_subscription(server: Server) -> None:
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    viewer = RtcClient(await server.join(cid, "viewer"))
    await host.publish(Pattern(), AudioStreamTrack())
    tracks = await viewer.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 2)
    ids = {t["kind"]: t["track_id"] for t in tracks["tracks"]}
    await viewer.until(lambda: viewer.sending() == set(ids.values()))
    assert await viewer.peer.call("rtc:unsubscribe", {"track_ids": [ids["video"]]}) == {"ok": True}
    await viewer.until(lambda: viewer.sending() == {ids["audio"]})
    await viewer.frames_of(ids["audio"], 5)
    assert await viewer.peer.call("rtc:subscribe", {"track_ids": [ids["video"]]}) == {"ok": True}
    await viewer.until(lambda: viewer.sending() == set(ids.values()))
    await viewer.frames_of(ids["video"], 5)
    ack = await viewer.peer.call("rtc:unsubscribe", {"track_ids": ["nope"]})
    assert ack["error"]["code"] == "not_found"
    ack = await viewer.peer.call("rtc:subscribe", {"track_ids": ["../x"]})
    assert ack["error"]["code"] == "bad_request"
    for client in (host, viewer):
        await client.close()


async def test_active_speaker_from_audio_levels(server: Server) -> None:
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    quiet = RtcClient(await server.join(cid, "quiet"))
    listener = await server.join(cid, "listener")
    await quiet.publish(AudioStreamTrack())  # silence: -127 dBov
    await host.publish(Tone())
    spoke = await listener.wait_for("rtc:speaker", lambda d: d["user_id"] is not None)
    assert spoke["user_id"] == "teacher" and spoke["room"] == "main"
    assert (await host.peer.call("rtc:mute", {"source": "mic", "muted": True}))["ok"]
    await listener.wait_for("rtc:speaker", lambda d: d["user_id"] is None)
    for client in (host, quiet):
        await client.close()


async def test_a_new_socket_of_the_same_user_starts_media_afresh(server: Server) -> None:
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    viewer = RtcClient(await server.join(cid, "viewer"))
    await host.publish(Pattern())
    first = await viewer.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 1)
    again = RtcClient(await server.join(cid, "teacher", "host"))
    assert (await again.publish(Pattern()))["ok"]
    await viewer.peer.wait_for("rtc:track_unpublished", lambda d: d["reason"] == "replaced")
    now = await viewer.peer.wait_for(
        "rtc:tracks",
        lambda d: len(d["tracks"]) == 1 and d["tracks"] != first["tracks"],
    )
    await viewer.frames_of(now["tracks"][0]["track_id"], 5)
    for client in (host, again, viewer):
        await client.close()
