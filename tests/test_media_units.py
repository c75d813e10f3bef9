"""Unit tests of the media parts that need no network: queues, keyframes, SDP, speakers."""

from __future__ import annotations

import asyncio
import fractions
from collections.abc import Callable

import pytest
from aiortc import (
    RTCCertificate,
    RTCDtlsTransport,
    RTCIceGatherer,
    RTCIceTransport,
    RTCRtpReceiver,
    RTCRtpSender,
)
from aiortc.jitterbuffer import JitterBuffer
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket

from classroom.errors import DomainError
from media import encoded, sdp
from media.encoded import (
    STALL_MS,
    EncodedFrame,
    StallWatch,
    Unsupported,
    is_keyframe,
    keyframe_wanted,
    restart_reassembly,
    skip_gap,
    tap,
)
from media.speakers import HOLD_S, Change, Speakers
from media.tracks import DEPTH, KEYFRAME_INTERVAL_S, Feed, Slot


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def vp8(n: int, key: bool = False) -> EncodedFrame:
    data = bytes([0x00 if key else 0x01]) + n.to_bytes(4, "big")
    return EncodedFrame(data, n * 3000, 90000, "video/VP8", key)


def opus(n: int) -> EncodedFrame:
    return EncodedFrame(n.to_bytes(4, "big"), n * 960, 48000, "audio/opus", True)


class Asks:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


# -- keyframes and queues ---------------------------------------------------------


def test_keyframe_detection() -> None:
    assert is_keyframe("video/VP8", b"\x10\x02\x00\x9d\x01\x2a")
    assert not is_keyframe("video/VP8", b"\x11\x02\x00")
    assert not is_keyframe("video/VP8", b"")
    assert is_keyframe("video/H264", b"\x00\x00\x00\x01\x67\x42" + b"\x00\x00\x00\x01\x65")
    assert not is_keyframe("video/H264", b"\x00\x00\x00\x01\x41\x9a")
    assert is_keyframe("audio/opus", b"\xfc")


async def test_a_new_slot_starts_at_a_keyframe_and_asks_for_one() -> None:
    asks, clock = Asks(), Clock()
    feed = Feed("video", asks, clock)
    slot = Slot("video", "video/VP8")
    slot.bind(feed)
    assert asks.count == 1
    feed.push(vp8(1))
    feed.push(vp8(2))
    assert slot.queued == 0 and slot.dropped == 2
    assert asks.count == 1  # rate-limited
    clock.now += KEYFRAME_INTERVAL_S
    feed.push(vp8(3))
    assert asks.count == 2
    feed.push(vp8(4, key=True))
    feed.push(vp8(5))
    first, second = await slot.recv(), await slot.recv()
    assert bytes(first) == vp8(4, key=True).data and bytes(second) == vp8(5).data
    assert first.pts is not None and second.pts is not None
    assert second.pts - first.pts == 3000
    assert first.time_base == fractions.Fraction(1, 90000)


async def test_a_slow_subscriber_drops_to_the_next_keyframe() -> None:
    feed = Feed("video", Asks(), Clock())
    slot = Slot("video", "video/VP8")
    slot.bind(feed)
    feed.push(vp8(0, key=True))
    for n in range(1, DEPTH["video"] + 5):
        feed.push(vp8(n))
    # The queue never grows past its depth: overflow drops everything queued.
    assert slot.queued == 0
    feed.push(vp8(100, key=True))
    feed.push(vp8(101))
    assert slot.queued == 2
    assert bytes(await slot.recv()) == vp8(100, key=True).data


async def test_audio_overflow_keeps_the_newest() -> None:
    feed = Feed("audio", Asks(), Clock())
    slot = Slot("audio", "audio/opus")
    slot.bind(feed)
    for n in range(DEPTH["audio"] + 3):
        feed.push(opus(n))
    assert 0 < slot.queued <= DEPTH["audio"]
    assert bytes(await slot.recv()) == opus(DEPTH["audio"]).data


async def test_rebinding_keeps_timestamps_increasing() -> None:
    one, two = Feed("audio", Asks()), Feed("audio", Asks())
    slot = Slot("audio", "audio/opus")
    slot.bind(one)
    one.push(opus(1000))
    one.push(opus(1001))
    a, b = await slot.recv(), await slot.recv()
    slot.bind(two)
    two.push(opus(5))  # the new publisher's clock is far behind
    c = await slot.recv()
    assert a.pts is not None and b.pts is not None and c.pts is not None
    assert a.pts < b.pts < c.pts


async def test_muted_feeds_forward_nothing_and_restart_at_a_keyframe() -> None:
    feed = Feed("video", Asks())
    slot = Slot("video", "video/VP8")
    slot.bind(feed)
    feed.push(vp8(0, key=True))
    feed.set_muted(True)
    feed.push(vp8(1))
    assert slot.queued == 1
    feed.set_muted(False)
    feed.push(vp8(2))
    assert slot.queued == 1
    feed.push(vp8(3, key=True))
    assert slot.queued == 2


async def test_a_stopped_slot_ends_its_reader() -> None:
    slot = Slot("video", "video/VP8")
    reader = asyncio.ensure_future(slot.recv())
    await asyncio.sleep(0)
    slot.stop()
    with pytest.raises(MediaStreamError):
        await reader


# -- the aiortc internals encoded.py relies on (pinned version) -----------------------


async def test_receiver_internals_are_where_encoded_expects() -> None:
    gatherer = RTCIceGatherer(iceServers=[])
    transport = RTCDtlsTransport(RTCIceTransport(gatherer), [RTCCertificate.generateCertificate()])
    receiver = RTCRtpReceiver("video", transport)
    got: list[EncodedFrame] = []
    tap(receiver, got.append)
    assert encoded.is_tapped(receiver)
    queue = vars(receiver)[encoded._DECODER_QUEUE]
    codec = RTCRtpSender.getCapabilities("video").codecs[0]
    frame = type("Frame", (), {"data": b"\x10abc", "timestamp": 7})()
    codec_params = type("Codec", (), {"mimeType": codec.mimeType, "clockRate": 90000})()
    queue.put((codec_params, frame))
    assert got == [EncodedFrame(b"\x10abc", 7, 90000, "video/VP8", True)]
    assert queue.empty()  # the decoder thread never sees a frame
    sender = RTCRtpSender("video", transport)
    assert not keyframe_wanted(sender)
    sender._send_keyframe()  # what aiortc does on a subscriber's PLI or FIR
    assert keyframe_wanted(sender) and not keyframe_wanted(sender)
    await transport.stop()


async def test_restarting_reassembly_forgets_what_was_missing() -> None:
    gatherer = RTCIceGatherer(iceServers=[])
    transport = RTCDtlsTransport(RTCIceTransport(gatherer), [RTCCertificate.generateCertificate()])
    receiver = RTCRtpReceiver("video", transport)
    old = vars(receiver)[encoded._JITTER_BUFFER]
    nacks = vars(receiver)[encoded._NACK_GENERATOR]
    nacks.missing.add(7)
    restart_reassembly(receiver)
    fresh = vars(receiver)[encoded._JITTER_BUFFER]
    assert fresh is not old and fresh.capacity == old.capacity and fresh._is_video
    assert nacks.missing == set() and nacks.max_seq is None
    await transport.stop()


def test_tapping_twice_is_refused_once_started() -> None:
    gatherer = RTCIceGatherer(iceServers=[])
    transport = RTCDtlsTransport(RTCIceTransport(gatherer), [RTCCertificate.generateCertificate()])
    receiver = RTCRtpReceiver("audio", transport)
    vars(receiver)[encoded._DECODER_THREAD] = object()
    with pytest.raises(Unsupported):
        tap(receiver, lambda f: None)


# -- SDP -------------------------------------------------------------------------------

OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 1 1 IN IP4 0.0.0.0",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0 1",
        "a=msid-semantic:WMS *",
        "m=video 9 UDP/TLS/RTP/SAVPF 97 98",
        "c=IN IP4 0.0.0.0",
        "a=sendonly",
        "a=mid:0",
        "a=rtpmap:97 VP8/90000",
        "a=rtpmap:98 rtx/90000",
        "a=fmtp:98 apt=97",
        "a=candidate:1 1 udp 2130706431 127.0.0.1 40000 typ host",
        "a=candidate:2 1 udp 2130706431 abc-123.local 40001 typ host",
        "a=ice-ufrag:abcd",
        "a=ice-pwd:abcdefghijklmnopqrstuv",
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
        "a=setup:actpass",
        "m=audio 9 UDP/TLS/RTP/SAVPF 96",
        "c=IN IP4 0.0.0.0",
        "a=recvonly",
        "a=mid:1",
        "a=rtpmap:96 opus/48000/2",
        "a=ice-ufrag:abcd",
        "a=ice-pwd:abcdefghijklmnopqrstuv",
        "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
        "a=setup:actpass",
        "",
    ]
)


def test_sdp_sections_and_mdns_candidates() -> None:
    offer = sdp.parse(OFFER, "offer")
    video, audio = offer.sections
    assert (video.mid, video.kind, video.sends, video.codec) == ("0", "video", True, "vp8")
    assert (audio.mid, audio.sends, audio.codec) == ("1", False, "opus")
    assert [s.mid for s in sdp.check_publishable(offer)] == ["0"]
    assert "abc-123.local" not in offer.text and "127.0.0.1 40000" in offer.text


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: "x" * 40_000, "larger than 32 KiB"),
        (lambda s: "hello", "must start with v=0"),
        (lambda s: s.replace("s=-", "s=\x00"), "malformed"),
        (lambda s: s.split("m=video")[0], "no audio or video"),
        (lambda s: s.replace("a=fingerprint", "a=fingerprinx"), "no fingerprint"),
        (lambda s: s.replace("a=mid:1", "a=mid:0"), "own a=mid"),
        (lambda s: s.replace("UDP/TLS/RTP/SAVPF 96", "RTP/AVP 96"), "not secure RTP"),
        (lambda s: s.replace("m=audio 9", "m=audio 99999"), "bad port"),
        (lambda s: s.replace("a=rtpmap:97 VP8", "a=rtpmap:97 AV1"), None),
    ],
)
def test_bad_sdp_is_refused(change: object, message: str | None) -> None:
    text = change(OFFER)  # type: ignore[operator]
    with pytest.raises(DomainError) as refused:
        sdp.check_publishable(sdp.parse(text, "offer"))
    assert refused.value.code == "bad_request"
    if message is not None:
        assert message in refused.value.message


def test_announced_address_replaces_host_candidates() -> None:
    text = "a=candidate:1 1 udp 2130706431 10.0.0.5 40000 typ host\r\nc=IN IP4 10.0.0.5"
    out = sdp.announce(text, "203.0.113.7")
    assert (
        out == "a=candidate:1 1 udp 2130706431 203.0.113.7 40000 typ host\r\nc=IN IP4 203.0.113.7"
    )
    assert sdp.announce(text, "") == text


# -- active speaker ------------------------------------------------------------------------


PACKET_S = 0.02
"""Opus sends a packet every 20 ms."""


def talk(s: Speakers, voices: dict[str, Callable[[float], int]], seconds: float) -> list[Change]:
    """Feed every voice's level (a function of time) for `seconds`; the changes announced."""
    changes: list[Change] = []
    for tick in range(round(seconds / PACKET_S)):
        now = tick * PACKET_S
        for user, level in voices.items():
            if (c := s.observe("main", user, level(now), now)) is not None:
                changes.append(c)
    return changes


def speech(level: int) -> Callable[[float], int]:
    """Words of 200 ms at `level`, with 120 ms of silence between them."""
    return lambda now: level if now % 0.32 < 0.2 else 127


def test_the_loudest_voice_becomes_the_speaker_after_holding() -> None:
    s = Speakers()
    changes = talk(s, {"ann": speech(20), "bob": speech(40), "cy": lambda _: 100}, 3 * HOLD_S)
    assert changes == [Change("main", "ann")]
    assert s.forget("ann") == [Change("main", None)]


def test_equal_voices_name_one_speaker_and_keep_them() -> None:
    # Three people talk at once, as loud as each other give or take 2 dB,
    # a different one the loudest in each half second.
    def voice(offset: int) -> Callable[[float], int]:
        return lambda now: (30 + (int(now / 0.5) + offset) % 3) if now % 0.32 < 0.2 else 127

    s = Speakers()
    changes = talk(s, {"ann": voice(0), "bob": voice(1), "cy": voice(2)}, 6.0)
    assert len(changes) == 1 and changes[0].user_id in ("ann", "bob", "cy")
    # A voice 10 dB louder than the speaker's takes over.
    s = Speakers()
    loud, quiet = speech(20), speech(30)
    both = talk(s, {"ann": quiet, "bob": lambda now: loud(now) if now >= 3.0 else 127}, 6.0)
    assert both == [Change("main", "ann"), Change("main", "bob")]


def test_a_cough_is_not_speaking() -> None:
    s = Speakers()
    cough: Callable[[float], int] = lambda now: 10 if 1.0 <= now < 1.3 else 127  # noqa: E731
    assert talk(s, {"ann": cough}, 4 * HOLD_S) == []


def test_a_speaker_who_stops_is_cleared_after_holding() -> None:
    s = Speakers()
    voice = speech(25)
    stops: Callable[[float], int] = lambda now: voice(now) if now < 2.0 else 127  # noqa: E731
    assert talk(s, {"ann": stops}, 5.0) == [Change("main", "ann"), Change("main", None)]


def test_silence_is_nobody() -> None:
    s = Speakers()
    assert talk(s, {"ann": lambda _: 127}, 3 * HOLD_S) == []


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
    gatherer = RTCIceGatherer(iceServers=[])
    transport = RTCDtlsTransport(RTCIceTransport(gatherer), [RTCCertificate.generateCertificate()])
    receiver = RTCRtpReceiver("video", transport)
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
    await transport.stop()
