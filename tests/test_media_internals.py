"""Canaries: the aiortc and aioice internals media/encoded.py reaches, on the pinned versions.

Each test drives the real aiortc object through the code path the SFU relies
on. If a new aiortc or aioice moves one of them, these fail first and say
which; nothing else in media/ reaches below the public API.
"""

from __future__ import annotations

import asyncio
import socket
from importlib.metadata import version
from typing import Any

import aioice.ice
import pytest
from aiortc import (
    RTCPeerConnection,
    RTCRtpCodecParameters,
    RTCRtpReceiver,
    RTCRtpSender,
)
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpparameters import (
    RTCRtpHeaderExtensionParameters,
    RTCRtpReceiveParameters,
    RTCRtpSendParameters,
)
from aiortc.rtcrtpreceiver import RemoteStreamTrack
from aiortc.rtp import (
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
    RtpPacket,
)
from pylibsrtp import SRTP_MAX_TRAILER_LEN, Policy, Session

from media import encoded
from media.encoded import (
    STALL_MS,
    EncodedFrame,
    Negotiated,
    StallWatch,
    Writer,
    align_consent,
    drive,
    gather_on,
    on_direction,
    restart_reassembly,
    skip_gap,
    tap,
)
from media.packets import ABS_SEND_TIME_URI, MID_URI
from media.reports import Reports
from media.tracks import Feed
from media.wire import (
    DOWN,
    REFUSED,
    ROOM,
    SENT,
    Sealer,
    Unsupported,
    Wire,
    handle_of,
    socket_of,
)
from tests.rtp_streams import VP8, Publisher, downlinks_to, srtcp_to, transport


def test_the_pinned_versions_are_installed() -> None:
    assert version("aiortc") == "1.16.0"
    assert version("aioice") == "0.13.0"
    assert version("pylibsrtp") == "1.0.0"


# -- receiving ------------------------------------------------------------------------------


async def test_a_tapped_receiver_hands_over_packets_frames_and_reports() -> None:
    dtls = transport()
    receiver = RTCRtpReceiver("video", dtls)
    packets: list[RtpPacket] = []
    frames: list[EncodedFrame] = []
    reports: list[tuple[int, int, int]] = []
    tap(receiver, frames.append, packets.append, on_report=lambda *r: reports.append(r))
    receiver._track = RemoteStreamTrack("video")  # as the peer connection does
    await receiver.receive(RTCRtpReceiveParameters(codecs=[VP8]))
    assert encoded.is_tapped(receiver)
    publisher = Publisher(frames=3)
    sent = publisher.frame(0) + publisher.frame(1)
    for packet in sent:
        await receiver._handle_rtp_packet(packet, arrival_time_ms=0)
    # Every packet, as parsed and depayloaded by the receiver; the first frame reassembled.
    assert [p.sequence_number for p in packets] == [p.sequence_number for p in sent]
    assert len(frames) == 1 and frames[0].keyframe and frames[0].mime == "video/VP8"
    sr = RtcpSrPacket(ssrc=publisher.ssrc, sender_info=RtcpSenderInfo(5 << 32, 1234, 1, 1))
    await receiver._handle_rtcp_packet(sr)
    assert reports == [(publisher.ssrc, 5 << 32, 1234)]
    await receiver.stop()
    await dtls.stop()


async def test_restarting_reassembly_forgets_what_was_missing_and_keeps_the_tap() -> None:
    dtls = transport()
    receiver = RTCRtpReceiver("video", dtls)
    seen: list[RtpPacket] = []
    tap(receiver, lambda f: None, seen.append)
    old = vars(receiver)[encoded._JITTER_BUFFER]
    nacks = vars(receiver)[encoded._NACK_GENERATOR]
    nacks.missing.add(7)
    restart_reassembly(receiver)
    fresh = vars(receiver)[encoded._JITTER_BUFFER]
    assert fresh is not old and fresh.capacity == old.capacity and fresh._is_video
    assert nacks.missing == set() and nacks.max_seq is None
    fresh.add(Publisher().frame(0)[0])
    assert len(seen) == 1
    await dtls.stop()


def test_tapping_is_refused_once_started() -> None:
    receiver = RTCRtpReceiver("audio", transport())
    vars(receiver)[encoded._DECODER_THREAD] = object()
    with pytest.raises(Unsupported):
        tap(receiver, lambda f: None)


def rtp(seq: int, stamp: int) -> RtpPacket:
    packet = RtpPacket(payload_type=97, sequence_number=seq, timestamp=stamp)
    packet._data = bytes([seq])  # type: ignore[attr-defined]  # set by depayloading
    return packet


def test_a_lost_packet_is_skipped_instead_of_waited_for() -> None:
    buffer = JitterBuffer(capacity=64, is_video=True)
    # Frames of two packets each; packet 3 (the second half of frame 1) is lost.
    for seq in (0, 1, 2, 4, 5, 6, 7):
        assert buffer.add(rtp(seq, 3000 * (seq // 2)))[1] is None or seq == 2
    stuck = [buffer.add(rtp(seq, 3000 * (seq // 2)))[1] for seq in (8, 9, 10)]
    assert stuck == [None, None, None]  # everything waits behind the hole
    assert skip_gap(buffer)
    frame = buffer.add(rtp(11, 3000 * 5))[1]
    assert frame is not None and frame.timestamp == 3000 * 3  # frame 2 was partial: skipped too
    assert not skip_gap(buffer)


async def test_the_stall_watch_waits_before_skipping() -> None:
    dtls = transport()
    receiver = RTCRtpReceiver("video", dtls)
    buffer = vars(receiver)[encoded._JITTER_BUFFER]
    gaps: list[bool] = []
    watch = StallWatch(receiver, lambda: gaps.append(True))
    for seq in (0, 1, 3, 4):
        buffer.add(rtp(seq, 3000 * (seq // 2)))
        watch.check(1000)
    watch.check(1000 + STALL_MS - 1)
    assert gaps == []
    watch.check(1000 + STALL_MS)
    assert gaps == [True]
    await dtls.stop()


# -- sending --------------------------------------------------------------------------------


class Recorded:
    def __init__(self) -> None:
        self.terms: Negotiated | None = None
        self.wire: Writer | None = None
        self.lost: list[list[int]] = []
        self.keyframes = 0

    def negotiated(self, terms: Negotiated, wire: Writer) -> None:
        self.terms, self.wire = terms, wire

    def nack(self, lost: list[int]) -> None:
        self.lost.append(lost)

    def keyframe(self) -> None:
        self.keyframes += 1

    def report(self) -> tuple[int, int, int, int] | None:
        return 7 << 32, 4321, 10, 12000


async def test_a_driven_sender_says_what_was_negotiated_and_what_the_subscriber_asks() -> None:
    dtls = transport()
    sender = RTCRtpSender("video", dtls)
    driver = Recorded()
    drive(sender, driver)
    rtx = RTCRtpCodecParameters(
        mimeType="video/rtx", clockRate=90000, payloadType=97, parameters={"apt": 96}
    )
    parameters = RTCRtpSendParameters(
        codecs=[VP8, rtx],
        headerExtensions=[
            RTCRtpHeaderExtensionParameters(id=1, uri=MID_URI),
            RTCRtpHeaderExtensionParameters(id=3, uri=ABS_SEND_TIME_URI),
        ],
        muxId="2",
    )
    await sender.send(parameters)
    assert driver.terms == Negotiated(
        mid="2",
        ssrc=sender._ssrc,
        payload_type=96,
        rtx=(97, sender._rtx_ssrc),
        extensions=((1, MID_URI), (3, ABS_SEND_TIME_URI)),
    )
    assert driver.wire is not None and driver.wire.send(b"\x80" * 12) == DOWN  # not connected
    far = srtcp_to(dtls)
    nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=1, media_ssrc=sender._ssrc, lost=[5, 6, 9])
    pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=sender._ssrc)
    receive = dtls.transport._connection.data_received
    receive(far.protect_rtcp(bytes(nack) + bytes(pli)), 1)
    assert driver.lost == [[5, 6, 9]] and driver.keyframes == 1
    await asyncio.sleep(0)  # the sender's RTCP task starts: it reports with the loop's others
    assert len(Reports.of_loop()) == 1
    assert isinstance(driver.wire, Wire) and driver.wire.send_rtcp(bytes(28)) == DOWN
    await sender.stop()
    assert len(Reports.of_loop()) == 0
    receive(far.protect_rtcp(bytes(pli)), 1)
    assert driver.keyframes == 1  # a stopped sender's stream is not listened to
    await dtls.stop()


async def test_sender_reports_reach_each_subscriber_from_the_loops_one_task() -> None:
    Reports.of_loop().interval = 0.05
    feed = Feed("video", lambda: None)
    feed.mime = "video/VP8"
    downlinks, fars = await downlinks_to(feed, 2)
    try:
        publisher = Publisher()
        for far in fars:
            assert await _reported(feed, publisher, far) > 0
        assert len(Reports.of_loop()) == 2
    finally:
        for downlink, far in zip(downlinks, fars, strict=True):
            await downlink.close()
            await far.close()
    assert len(Reports.of_loop()) == 0


async def _reported(feed: Feed, publisher: Publisher, far: RTCPeerConnection) -> int:
    """Packets the far end's latest sender report says were sent, once one came."""
    receiver = far.getTransceivers()[0].receiver
    for n in range(600):  # 30 s at most: connecting, then a report
        for packet in publisher.frame(n % len(publisher.frames)):
            feed.receive(packet)
        for stats in (await receiver.getStats()).values():
            if stats.type == "remote-outbound-rtp" and stats.packetsSent:
                return int(stats.packetsSent)
        await asyncio.sleep(0.05)
    raise TimeoutError("no sender report came")


async def test_a_negotiation_says_whether_an_m_line_sends() -> None:
    gather_on(["127.0.0.1"])
    ours, theirs = RTCPeerConnection(), RTCPeerConnection()
    transceiver = ours.addTransceiver("video", direction="sendonly")
    said: list[bool] = []
    on_direction(transceiver, said.append)

    async def negotiate() -> None:
        await ours.setLocalDescription(await ours.createOffer())
        await theirs.setRemoteDescription(ours.localDescription)
        await theirs.setLocalDescription(await theirs.createAnswer())
        await ours.setRemoteDescription(theirs.localDescription)

    await negotiate()
    transceiver.direction = "inactive"
    await negotiate()
    assert said == [True, False]
    await ours.close()
    await theirs.close()


def test_the_wire_finds_srtp_and_the_selected_pair_where_it_expects() -> None:
    dtls = transport()
    assert "_tx_srtp" in vars(dtls) and "_state" in vars(dtls)
    connection: Any = dtls.transport._connection
    assert isinstance(connection._nominated, dict)
    pair = aioice.ice.CandidatePair
    assert isinstance(pair.remote_addr, property)
    assert "protocol" in pair.__init__.__code__.co_varnames
    assert "transport" in aioice.ice.StunProtocol.__annotations__


async def test_aligned_consent_checks_keep_a_connection_and_close_it_when_the_peer_goes() -> None:
    gather_on(["127.0.0.1"])
    ours, theirs = aioice.Connection(ice_controlling=True), aioice.Connection(ice_controlling=False)
    align_consent(ours, interval=0.1)
    await asyncio.gather(ours.gather_candidates(), theirs.gather_candidates())
    for one, other in ((ours, theirs), (theirs, ours)):
        for candidate in other.local_candidates:
            await one.add_remote_candidate(candidate)
        await one.add_remote_candidate(None)
        one.remote_username, one.remote_password = other.local_username, other.local_password
    await asyncio.gather(ours.connect(), theirs.connect())
    await asyncio.sleep(0.5)  # checks every 0.1 s, answered
    assert ours._nominated
    await theirs.close()
    async with asyncio.timeout(20):  # six checks unanswered (aioice's would take 30 s)
        closed = await ours.get_event()
    assert isinstance(closed, aioice.ice.ConnectionClosed)


def test_host_address_lookup_is_replaceable() -> None:
    assert callable(aioice.ice.get_host_addresses)


async def test_the_wire_sends_on_the_socket_under_asyncios_datagram_transport() -> None:
    loop = asyncio.get_running_loop()
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    datagrams, _ = await loop.create_datagram_endpoint(
        asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
    )
    try:
        found = socket_of(datagrams)
        found.sendto(b"rtp", sink.getsockname())
        assert sink.recv(16) == b"rtp"
    finally:
        datagrams.close()
        sink.close()
    with pytest.raises(Unsupported):
        socket_of(asyncio.DatagramTransport())


def srtp_pair(profile: int, key_size: int) -> tuple[Session, Session, Session]:
    """Two sending sessions with one key (what aiortc's protect gives, what ours does)
    and the receiving session of that key."""
    key = bytes(range(key_size))

    def session(direction: int) -> Session:
        policy = Policy(key=key, ssrc_type=direction, srtp_profile=profile)
        return Session(policy)

    out = Policy.SSRC_ANY_OUTBOUND
    return session(out), session(out), session(Policy.SSRC_ANY_INBOUND)


@pytest.mark.parametrize(
    ("profile", "key_size"),
    [
        (Policy.SRTP_PROFILE_AEAD_AES_256_GCM, 44),
        (Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 28),
        (Policy.SRTP_PROFILE_AES128_CM_SHA1_80, 30),
    ],
)
def test_sealing_in_place_is_what_pylibsrtp_protects(profile: int, key_size: int) -> None:
    theirs, ours, receiver = srtp_pair(profile, key_size)
    sealer, sent = Sealer(), Sent()
    for seq in range(3):
        head = bytes((0x80, 96, 0, seq, 0, 0, 0, seq, 0, 0, 0, 7))
        packet = head + bytes([seq]) * 1000
        parts = (head, packet[len(head) :]) if seq else (packet, b"")
        assert sealer.send(handle_of(ours), *parts, sent, ("127.0.0.1", 9)) == SENT
        assert sent.datagrams[-1] == theirs.protect(packet)
        assert receiver.unprotect(sent.datagrams[-1]) == packet


def test_a_packet_srtp_cannot_hold_is_refused_not_sent() -> None:
    _, ours, _ = srtp_pair(Policy.SRTP_PROFILE_AEAD_AES_128_GCM, 28)
    header = bytes((0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7))
    sent, most = Sent(), ROOM - SRTP_MAX_TRAILER_LEN - 12
    assert Sealer().send(handle_of(ours), header, bytes(most + 1), sent, ("", 0)) == REFUSED
    assert not sent.datagrams
    assert Sealer().send(handle_of(ours), header, bytes(most), sent, ("", 0)) == SENT


class Sent:
    """A socket's `sendto`, keeping what it is given."""

    def __init__(self) -> None:
        self.datagrams: list[bytes] = []

    def __call__(self, data: memoryview, address: tuple[str, int]) -> int:
        self.datagrams.append(bytes(data))
        return len(data)
