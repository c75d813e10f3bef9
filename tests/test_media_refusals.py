"""Hostile or broken signaling is refused without harm, and leaving leaves nothing behind."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from typing import Any

import pytest
from aiortc import AudioStreamTrack, RTCPeerConnection

from classroom import events as e
from tests.conftest import Server
from tests.rtc_peer import Pattern, RtcClient, config
from web.keys import MEDIA, REGISTRY


@pytest.fixture
def server(media_server: Server) -> Server:
    return media_server


async def offer_text() -> str:
    pc = RTCPeerConnection(config())
    pc.addTransceiver(Pattern(), direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    text = str(pc.localDescription.sdp)
    await pc.close()
    return text


async def datachannel_offer() -> str:
    pc = RTCPeerConnection(config())
    pc.createDataChannel("chat")
    await pc.setLocalDescription(await pc.createOffer())
    text = str(pc.localDescription.sdp)
    await pc.close()
    return text


def replace_line(prefix: str, line: str) -> Callable[[str], str]:
    def change(sdp: str) -> str:
        return "\r\n".join(line if ln.startswith(prefix) else ln for ln in sdp.split("\r\n"))

    return change


def edited(prefix: str, line: str) -> Callable[[str], Any]:
    """A publish request whose offer has every line starting with `prefix` replaced."""
    return lambda sdp: {"sdp": replace_line(prefix, line)(sdp), "type": "offer"}


BAD_PUBLISH: list[tuple[str, Callable[[str], Any] | None]] = [
    ("wrong type", lambda sdp: {"sdp": sdp, "type": "answer"}),
    ("no type", lambda sdp: {"sdp": sdp}),
    ("sdp not text", lambda sdp: {"sdp": 42, "type": "offer"}),
    ("unknown field", lambda sdp: {"sdp": sdp, "type": "offer", "x": 1}),
    ("bad source", lambda sdp: {"sdp": sdp, "type": "offer", "sources": {"0": "webcam"}}),
    ("garbage", lambda sdp: {"sdp": "\x00\x01garbage", "type": "offer"}),
    ("not sdp", lambda sdp: {"sdp": "hello world", "type": "offer"}),
    ("empty", lambda sdp: {"sdp": "", "type": "offer"}),
    ("huge", lambda sdp: {"sdp": sdp + "a=x-pad:" + "x" * 33_000 + "\r\n", "type": "offer"}),
    ("no media", None),  # filled in with a data-channel-only offer
    ("mangled m-line", edited("m=video", "m=video x")),
    ("bad fingerprint", edited("a=fingerprint", "a=fingerprint:x")),
    ("bad setup", edited("a=setup", "a=setup:bogus")),
    ("no ice", edited("a=ice-pwd", "a=x-gone:1")),
]  # fmt: skip


async def test_bad_offers_are_refused_and_harm_nobody(server: Server) -> None:
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    viewer = RtcClient(await server.join(cid, "viewer"))
    mallory = await server.join(cid, "mallory")
    good, no_media = await offer_text(), await datachannel_offer()
    ack = await mallory.call("rtc:answer", {"sdp": good, "type": "answer"})
    assert ack["error"]["code"] == "conflict"  # no offer was made to mallory
    await host.publish(Pattern())
    tracks = await viewer.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 1)
    video = tracks["tracks"][0]["track_id"]
    for name, make in BAD_PUBLISH:
        body = {"sdp": no_media, "type": "offer"} if make is None else make(good)
        ack = await mallory.call("rtc:publish", body)
        assert ack["ok"] is False, name
        assert ack["error"]["code"] == "bad_request", (name, ack)
        await viewer.frames_of(video, 3)  # the class's media goes on
    sfu = server.app[MEDIA].sfus[cid]
    assert sfu.people["mallory"].pub is None
    assert sfu.runtime.room.media.of_user("mallory") == []
    # An offer is no answer to the offer mallory was sent (and did not answer).
    await mallory.wait_for("rtc:offer")
    ack = await mallory.call("rtc:answer", {"sdp": good, "type": "answer"})
    assert ack["error"]["code"] == "bad_request"
    ack = await mallory.call("rtc:candidate", {"pc": "pub", "candidate": {"candidate": "x"}})
    assert ack["error"]["code"] == "conflict"
    ack = await mallory.call("rtc:candidate", {"pc": "both", "candidate": None})
    assert ack["error"]["code"] == "bad_request"
    # And mallory can still publish properly afterwards.
    assert (await RtcClient(mallory).publish(AudioStreamTrack()))["ok"]
    await viewer.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 2)
    for client in (host, viewer):
        await client.close()


async def test_trickled_candidates(server: Server) -> None:
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    await host.publish(Pattern())
    assert host.pub is not None
    line = next(
        ln[2:]
        for ln in host.pub.localDescription.sdp.split("\r\n")
        if ln.startswith("a=candidate:")
    )
    good = {"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0, "usernameFragment": None}
    ack = await host.peer.call("rtc:candidate", {"pc": "pub", "candidate": good})
    assert ack == {"ok": True}
    mdns = {"candidate": "candidate:1 1 udp 2130706431 abc.local 9 typ host", "sdpMid": "0"}
    assert await host.peer.call("rtc:candidate", {"pc": "pub", "candidate": mdns}) == {"ok": True}
    bad = {"candidate": "candidate:garbage", "sdpMid": "0"}
    ack = await host.peer.call("rtc:candidate", {"pc": "pub", "candidate": bad})
    assert ack["error"]["code"] == "bad_request"
    ack = await host.peer.call(
        "rtc:candidate", {"pc": "pub", "candidate": {"candidate": "x" * 2000}}
    )
    assert ack["error"]["code"] == "too_large"
    ack = await host.peer.call("rtc:candidate", {"pc": "sub", "candidate": None})
    assert ack["error"]["code"] == "conflict"  # nothing to receive yet: no sub connection
    assert await host.peer.call("rtc:candidate", {"pc": "pub", "candidate": None}) == {"ok": True}
    await host.close()


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def media_threads() -> int:
    """Threads of media receivers (the loop's executor pool is the encoder's, and it stays)."""
    return sum(1 for t in threading.enumerate() if not t.name.startswith("asyncio_"))


async def quiet(baseline: int) -> int:
    """Let finished work unwind (cancelled tasks run their last step); returns the task count."""
    for _ in range(200):
        if len(asyncio.all_tasks()) <= baseline:
            break
        await asyncio.sleep(0)
    return len(asyncio.all_tasks())


async def test_disconnecting_closes_connections_and_tasks(server: Server) -> None:
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    viewer = RtcClient(await server.join(cid, "viewer"))
    node = server.app[MEDIA]
    runtime = await server.app[REGISTRY].get(cid)
    assert runtime is not None
    left: set[str] = set()
    both_left = asyncio.Event()

    async def listen(ev: e.Event) -> None:  # runs after the SFU has seen the event
        if isinstance(ev, e.ParticipantLeft):
            left.add(ev.user_id)
            if left == {"teacher", "viewer"}:
                both_left.set()

    runtime.listen(listen)
    tasks, fds, threads = len(asyncio.all_tasks()), open_fds(), media_threads()
    await host.publish(Pattern(), AudioStreamTrack())
    await viewer.publish(AudioStreamTrack())
    tracks = await viewer.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 3)
    for track in tracks["tracks"]:
        if track["user_id"] == "teacher":
            await viewer.frames_of(track["track_id"], 5)
    assert node.peer_connections() == 4  # pub and sub of each
    assert len(asyncio.all_tasks()) > tasks and open_fds() > fds
    # The sockets go away; the clients' own connections are left open on purpose.
    await host.peer.close()
    await viewer.peer.close()
    async with asyncio.timeout(10):
        await both_left.wait()
    await node.settle()
    sfu = node.sfus[cid]
    assert node.peer_connections() == 0 and sfu.people == {}
    assert sfu.feeds == {} and sfu.runtime.room.media.tracks == {}
    await host.close()
    await viewer.close()
    assert await quiet(tasks) <= tasks
    assert open_fds() <= fds
    assert media_threads() <= threads


async def test_ending_the_class_closes_its_media(server: Server) -> None:
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    viewer = RtcClient(await server.join(cid, "viewer"))
    node = server.app[MEDIA]
    await host.publish(Pattern())
    tracks = await viewer.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 1)
    await viewer.frames_of(tracks["tracks"][0]["track_id"], 3)
    assert await host.peer.call("class:end") == {"ok": True}
    await viewer.peer.disconnected.wait()
    await node.settle()
    assert node.peer_connections() == 0
    assert cid not in node.sfus or node.sfus[cid].closed
    for client in (host, viewer):
        await client.close()
