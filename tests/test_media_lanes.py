"""The native fan-out on real aiortc connections: what it sends decodes, and it stops
sending on a connection the moment that connection goes, before aioice closes its socket.

(The forwarding rules are checked through both paths in test_media_forwarding.py.)
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from aiortc import RTCPeerConnection

from media import lanes
from media.downlink import LocalDownlink
from media.tracks import Feed, Slot
from media.wire import BEHIND, DOWN, REFUSED, SENT, Watched, Wire
from tests.rtp_streams import SUBSCRIBER_VIDEO, Looped, Publisher, downlinks_to


def test_the_native_fan_out_is_built() -> None:
    assert lanes.AVAILABLE, "media/fanout.c was not built: is a C compiler installed?"


def test_the_statuses_of_both_paths_are_the_same() -> None:
    assert (lanes.SENT, lanes.BEHIND, lanes.DOWN, lanes.REFUSED) == (SENT, BEHIND, DOWN, REFUSED)
    assert lanes.SKIPPED not in (SENT, BEHIND, DOWN, REFUSED)


def test_a_subscriber_on_ipv6_is_sent_to_natively() -> None:
    far = Looped(SUBSCRIBER_VIDEO, host="::1")  # the machines here have IPv6 loopback
    feed = Feed("video", lambda: None)
    feed.mime = "video/VP8"
    slot = Slot("video", "video/VP8")
    slot.negotiated(SUBSCRIBER_VIDEO, far)
    slot.sends(True)
    slot.bind(feed)
    try:
        publisher = Publisher(frames=12)
        for n in range(12):
            for packet in publisher.frame(n):
                feed.receive(packet)
        assert slot.native
        assert len(far.packets) == slot.packets > 1
    finally:
        far.close()


async def connected(count: int) -> tuple[Feed, list[LocalDownlink], list[RTCPeerConnection]]:
    feed = Feed("video", lambda: None)
    feed.mime = "video/VP8"
    return feed, *await downlinks_to(feed, count)


async def until_native(feed: Feed, publisher: Publisher, slots: list[Slot]) -> int:
    """Publish frames until every slot is in the feed's lanes: the frames it took."""
    for n in range(600):  # 30 s at most
        for packet in publisher.frame(n % len(publisher.frames)):
            feed.receive(packet)
        if all(slot.native for slot in slots):
            return n + 1
        await asyncio.sleep(0.05)
    raise TimeoutError("the slots did not reach the native fan-out")


async def test_subscribers_sent_to_natively_decode_the_video() -> None:
    feed, downlinks, fars = await connected(2)
    try:
        publisher = Publisher(frames=60)
        slots = [d.slots[0] for d in downlinks]
        start = await until_native(feed, publisher, slots)
        assert len(feed.lanes) == 2 and not feed.plain
        tracks = [far.getTransceivers()[0].receiver.track for far in fars]
        decoded = [0, 0]

        async def watch(i: int) -> None:
            while True:
                await tracks[i].recv()
                decoded[i] += 1

        watchers = [asyncio.create_task(watch(i)) for i in range(2)]
        for n in range(start, start + 40):
            for packet in publisher.frame(n % len(publisher.frames)):
                feed.receive(packet)
            await asyncio.sleep(1 / 30)
        await asyncio.sleep(0.3)
        for task in watchers:
            task.cancel()
        assert min(decoded) >= 20, decoded
        assert all(slot.native for slot in slots)  # nothing made them leave
        assert all(slot.packets >= 40 for slot in slots)
    finally:
        for downlink, far in zip(downlinks, fars, strict=True):
            await downlink.close()
            await far.close()


class SocketWhenChanged:
    """Listens to a connection's `Watched` pairs as a `Wire` does: was the socket still
    open when the pairs changed?"""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.open_then: list[bool] = []

    def changed(self) -> None:
        self.open_then.append(self.sock.fileno() != -1)


async def test_a_closing_connection_stops_the_lane_before_its_socket_closes() -> None:
    feed, downlinks, fars = await connected(1)
    slot = downlinks[0].slots[0]
    try:
        await until_native(feed, Publisher(frames=30), [slot])
        wire = slot.wire
        assert isinstance(wire, Wire) and wire.port is not None and wire.port.up
        connection: Any = downlinks[0].pc.getTransceivers()[0].sender.transport.transport
        pairs = connection._connection._nominated
        assert isinstance(pairs, Watched)
        spy = SocketWhenChanged(wire._sendto.__self__)  # type: ignore[union-attr]
        pairs.wires.add(spy)  # type: ignore[arg-type]
        await downlinks[0].close()
        assert spy.open_then and spy.open_then[0], "the socket closed before the pairs changed"
        assert not wire.port.up
        sent = slot.packets
        for packet in Publisher(frames=2).frame(0):
            feed.receive(packet)  # nothing is sent on the closed connection, nothing raises
        assert slot.packets == sent and not slot.native
    finally:
        await fars[0].close()


async def test_a_dtls_transport_that_stops_takes_its_port_down() -> None:
    feed, downlinks, fars = await connected(1)
    slot = downlinks[0].slots[0]
    try:
        await until_native(feed, Publisher(frames=30), [slot])
        wire = slot.wire
        assert isinstance(wire, Wire) and wire.port is not None
        dtls = downlinks[0].pc.getTransceivers()[0].sender.transport
        changed = asyncio.Event()
        dtls.on("statechange", changed.set)
        await dtls.stop()  # its reading task ends, then the state changes
        await asyncio.wait_for(changed.wait(), 10)
        assert dtls.state == "closed" and not wire.port.up
    finally:
        await downlinks[0].close()
        await fars[0].close()
