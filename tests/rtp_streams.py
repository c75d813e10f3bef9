"""Real RTP for forwarding tests: VP8 from libvpx and Opus from libopus, packetized by aiortc,
and a subscriber's end that checks what the SFU writes (SRTP, then aiortc's own parser)."""

from __future__ import annotations

import fractions
import os
import random

import av
from aiortc import RTCRtpCodecParameters
from aiortc.codecs import depayload
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Decoder, Vp8Encoder
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket, unwrap_rtx
from pylibsrtp import Policy, Session

from media.encoded import Negotiated
from media.packets import ABS_SEND_TIME_URI, AUDIO_LEVEL_URI, MID_URI
from media.wire import SENT
from tests.rtc_peer import Encoded, Tone

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
PUBLISHER_EXTENSIONS = [
    RTCRtpHeaderExtensionParameters(id=4, uri=ABS_SEND_TIME_URI),
    RTCRtpHeaderExtensionParameters(id=6, uri=AUDIO_LEVEL_URI),
]


def extension_map(extensions: list[RTCRtpHeaderExtensionParameters]) -> HeaderExtensionsMap:
    found = HeaderExtensionsMap()
    found.configure(RTCRtpParameters(headerExtensions=extensions))
    return found


class Publisher:
    """One publisher's stream: RTP packets as they arrive, parsed by aiortc."""

    def __init__(self, frames: int = 40, gop: int = 10, seed: int = 1) -> None:
        rng = random.Random(seed)
        self.ssrc = rng.randrange(1 << 32)
        self.seq = rng.randrange(1 << 15)
        self.origin = rng.randrange(1 << 32)
        self.map = extension_map(PUBLISHER_EXTENSIONS)
        self.encoder = Vp8Encoder()
        self.frames = [bytes(p) for p in Encoded(frames, gop).packets]
        self.sent = 0

    def frame(self, n: int, level: int | None = None) -> list[RtpPacket]:
        """The packets of frame `n` (its RTP timestamp advances 3000 a frame)."""
        packet = av.Packet(self.frames[n])
        packet.pts, packet.time_base = n * 3000, fractions.Fraction(1, 90000)
        payloads, stamp = self.encoder.pack(packet)
        out = []
        for i, payload in enumerate(payloads):
            p = RtpPacket(
                payload_type=96,
                marker=int(i == len(payloads) - 1),
                sequence_number=self.seq,
                timestamp=(self.origin + stamp) & 0xFFFFFFFF,
                ssrc=self.ssrc,
                payload=payload,
            )
            p.extensions.abs_send_time = 0x123456
            self.seq = (self.seq + 1) & 0xFFFF
            out.append(RtpPacket.parse(p.serialize(self.map), self.map))
        return out


def opus_packets(count: int, ssrc: int = 77, level: int = 30) -> list[RtpPacket]:
    encoder, tone, out = OpusEncoder(), Tone(), []
    wave = tone._samples
    for n in range(count):
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(wave)
        frame.sample_rate, frame.pts = 48000, n * 960
        frame.time_base = fractions.Fraction(1, 48000)
        payloads, stamp = encoder.encode(frame)
        mapping = extension_map(PUBLISHER_EXTENSIONS)
        for payload in payloads:
            p = RtpPacket(payload_type=111, sequence_number=n, timestamp=stamp, ssrc=ssrc)
            p.payload = payload
            p.extensions.audio_level = (True, level)
            out.append(RtpPacket.parse(p.serialize(mapping), mapping))
    return out


SUBSCRIBER_VIDEO = Negotiated(
    mid="3",
    ssrc=1111,
    payload_type=96,
    rtx=(97, 2222),
    extensions=((1, MID_URI), (3, ABS_SEND_TIME_URI)),
)
SUBSCRIBER_AUDIO = Negotiated(
    mid="4", ssrc=3333, payload_type=111, rtx=None, extensions=((1, MID_URI), (2, AUDIO_LEVEL_URI))
)


class Subscriber:
    """The far end of a slot's wire: SRTP both ways, aiortc parses what arrives."""

    def __init__(self, terms: Negotiated) -> None:
        key = os.urandom(30)
        profile = Policy.SRTP_PROFILE_AES128_CM_SHA1_80
        self._tx = Session(
            Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile)
        )
        self._rx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=profile))
        self.map = extension_map(
            [RTCRtpHeaderExtensionParameters(id=i, uri=uri) for i, uri in terms.extensions]
        )
        self.terms = terms
        self.packets: list[RtpPacket] = []
        self.retransmitted: list[RtpPacket] = []
        self.answer = SENT
        """What `send` says (a test sets BEHIND or DOWN)."""

    def send(self, head: bytes, payload: bytes = b"") -> int:
        if self.answer != SENT:
            return self.answer
        sealed = self._tx.protect(head + payload)
        packet = RtpPacket.parse(self._rx.unprotect(sealed), self.map)
        if self.terms.rtx is not None and packet.ssrc == self.terms.rtx[1]:
            self.retransmitted.append(packet)
        else:
            self.packets.append(packet)
        return SENT

    def original(self, rtx: RtpPacket) -> RtpPacket:
        return unwrap_rtx(rtx, payload_type=self.terms.payload_type, ssrc=self.terms.ssrc)

    def decoded_frames(self) -> int:
        """Frames a VP8 decoder made of everything received, in order of arrival."""
        buffer, decoder, frames = JitterBuffer(capacity=256, is_video=True), Vp8Decoder(), 0
        for packet in self.packets:
            packet._data = depayload(VP8, packet.payload)  # type: ignore[attr-defined]
            _, frame = buffer.add(packet)
            if frame is not None:
                frames += len(decoder.decode(frame))
        return frames
