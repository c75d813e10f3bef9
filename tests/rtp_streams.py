"""Real RTP for forwarding tests: VP8 from libvpx and Opus from libopus, packetized by aiortc,
and a subscriber's end that checks what the SFU writes (SRTP, then aiortc's own parser)."""

from __future__ import annotations

import contextlib
import fractions
import os
import random
import socket
import struct

import av
from aiortc import (
    RTCCertificate,
    RTCConfiguration,
    RTCDtlsTransport,
    RTCIceGatherer,
    RTCIceTransport,
    RTCPeerConnection,
    RTCRtpCodecParameters,
    RTCSessionDescription,
)
from aiortc.codecs import depayload
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Decoder, Vp8Encoder
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpparameters import RTCRtpHeaderExtensionParameters, RTCRtpParameters
from aiortc.rtp import HeaderExtensionsMap, RtpPacket, unwrap_rtx
from pylibsrtp import SRTP_MAX_TRAILER_LEN, Policy, Session

from media.downlink import LocalDownlink
from media.encoded import Negotiated, gather_on
from media.lanes import Port
from media.packets import ABS_SEND_TIME_URI, AUDIO_LEVEL_URI, MID_URI
from media.tracks import Feed, Tally
from media.wire import BEHIND, DOWN, REFUSED, ROOM, SEALER, SENT, handle_of
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
        sending = Policy(key=key, ssrc_type=Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile)
        sending.allow_repeat_tx = True  # as aiortc's: a packet protected but not sent is again
        self._tx = Session(sending)
        self._rx = Session(Policy(key=key, ssrc_type=Policy.SSRC_ANY_INBOUND, srtp_profile=profile))
        self.map = extension_map(
            [RTCRtpHeaderExtensionParameters(id=i, uri=uri) for i, uri in terms.extensions]
        )
        self.terms = terms
        self._packets: list[RtpPacket] = []
        self._retransmitted: list[RtpPacket] = []
        self.answer = SENT
        """What `send` says (a test sets BEHIND or DOWN)."""

    def send(self, head: bytes, payload: bytes = b"") -> int:
        if self.answer != SENT:
            return self.answer
        if len(head) + len(payload) > ROOM - SRTP_MAX_TRAILER_LEN:
            return REFUSED  # as media.wire.Sealer
        self._received(self._tx.protect(head + payload))
        return SENT

    @property
    def packets(self) -> list[RtpPacket]:
        """What arrived on the stream, in order."""
        return self._packets

    @property
    def retransmitted(self) -> list[RtpPacket]:
        """What arrived on the RTX stream."""
        return self._retransmitted

    def _received(self, sealed: bytes) -> None:
        packet = RtpPacket.parse(self._rx.unprotect(sealed), self.map)
        if self.terms.rtx is not None and packet.ssrc == self.terms.rtx[1]:
            self._retransmitted.append(packet)
        else:
            self._packets.append(packet)

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


class Looped(Subscriber):
    """A subscriber reached over a UDP socket on 127.0.0.1, with a `port`: a slot sends its
    steady packets to it through the native fan-out (`media.lanes`), the others through
    `send`, on the same socket and SRTP session. `packets` reads what arrived."""

    def __init__(self, terms: Negotiated, host: str = "127.0.0.1") -> None:
        super().__init__(terms)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._inbox = socket.socket(family, socket.SOCK_DGRAM)
        self._inbox.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self._inbox.bind((host, 0))
        self._inbox.setblocking(False)
        self._out = socket.socket(family, socket.SOCK_DGRAM)
        self._out.bind((host, 0))
        self._out.setblocking(False)
        self._address = self._inbox.getsockname()
        self._full: list[socket.socket] = []
        self.port = Port()
        self.answer = SENT

    @property
    def answer(self) -> int:
        """What sending does: SENT; DOWN (the port is down); BEHIND (the port points at a
        socket whose peer's queue is full, so the kernel refuses with EAGAIN)."""
        return self._answer

    @answer.setter
    def answer(self, status: int) -> None:
        self._answer = status
        if "port" not in vars(self):
            return  # Subscriber.__init__: Looped's sets it again
        if status == SENT:
            self.port.point(handle_of(self._tx), self._out.fileno(), self._address)
        elif status == DOWN:
            self.port.down()
        elif status == BEHIND:
            self._point_at_full_queue()

    def _point_at_full_queue(self) -> None:
        name = f"\0classroom-test-{os.getpid()}-{id(self)}".encode()
        sink, source = (
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM),
            socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM),
        )
        self._full += [sink, source]
        sink.bind(name)
        source.setblocking(False)
        for _ in range(100_000):  # the kernel's queue for a datagram socket is bounded
            try:
                source.sendto(bytes(1000), name)
            except BlockingIOError:
                break
        raw = struct.pack("=H", socket.AF_UNIX) + name
        self.port.c.fd, self.port.c.address_length = source.fileno(), len(raw)
        self.port.c.address[0 : len(raw)] = raw

    def send(self, head: bytes, payload: bytes = b"") -> int:
        if self.answer != SENT:
            return self.answer
        return SEALER.send(handle_of(self._tx), head, payload, self._out.sendto, self._address)

    @property
    def packets(self) -> list[RtpPacket]:
        self.read()
        return self._packets

    @property
    def retransmitted(self) -> list[RtpPacket]:
        self.read()
        return self._retransmitted

    def read(self) -> None:
        """Take in every datagram that arrived (the kernel keeps them in order)."""
        with contextlib.suppress(BlockingIOError):
            while True:
                self._received(self._inbox.recv(2048))

    def close(self) -> None:
        self.port.down()
        for made in (self._out, self._inbox, *self._full):
            made.close()


async def downlinks_to(
    feed: Feed, count: int
) -> tuple[list[LocalDownlink], list[RTCPeerConnection]]:
    """`count` subscriber connections on 127.0.0.1, each with a slot bound to `feed`: the
    server's side and the far end, negotiated (they connect by themselves)."""
    gather_on(["127.0.0.1"])
    config = RTCConfiguration(iceServers=[])
    downlinks = [LocalDownlink(config, Tally()) for _ in range(count)]
    fars = [RTCPeerConnection(config) for _ in downlinks]
    for downlink, far in zip(downlinks, fars, strict=True):
        downlink.bind(downlink.add_slot(feed.kind, feed.mime), feed)
        await negotiate(downlink, far)
    return downlinks, fars


async def negotiate(downlink: LocalDownlink, far: RTCPeerConnection) -> None:
    """The server's offer, the far end's answer (they connect by themselves)."""
    text, _ = await downlink.offer()
    await far.setRemoteDescription(RTCSessionDescription(text, "offer"))
    await far.setLocalDescription(await far.createAnswer())
    await downlink.answer(far.localDescription.sdp)


def transport() -> RTCDtlsTransport:
    """A DTLS transport on an ICE transport that gathers nothing: never connected."""
    gatherer = RTCIceGatherer(iceServers=[])
    return RTCDtlsTransport(RTCIceTransport(gatherer), [RTCCertificate.generateCertificate()])


def srtcp_to(dtls: RTCDtlsTransport) -> Session:
    """Give a DTLS transport that never connected a receiving SRTP session, as its handshake
    would: the far end's sending session of the same key."""
    key = bytes(range(30))
    profile = Policy.SRTP_PROFILE_AES128_CM_SHA1_80
    dtls._rx_srtp = Session(Policy(key, Policy.SSRC_ANY_INBOUND, srtp_profile=profile))
    return Session(Policy(key, Policy.SSRC_ANY_OUTBOUND, srtp_profile=profile))
