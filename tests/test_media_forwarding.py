"""Packet forwarding on real RTP: what each subscriber stream is sent, header by header.

Every test runs twice: with subscribers reached the Python way only, and with
subscribers reached over a UDP socket, whose slots forward their steady
packets through the native fan-out (`media.lanes`), so both send the same.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator

import pytest
from aiortc.mediastreams import MediaStreamError
from aiortc.rtp import RtpPacket

from media.packets import (
    ABS_SEND_TIME_URI,
    Header,
    Ingest,
    Packet,
    h264_starts_keyframe,
    seq_after,
    vp8_start,
)
from media.tracks import KEYFRAME_INTERVAL_S, Feed, Slot
from media.wire import BEHIND, DOWN
from tests.rtp_streams import (
    SUBSCRIBER_AUDIO,
    SUBSCRIBER_VIDEO,
    Looped,
    Publisher,
    Subscriber,
    opus_packets,
)

_made: list[Subscriber] = []
"""The subscribers of the running test; `Looped` ones while it runs natively."""
_native = [False]


@pytest.fixture(autouse=True, params=["python", "native"])
def path(request: pytest.FixtureRequest) -> Iterator[str]:
    _native[0] = request.param == "native"
    yield request.param
    for far in _made:
        if isinstance(far, Looped):
            far.close()
    _made.clear()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Asks:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def video_feed(clock: Clock, asks: Asks | None = None) -> Feed:
    feed = Feed("video", asks or Asks(), clock)
    feed.mime = "video/VP8"
    return feed


def subscribed(feed: Feed, clock: Clock, terms: object = SUBSCRIBER_VIDEO) -> Subscriber:
    slot = Slot(feed.kind, feed.mime, clock, feed.tally)
    far = (Looped if _native[0] else Subscriber)(terms)  # type: ignore[arg-type]
    _made.append(far)
    slot.negotiated(terms, far)  # type: ignore[arg-type]
    slot.sends(True)
    slot.bind(feed)
    far.slot = slot  # type: ignore[attr-defined]
    return far


def send(feed: Feed, publisher: Publisher, frames: range, clock: Clock) -> None:
    for n in frames:
        for packet in publisher.frame(n):
            feed.receive(packet)
        clock.now += 1 / 30


def one_subscriber() -> tuple[Clock, Asks, Feed, Subscriber, Publisher]:
    """A VP8 feed with one subscriber stream, and the publisher of 30 frames it will get."""
    clock, asks = Clock(), Asks()
    feed = video_feed(clock, asks)
    return clock, asks, feed, subscribed(feed, clock), Publisher(frames=30)


def slot_of(far: Subscriber) -> Slot:
    return far.slot  # type: ignore[attr-defined, no-any-return]


def assert_one_stream(packets: list[RtpPacket], terms: object = SUBSCRIBER_VIDEO) -> None:
    """One SSRC and payload type, sequence numbers without a gap, timestamps never back."""
    assert {(p.ssrc, p.payload_type) for p in packets} == {
        (terms.ssrc, terms.payload_type)  # type: ignore[attr-defined]
    }
    for before, after in itertools.pairwise(packets):
        assert after.sequence_number == (before.sequence_number + 1) & 0xFFFF
        assert (after.timestamp - before.timestamp) & 0xFFFFFFFF < 0x80000000


def picture_ids(packets: list[RtpPacket]) -> list[int]:
    return [((p.payload[2] & 0x7F) << 8) | p.payload[3] for p in packets]


# -- reading publishers' packets ------------------------------------------------------------


def test_keyframes_are_found_in_real_payloads() -> None:
    publisher = Publisher(frames=12, gop=10)
    starts = [vp8_start(publisher.frame(n)[0].payload) for n in range(12)]
    assert [key for key, _ in starts] == [n % 10 == 0 for n in range(12)]
    assert all(picture == 2 for _, picture in starts)  # X, I with a 15-bit id
    assert h264_starts_keyframe(b"\x67\x42")  # SPS
    assert h264_starts_keyframe(b"\x78" + b"\x00\x02\x67\x42" + b"\x00\x02\x68\xce")  # STAP-A
    assert h264_starts_keyframe(b"\x7c\x85")  # FU-A starting an IDR slice
    assert not h264_starts_keyframe(b"\x7c\x05") and not h264_starts_keyframe(b"\x41\x9a")


def test_ingest_drops_duplicates_and_closes_over_padding() -> None:
    publisher = Publisher(frames=3)
    first, second = publisher.frame(0), publisher.frame(1)
    ingest = Ingest("video/VP8")
    out = [
        ingest.accept(p.ssrc, p.sequence_number, p.timestamp, bool(p.marker), p.payload)
        for p in first
    ]
    assert all(p is not None for p in out)
    # A retransmission of a packet that already came (RTX probing does this) goes nowhere.
    again = first[0]
    assert ingest.accept(again.ssrc, again.sequence_number, 0, False, again.payload) is None
    # Padding only: dropped, and the next packet's number closes the hole.
    pad = second[0].sequence_number
    assert ingest.accept(publisher.ssrc, pad, 0, False, b"") is None
    late = [
        ingest.accept(p.ssrc, (p.sequence_number + 1) & 0xFFFF, p.timestamp, False, p.payload)
        for p in second
    ]
    numbers = [p.seq for p in out + late if p is not None]
    assert numbers == [(numbers[0] + i) & 0xFFFF for i in range(len(numbers))]
    # A packet that went missing and comes late (a retransmission) finds its place.
    third = publisher.frame(2)
    gap = third[0].sequence_number + 1
    skipped = ingest.accept(publisher.ssrc, gap + 1, 1, False, b"\x10x")
    late_one = ingest.accept(publisher.ssrc, gap, 1, False, b"\x10y")
    assert (
        skipped is not None and late_one is not None and late_one.seq == (skipped.seq - 1) & 0xFFFF
    )
    assert late_one.late and not skipped.late and not any(p.late for p in out if p is not None)
    # Another SSRC is another stream.
    epoch = ingest.epoch
    ingest.accept(publisher.ssrc + 1, 5, 5, False, b"\x10z")
    assert ingest.epoch == epoch + 1


def test_sequence_arithmetic_wraps() -> None:
    assert seq_after(1, 0xFFFF) and not seq_after(0xFFFF, 1) and not seq_after(5, 5)


# -- one subscriber stream ---------------------------------------------------------------------


def test_a_stream_starts_at_a_keyframe_with_the_subscribers_own_header() -> None:
    clock, asks = Clock(), Asks()
    feed = video_feed(clock, asks)
    far = subscribed(feed, clock)
    publisher = Publisher()
    send(feed, publisher, range(3, 15), clock)  # joins mid-GOP: waits for frame 10
    assert asks.count >= 1
    first = far.packets[0]
    assert vp8_start(first.payload)[0]
    assert first.timestamp == (publisher.origin + 10 * 3000) & 0xFFFFFFFF  # first mapping: as sent
    assert_one_stream(far.packets)
    assert all(
        p.extensions.mid == "3" and p.extensions.abs_send_time is not None for p in far.packets
    )
    assert far.decoded_frames() == 4  # frames 10..13 (14 is complete but not yet released)
    assert slot_of(far).dropped == feed.tally.dropped == 7 and feed.tally.delivered == 5


def two_feeds(clock: Clock) -> tuple[Feed, Feed, Subscriber, Publisher]:
    """Two video feeds, a subscriber of the first that got its frames 0 to 11, and the
    second's publisher, not sending yet."""
    one, two = video_feed(clock), video_feed(clock)
    far = subscribed(one, clock)
    send(one, Publisher(seed=1), range(0, 12), clock)
    return one, two, far, Publisher(seed=2)


def test_switching_publishers_keeps_one_continuous_stream() -> None:
    clock = Clock()
    _, two, far, second = two_feeds(clock)
    sent_before = len(far.packets)
    last = far.packets[-1]
    slot_of(far).bind(two)
    clock.now += 0.4  # the wait for the new publisher's keyframe
    send(two, second, range(5, 16), clock)
    after = far.packets[sent_before:]
    assert after and vp8_start(after[0].payload)[0]  # starts at its keyframe (frame 10)
    assert_one_stream(far.packets)
    # The clock goes on by the time that passed, not by the new publisher's numbers.
    jump = (after[0].timestamp - last.timestamp) & 0xFFFFFFFF
    waited = 0.4 + 6 / 30  # the pause, a frame's time, frames 5..9 of the second (not sent)
    assert abs(jump - waited * 90000) <= 1
    ids = picture_ids(far.packets)
    frame_ids = [ids[i] for i, p in enumerate(far.packets) if p.marker]
    assert all((b - a) & 0x7FFF == 1 for a, b in itertools.pairwise(frame_ids))
    # Every forwarded byte after the picture id is the publisher's.
    assert [p.payload[4:] for p in after] == [
        p.payload[4:] for n in range(10, 16) for p in second.frame(n)
    ][: len(after)]
    assert far.decoded_frames() == 12 + 5


def test_audio_keeps_its_level_and_rebinds_at_once() -> None:
    clock = Clock()
    one = Feed("audio", Asks(), clock)
    two = Feed("audio", Asks(), clock)
    one.mime = two.mime = "audio/opus"
    far = subscribed(one, clock, SUBSCRIBER_AUDIO)
    for packet in opus_packets(5, ssrc=7, level=30):
        one.receive(packet)
        clock.now += 0.02
    slot_of(far).bind(two)
    for packet in opus_packets(5, ssrc=9, level=60):
        two.receive(packet)
        clock.now += 0.02
    assert len(far.packets) == 10
    assert_one_stream(far.packets, SUBSCRIBER_AUDIO)
    assert [p.extensions.audio_level for p in far.packets] == [(True, 30)] * 5 + [(True, 60)] * 5
    assert all(p.extensions.mid == "4" for p in far.packets)


def test_a_subscriber_that_backs_up_skips_to_the_next_keyframe() -> None:
    clock, _, feed, far, publisher = one_subscriber()
    send(feed, publisher, range(0, 4), clock)
    far.answer = BEHIND
    send(feed, publisher, range(4, 5), clock)
    far.answer = 0
    before = len(far.packets)
    send(feed, publisher, range(5, 22), clock)
    resumed = far.packets[before:]
    assert vp8_start(resumed[0].payload)[0]  # frame 10, the next keyframe
    assert_one_stream(far.packets)  # no hole for the subscriber to ask about
    assert far.decoded_frames() == 4 + 11


def test_a_connection_down_drops_packets_and_the_stream_goes_on_where_it_was() -> None:
    clock, _, feed, far, publisher = one_subscriber()
    send(feed, publisher, range(0, 4), clock)
    far.answer = DOWN
    send(feed, publisher, range(4, 6), clock)
    far.answer = 0
    before = len(far.packets)
    send(feed, publisher, range(6, 8), clock)
    assert len(far.packets) > before  # at once, not at the next keyframe
    assert_one_stream(far.packets)
    assert slot_of(far).dropped == feed.tally.dropped == 2


def test_a_packet_too_long_for_a_datagram_is_dropped_and_the_stream_goes_on() -> None:
    clock, _, feed, far, publisher = one_subscriber()
    send(feed, publisher, range(0, 4), clock)
    before = len(far.packets)
    last = far.packets[-1]
    seq = feed.packet((last.sequence_number - slot_of(far)._seq_offset) & 0xFFFF)
    assert seq is not None
    feed.push(Packet((seq.seq + 1) & 0xFFFF, seq.timestamp + 3000, True, bytes(1500)), feed.epoch)
    assert len(far.packets) == before and slot_of(far).dropped == 1
    send(feed, publisher, range(4, 6), clock)
    assert len(far.packets) > before


def test_an_inactive_m_line_sends_nothing_and_resumes_at_a_keyframe() -> None:
    clock, asks, feed, far, publisher = one_subscriber()
    send(feed, publisher, range(0, 3), clock)
    count = len(far.packets)
    slot_of(far).sends(False)  # the subscriber's receiver would drop what came now
    send(feed, publisher, range(3, 6), clock)
    assert len(far.packets) == count
    asked = asks.count
    clock.now += KEYFRAME_INTERVAL_S
    slot_of(far).sends(True)
    assert asks.count == asked + 1
    send(feed, publisher, range(6, 12), clock)
    assert vp8_start(far.packets[count].payload)[0]
    assert_one_stream(far.packets)


def test_a_muted_feed_forwards_nothing_and_resumes_at_a_keyframe() -> None:
    clock = Clock()
    feed = video_feed(clock)
    far = subscribed(feed, clock)
    publisher = Publisher(frames=30)
    send(feed, publisher, range(0, 3), clock)
    count = len(far.packets)
    feed.set_muted(True)
    send(feed, publisher, range(3, 6), clock)
    assert len(far.packets) == count
    feed.set_muted(False)
    send(feed, publisher, range(6, 12), clock)
    assert vp8_start(far.packets[count].payload)[0]
    assert_one_stream(far.packets)


# -- NACK, PLI and sender reports ------------------------------------------------------------


def test_nacks_are_answered_from_the_history_on_the_rtx_stream() -> None:
    clock, asks = Clock(), Asks()
    feed = video_feed(clock, asks)
    far = subscribed(feed, clock)
    send(feed, Publisher(), range(0, 8), clock)
    asked = asks.count
    lost = [far.packets[2], far.packets[5]]
    slot_of(far).nack([p.sequence_number for p in lost])
    assert len(far.retransmitted) == 2
    for rtx, original in zip(far.retransmitted, lost, strict=True):
        again = far.original(rtx)
        assert (again.sequence_number, again.timestamp, again.payload, again.marker) == (
            original.sequence_number,
            original.timestamp,
            original.payload,
            original.marker,
        )
    assert (
        far.retransmitted[1].sequence_number == (far.retransmitted[0].sequence_number + 1) & 0xFFFF
    )
    assert asks.count == asked


def test_a_nack_the_history_cannot_answer_asks_for_a_keyframe() -> None:
    clock, asks = Clock(), Asks()
    feed = video_feed(clock, asks)
    far = subscribed(feed, clock)
    send(feed, Publisher(), range(0, 4), clock)
    clock.now += KEYFRAME_INTERVAL_S
    asked = asks.count
    before_stream = (far.packets[0].sequence_number - 1) & 0xFFFF
    slot_of(far).nack([before_stream])
    assert far.retransmitted == [] and asks.count == asked + 1


def test_keyframe_requests_are_aggregated_and_none_is_forgotten() -> None:
    clock, asks = Clock(), Asks()
    feed = video_feed(clock, asks)
    subscribers = [subscribed(feed, clock) for _ in range(5)]
    publisher = Publisher(frames=30)
    send(feed, publisher, range(0, 2), clock)
    clock.now += KEYFRAME_INTERVAL_S
    asked = asks.count
    for far in subscribers:  # five PLIs at once: one request
        slot_of(far).keyframe()
    assert asks.count == asked + 1
    slot_of(subscribers[0]).keyframe()  # within the interval: remembered
    send(feed, publisher, range(2, 4), clock)
    assert asks.count == asked + 1
    clock.now += KEYFRAME_INTERVAL_S
    send(feed, publisher, range(4, 5), clock)  # the interval is over: sent now
    assert asks.count == asked + 2
    slot_of(subscribers[1]).keyframe()  # remembered again, then a keyframe comes
    send(feed, publisher, range(5, 11), clock)
    clock.now += KEYFRAME_INTERVAL_S
    send(feed, publisher, range(11, 12), clock)
    assert asks.count == asked + 2


def test_sender_reports_carry_the_publishers_clock() -> None:
    clock = Clock()
    feed = video_feed(clock)
    far = subscribed(feed, clock)
    assert slot_of(far).report() is None  # nothing sent yet
    publisher = Publisher()
    send(feed, publisher, range(0, 3), clock)
    feed.sender_report(publisher.ssrc, 0xABCDEF0012345678, publisher.origin + 1000)
    ntp, stamp, count, octets = slot_of(far).report()  # type: ignore[misc]
    assert ntp == 0xABCDEF0012345678 and count == len(far.packets) and octets > 0
    offset = (far.packets[0].timestamp - publisher.origin) & 0xFFFFFFFF
    assert stamp == (publisher.origin + 1000 + offset) & 0xFFFFFFFF


def test_headers_follow_the_negotiated_extensions() -> None:
    plain = Header(5, 96)
    assert plain.write(1, 2, True, b"\x01\x02\x03")[:2] == b"\x80\xe0"
    assert len(plain.write(1, 2, False, b"")) == 12
    both = Header(
        5,
        111,
        [
            (1, "urn:ietf:params:rtp-hdrext:sdes:mid"),
            (2, "urn:ietf:params:rtp-hdrext:ssrc-audio-level"),
        ],
        mid="12",
    )
    data = both.write(1, 2, False, b"", level=0x9E)
    assert data[12:16] == b"\xbe\xde\x00\x02" and data[16:18] == b"\x20\x9e"
    assert both.writer() == both.write  # audio: its level decides the form
    # A video stream's one form, written without the choices `write` makes: the same bytes.
    video = Header(6, 96, [(1, "urn:ietf:params:rtp-hdrext:sdes:mid"), (3, ABS_SEND_TIME_URI)], "4")
    for marker in (False, True):
        assert video.writer()(9, 7, marker, b"\x01\x02\x03", -1) == video.write(
            9, 7, marker, b"\x01\x02\x03"
        )


def test_late_packets_go_to_a_stream_only_if_they_belong_to_it() -> None:
    clock = Clock()
    one, two, far, second = two_feeds(clock)
    slot = slot_of(far)
    slot._pull()  # what the native fan-out counted, if it sends this stream
    top = one.packet((slot._top_seq - slot._seq_offset) & 0xFFFF)
    # A late packet (a retransmission placed after a newer one) is sent, but is not the top.
    assert top is not None
    stamp = top.timestamp + 3000
    ahead = Packet((top.seq + 2) & 0xFFFF, stamp, False, top.payload)
    late = Packet((top.seq + 1) & 0xFFFF, stamp, False, top.payload, late=True)
    at = len(far.packets)
    one.push(ahead, one.epoch)
    one.push(late, one.epoch)
    slot._pull()
    assert len(far.packets) == at + 2 and slot._top_seq == (ahead.seq + slot._seq_offset) & 0xFFFF
    # After a switch, a late packet from before the new stream's start is not sent.
    slot.bind(two)
    send(two, second, range(10, 12), clock)
    start = slot._since
    sent = len(far.packets)
    two.push(Packet((start - 1) & 0xFFFF, 0, False, top.payload, late=True), two.epoch)
    assert len(far.packets) == sent
    in_order = [*far.packets[:at], far.packets[at + 1], far.packets[at], *far.packets[at + 2 :]]
    assert_one_stream(in_order)


async def test_a_stopped_slot_ends_its_sender_reader() -> None:
    slot = Slot("video", "video/VP8")
    reader = asyncio.ensure_future(slot.recv())
    await asyncio.sleep(0)
    slot.stop()
    with pytest.raises(MediaStreamError):
        await reader


def test_a_wire_wrapped_after_negotiation_carries_the_packets() -> None:
    clock = Clock()
    feed = video_feed(clock)
    far = subscribed(feed, clock)
    seen: list[bytes] = []
    inner = slot_of(far).wire
    assert inner is not None

    class Watched:
        def send(self, head: bytes, payload: bytes = b"") -> int:
            seen.append(head)
            return inner.send(head, payload)

    slot_of(far).wire = Watched()
    send(feed, Publisher(), range(0, 3), clock)
    assert seen and len(seen) == len(far.packets)
