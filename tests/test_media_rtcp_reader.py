"""A subscriber connection's RTCP, read as aioice hands each datagram over
(`media.wire.FeedbackReader`): NACK, PLI and FIR reach the stream they name,
everything else is dropped, and nothing of it wakes aiortc's DTLS task.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from typing import Any

import pytest
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
)
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSdesPacket,
    RtcpSourceInfo,
    pack_remb_fci,
)

from media.downlink import LocalDownlink
from media.encoded import gather_on
from media.tracks import KEYFRAME_INTERVAL_S, Feed, Tally
from media.wire import NACKED_MOST, FeedbackReader
from tests.rtp_streams import Publisher, downlinks_to, negotiate, srtcp_to, transport

STREAM, OTHER = 0x1234, 0x5678


class Heard:
    def __init__(self) -> None:
        self.lost: list[list[int]] = []
        self.keyframes = 0

    def nack(self, lost: list[int]) -> None:
        self.lost.append(lost)

    def keyframe(self) -> None:
        self.keyframes += 1


class Reading:
    """A reader on a DTLS transport given the receiving session its handshake would make,
    and the far end's sending session of the same key."""

    def __init__(self) -> None:
        self.dtls = transport()
        self.connection: Any = self.dtls.transport._connection
        self.reader = FeedbackReader.of(self.dtls)
        self.heard = Heard()
        self.reader.listen(STREAM, self.heard)
        self.far = srtcp_to(self.dtls)

    def send(self, compound: bytes) -> bytes:
        sealed = self.far.protect_rtcp(compound)
        self.connection.data_received(sealed, 1)
        return sealed

    @property
    def queued(self) -> int:
        """Datagrams passed on to aiortc's DTLS task."""
        return int(self.connection._queue.qsize())


def report() -> bytes:
    return bytes(RtcpRrPacket(ssrc=1, reports=[RtcpReceiverInfo(STREAM, 0, 0, 0, 0, 0, 0)]))


def nack(ssrc: int, lost: list[int]) -> bytes:
    return bytes(RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=ssrc, lost=lost))


def pli(ssrc: int) -> bytes:
    return bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=ssrc))


def fir(*ssrcs: int) -> bytes:
    """RFC 5104: the media SSRC is 0; each FCI entry names a stream and a sequence number."""
    entries = b"".join(struct.pack("!LB3x", ssrc, 7) for ssrc in ssrcs)
    return bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_FIR, ssrc=1, media_ssrc=0, fci=entries))


def remb() -> bytes:
    fci = pack_remb_fci(300_000, [STREAM])
    return bytes(RtcpPsfbPacket(fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=fci))


def test_nack_pli_and_fir_reach_the_stream_they_name_and_the_rest_is_dropped() -> None:
    r = Reading()
    sdes = RtcpSdesPacket(chunks=[RtcpSourceInfo(ssrc=1, items=[(1, b"far")])])
    r.send(report() + bytes(sdes) + remb() + nack(STREAM, [100, 101, 103, 0xFFFF]))
    r.send(report() + pli(STREAM) + pli(OTHER) + nack(OTHER, [1]))
    r.send(report() + fir(OTHER, STREAM) + bytes(RtcpByePacket(sources=[1])))
    assert r.heard.lost == [[100, 101, 103, 0xFFFF]]
    assert r.heard.keyframes == 2
    assert r.queued == 0 and r.reader.read == 3


def test_a_nack_takes_its_bitmask_and_stops_at_the_most() -> None:
    r = Reading()
    # One entry: 65534 and the bitmask's 1st, 2nd and 16th bits (wrapping past 65535).
    entry = struct.pack("!HH", 65534, 0b1000_0000_0000_0011)
    head = struct.pack("!BBHLL", 0x80 | RTCP_RTPFB_NACK, 205, 3, 1, STREAM)
    r.send(head + entry)
    assert r.heard.lost == [[65534, 65535, 0, 14]]
    r.send(nack(STREAM, list(range(0, 2 * NACKED_MOST, 2))))
    assert r.heard.lost[1] == list(range(0, 2 * NACKED_MOST, 2))[:NACKED_MOST]


def test_what_is_not_authentic_or_not_whole_changes_nothing() -> None:
    r = Reading()
    sealed = r.send(pli(STREAM))
    r.connection.data_received(sealed, 1)  # a replay
    forged = bytearray(r.far.protect_rtcp(pli(STREAM)))
    forged[12] ^= 1
    r.connection.data_received(bytes(forged), 1)
    assert r.heard.keyframes == 1
    truncated = pli(STREAM)[:8] + b"\0\0"  # says 12 bytes, has 10
    overlong = bytearray(pli(STREAM))
    overlong[3] = 200
    short = struct.pack("!BBHL", 0x81, 206, 0, 1)  # a PSFB with no room for a media SSRC
    for compound in (truncated, bytes(overlong), short + short + short):
        r.send(compound)
    assert r.heard.keyframes == 1 and r.queued == 0


def test_a_listener_that_fails_harms_no_other_packet(caplog: pytest.LogCaptureFixture) -> None:
    r = Reading()

    class Failing(Heard):
        def keyframe(self) -> None:
            raise RuntimeError("broken")

    r.reader.listen(OTHER, Failing())
    with caplog.at_level(logging.ERROR, logger="media.wire"):
        r.send(pli(OTHER))
    assert "could not be handled" in caplog.text
    r.send(pli(STREAM))
    assert r.heard.keyframes == 1


def test_what_is_not_srtcp_goes_on_to_aiortc() -> None:
    r = Reading()
    r.connection.data_received(b"\x16\xfe\xfd" + bytes(20), 1)  # a DTLS record
    r.connection.data_received(b"\x80\x60" + bytes(20), 1)  # RTP
    assert r.queued == 2 and r.reader.read == 0
    r.dtls._rx_srtp = None  # before the handshake made the session
    r.connection.data_received(r.far.protect_rtcp(pli(STREAM)), 1)
    assert r.queued == 3 and r.heard.keyframes == 0


def test_one_reader_a_connection_and_a_forgotten_stream_hears_nothing() -> None:
    r = Reading()
    assert FeedbackReader.of(r.dtls) is r.reader
    r.reader.forget(STREAM)
    r.send(pli(STREAM) + nack(STREAM, [1]))
    assert r.heard.keyframes == 0 and r.heard.lost == []


async def test_a_real_subscribers_feedback_is_read_without_aiortcs_task() -> None:
    feed = Feed("video", lambda: None)
    feed.mime = "video/VP8"
    downlinks, fars = await downlinks_to(feed, 1)
    try:
        sender = downlinks[0].pc.getTransceivers()[0].sender
        dtls = sender.transport
        reader = FeedbackReader.of(dtls)
        publisher = Publisher(frames=30)
        for n in range(600):  # 30 s at most: connected, and the far end reported
            for packet in publisher.frame(n % len(publisher.frames)):
                feed.receive(packet)
            if reader.read:
                break
            await asyncio.sleep(0.05)
        assert reader.read, "no RTCP came from the far end"
        heard = Heard()
        reader.listen(sender._ssrc, heard)  # in place of the slot, to hear what it would
        before = dtls._get_stats().get(dtls._stats_id).packetsReceived
        receiver = fars[0].getTransceivers()[0].receiver
        await receiver._send_rtcp_nack(sender._ssrc, [7, 8])
        await receiver._send_rtcp_pli(sender._ssrc)
        await fars[0].getTransceivers()[0].receiver.transport._send_rtp(fir(sender._ssrc))
        for _ in range(200):  # 10 s at most
            if heard.keyframes == 2 and heard.lost:
                break
            await asyncio.sleep(0.05)
        assert heard.lost == [[7, 8]] and heard.keyframes == 2
        assert dtls._get_stats().get(dtls._stats_id).packetsReceived == before
    finally:
        await downlinks[0].close()
        await fars[0].close()


async def test_every_m_line_of_a_bundled_connection_hears_its_own_feedback() -> None:
    gather_on(["127.0.0.1"])
    asked = {"first": 0, "second": 0}
    feeds = {name: Feed("video", lambda n=name: asked.update({n: asked[n] + 1})) for name in asked}
    config = RTCConfiguration(iceServers=[])
    downlink, far = LocalDownlink(config, Tally()), RTCPeerConnection(config)
    for feed in feeds.values():
        feed.mime = "video/VP8"
        downlink.bind(downlink.add_slot("video", "video/VP8"), feed)
    try:
        await negotiate(downlink, far)
        publisher = Publisher(frames=30)
        for n in range(600):  # 30 s at most: both m-lines sending on the one transport
            for feed in feeds.values():
                for packet in publisher.frame(n % len(publisher.frames)):
                    feed.receive(packet)
            if all(slot.packets for slot in downlink.slots):
                break
            await asyncio.sleep(0.05)
        senders = [t.sender for t in downlink.pc.getTransceivers()]
        assert senders[0].transport is senders[1].transport  # bundled
        await asyncio.sleep(KEYFRAME_INTERVAL_S)  # past the requests of the start
        before = dict(asked)
        receiver = far.getTransceivers()[0].receiver
        for sender in senders:
            await receiver._send_rtcp_pli(sender._ssrc)
        for _ in range(200):  # 10 s at most
            if all(asked[name] > before[name] for name in asked):
                break
            await asyncio.sleep(0.05)
        assert all(asked[name] > before[name] for name in asked), (before, asked)
    finally:
        await downlink.close()
        await far.close()
