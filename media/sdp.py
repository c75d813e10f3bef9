"""Checking the SDP clients send before aiortc sees it, and reading what was negotiated.

A client's offer or answer is refused with `bad_request` when it is too big,
is not SDP, has no audio or video, lacks what a WebRTC session needs (mid,
ICE credentials, DTLS fingerprint) or offers no codec the SFU forwards. A
refusal touches no peer connection: the sender's own state, and everyone
else's, stay as they were.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from aiortc import RTCIceCandidate
from aiortc.sdp import SessionDescription, candidate_from_sdp

from classroom.errors import DomainError

MAX_SDP = 32 * 1024
MAX_SECTIONS = 16
FORWARDED = {"audio": ("opus",), "video": ("vp8", "h264")}
"""Codecs the SFU forwards, in its order of preference."""
SENDING = ("sendonly", "sendrecv")
DIRECTIONS = ("sendrecv", "sendonly", "recvonly", "inactive")

_LINE = re.compile(r"^[a-z]=[\x20-\x7e]*$")
_MLINE = re.compile(r"^m=(\w+) (\d{1,5})(?:/\d+)? ([A-Za-z/]+) ([\w .-]+)$")
_RTPMAP = re.compile(r"^a=rtpmap:(\d{1,3}) ([\w.-]+)/(\d+)")
_CANDIDATE_HOST = re.compile(r"^(a=candidate:\S+ \d+ \w+ \d+ )(\S+)( \d+ typ host\b.*)$")
_CONNECTION = re.compile(r"^c=IN IP[46] \S+$")
_RECEIVE_ESTIMATE = re.compile(
    r"^a=(rtcp-fb:\d+ goog-remb"
    r"|extmap:\d+(?:/\w+)? http://www\.webrtc\.org/experiments/rtp-hdrext/abs-send-time)$"
)
_CANDIDATE = re.compile(r"^a=candidate:\S+ \d+ \w+ \d+ (\S+) ")


def bad(message: str) -> DomainError:
    return DomainError("bad_request", message)


@dataclass
class Section:
    """One m= section."""

    index: int
    kind: str
    port: int
    mid: str = ""
    direction: str = "sendrecv"
    codecs: list[str] = field(default_factory=list)
    """Lower-case codec names in the order of the m= line's payload types."""
    _payload_types: list[str] = field(default_factory=list)
    _names: dict[str, str] = field(default_factory=dict)

    @property
    def media(self) -> bool:
        return self.kind in ("audio", "video")

    @property
    def sends(self) -> bool:
        """Whether the side that wrote this section sends media on it."""
        return self.media and self.port != 0 and self.direction in SENDING

    @property
    def codec(self) -> str:
        """The first forwarded codec listed, `""` if none is."""
        return next((name for name in self.codecs if name in FORWARDED.get(self.kind, ())), "")


@dataclass
class Description:
    type: str
    text: str
    sections: list[Section]

    def section(self, mid: str) -> Section | None:
        return next((s for s in self.sections if s.mid == mid), None)


def parse(
    text: str, expect: Literal["offer", "answer"], admit: Callable[[str], bool] = lambda _: True
) -> Description:
    """Check a client's SDP and return its sections; `text` is the SDP to hand to aiortc.

    Candidates whose address `admit` refuses are left out (see media/ice.py),
    and then so is end-of-candidates: the SFU waits for the client's checks,
    which tell it an address the client is reachable at.
    """
    if len(text.encode("utf-8", "replace")) > MAX_SDP:
        raise bad(f"the SDP is larger than {MAX_SDP // 1024} KiB")
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line]
    if not lines or lines[0] != "v=0":
        raise bad("not an SDP session description (it must start with v=0)")
    for number, line in enumerate(lines, 1):
        if not _LINE.match(line):
            raise bad(f"SDP line {number} is malformed")
    session, sections = _sections(lines)
    media = [s for s in sections if s.media]
    if not media:
        raise bad("the SDP has no audio or video")
    _require_transport(lines, session, sections)
    kept = [line for line in lines if not _mdns_candidate(line) and _admitted(line, admit)]
    if any(not _admitted(line, admit) for line in lines):
        kept = [line for line in kept if line != "a=end-of-candidates"]
    cleaned = "\r\n".join(kept) + "\r\n"
    try:
        SessionDescription.parse(cleaned)
    except Exception as exc:  # aiortc's parser asserts and indexes: any failure is bad input
        raise bad(f"the SDP could not be parsed: {type(exc).__name__}") from exc
    return Description(expect, cleaned, sections)


def sections(text: str) -> list[Section]:
    """The sections of an SDP we wrote ourselves (our answer: what was negotiated)."""
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line]
    return _sections(lines)[1]


def _sections(lines: list[str]) -> tuple[list[str], list[Section]]:
    session: list[str] = []
    sections: list[Section] = []
    for line in lines:
        if line.startswith("m="):
            sections.append(_section(line, len(sections)))
            if len(sections) > MAX_SECTIONS:
                raise bad(f"the SDP has more than {MAX_SECTIONS} media sections")
        elif sections:
            _attribute(sections[-1], line)
        else:
            session.append(line)
    for sec in sections:
        sec.codecs = [sec._names[pt] for pt in sec._payload_types if pt in sec._names]
    return session, sections


def _section(line: str, index: int) -> Section:
    found = _MLINE.match(line)
    if found is None:
        raise bad(f"malformed media line {index}")
    kind, port, proto, fmt = found.groups()
    if int(port) > 65535:
        raise bad(f"media section {index} has a bad port")
    sec = Section(index=index, kind=kind, port=int(port))
    if sec.media:
        if "RTP/SAVPF" not in proto:
            raise bad(f"media section {index} is not secure RTP (UDP/TLS/RTP/SAVPF)")
        sec._payload_types = fmt.split()
    return sec


def _attribute(sec: Section, line: str) -> None:
    if line.startswith("a=mid:"):
        sec.mid = line[6:].strip()
    elif line[2:] in DIRECTIONS:
        sec.direction = line[2:]
    elif found := _RTPMAP.match(line):
        sec._names[found.group(1)] = found.group(2).lower()


def _require_transport(lines: list[str], session: list[str], sections: list[Section]) -> None:
    text = "\n".join(lines)
    for attribute in ("a=ice-ufrag:", "a=ice-pwd:", "a=fingerprint:"):
        if attribute not in text:
            raise bad(f"the SDP has no {attribute[2:-1]}")
    mids = [s.mid for s in sections]
    if any(not mid or len(mid) > 32 for mid in mids) or len(set(mids)) != len(mids):
        raise bad("every media section needs its own a=mid (at most 32 characters)")


def candidate_address(line: str) -> str | None:
    """The address of a candidate line (`candidate:...`, with or without `a=`)."""
    found = _CANDIDATE.match("a=" + line.removeprefix("a="))
    return found.group(1) if found else None


def _admitted(line: str, admit: Callable[[str], bool]) -> bool:
    found = _CANDIDATE.match(line)
    return found is None or admit(found.group(1))


def _mdns_candidate(line: str) -> bool:
    """Host candidates named by mDNS: resolving them would send multicast; skip them."""
    found = _CANDIDATE_HOST.match(line)
    return found is not None and found.group(2).endswith(".local")


def check_publishable(offer: Description) -> list[Section]:
    """The sections of a publish offer that send media; each must offer a forwarded codec."""
    sending = [s for s in offer.sections if s.sends]
    for sec in sending:
        if not sec.codec:
            wanted = " or ".join(FORWARDED[sec.kind])
            raise bad(f"section {sec.mid!r} offers no {wanted} codec")
    return sending


def announce(text: str, address: str) -> str:
    """Our own SDP with `address` in place of the gathered host address (behind 1:1 NAT)."""
    if not address:
        return text
    out = []
    for line in text.split("\r\n"):
        if found := _CANDIDATE_HOST.match(line):
            line = found.group(1) + address + found.group(3)
        elif _CONNECTION.match(line):
            line = f"c=IN IP{'6' if ':' in address else '4'} {address}"
        out.append(line)
    return "\r\n".join(out)


def candidate(line: str | None, mid: str | None, index: int | None) -> RTCIceCandidate | None:
    """A trickled candidate (None: the end of candidates); `bad_request` if malformed."""
    if not line:
        return None
    try:
        found = candidate_from_sdp(line.removeprefix("a=").removeprefix("candidate:"))
    except Exception as exc:
        raise bad("malformed ICE candidate") from exc
    found.sdpMid, found.sdpMLineIndex = mid, index
    if mid is None and index is None:
        found.sdpMLineIndex = 0
    return found


def mdns(found: RTCIceCandidate) -> bool:
    """Named by mDNS: resolving it would multicast, so it is skipped."""
    return bool(found.ip.endswith(".local"))


def without_receive_estimate(text: str) -> str:
    """Our `sub` offer without REMB feedback and the abs-send-time extension it is computed
    from: the SFU sets no bitrate from it (it never encodes), so subscribers need not
    estimate, nor send the estimate; browsers do neither when it is not negotiated (aiortc
    receivers send REMB whenever abs-send-time comes), and each packet is 4 bytes shorter."""
    return "\r\n".join(line for line in text.split("\r\n") if not _RECEIVE_ESTIMATE.match(line))
