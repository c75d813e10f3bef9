"""Unit tests of the media parts that need no network: keyframes, SDP, speakers."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from classroom.errors import DomainError
from media import sdp
from media.encoded import is_keyframe
from media.speakers import HOLD_S, Change, Speakers

# -- keyframes -------------------------------------------------------------------------


def test_keyframe_detection() -> None:
    assert is_keyframe("video/VP8", b"\x10\x02\x00\x9d\x01\x2a")
    assert not is_keyframe("video/VP8", b"\x11\x02\x00")
    assert not is_keyframe("video/VP8", b"")
    assert is_keyframe("video/H264", b"\x00\x00\x00\x01\x67\x42" + b"\x00\x00\x00\x01\x65")
    assert not is_keyframe("video/H264", b"\x00\x00\x00\x01\x41\x9a")
    assert is_keyframe("audio/opus", b"\xfc")


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
