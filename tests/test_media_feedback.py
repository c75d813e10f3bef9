"""What subscribers tell the SFU: real aiortc peers NACK lost packets and ask for keyframes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.conftest import Server
from tests.rtc_peer import Pattern, RtcClient
from tests.test_media_sfu import feeds_of, metrics


@pytest.fixture
def server(media_server: Server) -> Server:
    return media_server


class Losses:
    """Loses every `every`-th video packet on its way to a subscriber (the first time it comes)."""

    def __init__(self, client: RtcClient, every: int) -> None:
        assert client.sub is not None
        ice: Any = client.sub.getTransceivers()[0].receiver.transport.transport
        self.every = every
        self.dropped: set[int] = set()
        self.seen = 0
        self.primary: int | None = None
        """The media SSRC (the first seen); retransmissions come on another."""
        receive: Callable[[], Awaitable[bytes]] = ice._recv

        async def lossy() -> bytes:
            while True:
                data = await receive()
                if not self._lost(data):
                    return data

        ice._recv = lossy

    def _lost(self, data: bytes) -> bool:
        if len(data) < 12 or not 128 <= data[0] < 192 or 192 <= data[1] <= 223:
            return False  # not RTP (DTLS, STUN, RTCP)
        seq, ssrc = int.from_bytes(data[2:4], "big"), int.from_bytes(data[8:12], "big")
        self.primary = self.primary or ssrc
        if ssrc != self.primary:
            return False
        self.seen += 1
        if self.seen % self.every == 0 and seq not in self.dropped:
            self.dropped.add(seq)
            return True
        return False


async def watching(server: Server) -> tuple[RtcClient, RtcClient, str]:
    """A host publishing a camera and a viewer that has begun to receive it."""
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    viewer = RtcClient(await server.join(cid, "viewer"))
    await host.publish(Pattern(width=320, height=240))
    tracks = await viewer.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 1)
    video: str = tracks["tracks"][0]["track_id"]
    await viewer.frames_of(video, 5)
    return host, viewer, video


async def test_lost_packets_are_sent_again_and_the_picture_goes_on(server: Server) -> None:
    host, viewer, video = await watching(server)
    losses = Losses(viewer, every=7)
    before = (await metrics(server))["classroom_media_packets_retransmitted_total"]
    await viewer.frames_of(video, 60)  # decoding goes on through the losses
    assert len(losses.dropped) >= 3
    figures = await metrics(server)
    assert (
        figures["classroom_media_packets_retransmitted_total"] - before >= len(losses.dropped) // 2
    )
    for client in (host, viewer):
        await client.close()


async def test_a_subscribers_keyframe_request_reaches_the_publisher(server: Server) -> None:
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    viewers = [RtcClient(await server.join(cid, f"v{i}"), tap=True) for i in range(3)]
    await host.publish(Pattern())
    tracks = await viewers[0].peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 1)
    video = tracks["tracks"][0]["track_id"]
    for viewer in viewers:
        await viewer.frames_of(video, 40)  # past the keyframes of their joining
    feed = feeds_of(server, cid)[video]
    asked = feed.keyframe_requests
    keyframes = [keys(v) for v in viewers]
    for viewer in viewers:  # three PLIs, as a browser sends them
        assert viewer.sub is not None
        receiver: Any = viewer.sub.getTransceivers()[0].receiver
        ssrc = receiver.getSynchronizationSources()[0].source
        await receiver._send_rtcp_pli(ssrc)
    for viewer, before in zip(viewers, keyframes, strict=True):
        await viewer.until(lambda v=viewer, b=before: keys(v) > b)  # type: ignore[misc]
    assert feed.keyframe_requests > asked
    for client in (host, *viewers):
        await client.close()


def keys(client: RtcClient) -> int:
    (got,) = client.by_mid.values()
    return sum(1 for data in got.encoded if data and data[0] & 0x01 == 0)


class Extensions:
    """The RTP header extension ids on the video packets a subscriber receives (in the clear
    under SRTP)."""

    def __init__(self, client: RtcClient) -> None:
        assert client.sub is not None
        ice: Any = client.sub.getTransceivers()[0].receiver.transport.transport
        self.ids: set[int] = set()
        self.packets = 0
        receive: Callable[[], Awaitable[bytes]] = ice._recv

        async def reading() -> bytes:
            data = await receive()
            self._read(data)
            return data

        ice._recv = reading

    def _read(self, data: bytes) -> None:
        if len(data) < 16 or not 128 <= data[0] < 192 or 192 <= data[1] <= 223:
            return  # not RTP
        self.packets += 1
        start = 12 + 4 * (data[0] & 0x0F)
        if not data[0] & 0x10 or data[start : start + 2] != b"\xbe\xde":
            return
        end = start + 4 + 4 * int.from_bytes(data[start + 2 : start + 4], "big")
        at = start + 4
        while at < end and data[at]:
            self.ids.add(data[at] >> 4)
            at += 2 + (data[at] & 0x0F)


async def test_subscribers_are_not_asked_for_a_bandwidth_estimate(server: Server) -> None:
    host, viewer, video = await watching(server)
    assert viewer.sub is not None
    offer = viewer.sub.remoteDescription.sdp
    assert "goog-remb" not in offer and "abs-send-time" not in offer
    seen = Extensions(viewer)
    await viewer.frames_of(video, 20)
    mid = next(line for line in offer.split("\r\n") if line.endswith("sdes:mid"))
    assert seen.packets > 0 and seen.ids <= {int(mid.split(":")[1].split()[0])}
    for client in (host, viewer):
        await client.close()
