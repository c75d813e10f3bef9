"""A subscriber's `sub` connection: what the SFU asks of it, and the one that lives in this process.

The SFU speaks to a `Downlink` by slot number: add a slot (one sending
m-line) of a kind and codec, bind a slot to a feed or to nothing, make an
offer, take the answer and trickled candidates, close. `LocalDownlink` does
it with an `RTCPeerConnection` here; `media.workers.RemoteDownlink` asks a
media worker process to do the same with its own `LocalDownlink`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender, RTCSessionDescription

from classroom.errors import DomainError
from media import sdp
from media.tracks import Feed, Slot, Tally


class Downlink(Protocol):
    on_lost: Callable[[], None] | None
    """Called if the connection is gone for good (its media worker died)."""

    @property
    def stable(self) -> bool:
        """No offer of ours awaits an answer."""

    def add_slot(self, kind: str, mime: str) -> int: ...
    def bind(self, index: int, feed: Feed | None) -> None: ...
    async def offer(self) -> tuple[str, dict[str, int]]:
        """A new offer: its SDP and which slot each mid is."""

    async def answer(self, text: str) -> None: ...
    async def candidate(self, line: str | None, mid: str | None, index: int | None) -> None: ...
    async def close(self) -> None: ...


class LocalDownlink:
    def __init__(self, config: RTCConfiguration, tally: Tally) -> None:
        self.pc = RTCPeerConnection(config)
        self.slots: list[Slot] = []
        self.on_lost: Callable[[], None] | None = None
        self._tally = tally

    @property
    def stable(self) -> bool:
        return bool(self.pc.signalingState == "stable")

    def add_slot(self, kind: str, mime: str) -> int:
        slot = Slot(kind, mime, tally=self._tally)
        transceiver = self.pc.addTransceiver(slot, direction="inactive")
        # The codec the feed has, and RTX for retransmissions (NACKs answered on their own stream).
        wanted = (mime.lower(), f"{kind}/rtx")
        codecs = RTCRtpSender.getCapabilities(kind).codecs
        transceiver.setCodecPreferences([c for c in codecs if c.mimeType.lower() in wanted])
        slot.attach(transceiver)
        self.slots.append(slot)
        return len(self.slots) - 1

    def bind(self, index: int, feed: Feed | None) -> None:
        self.slots[index].bind(feed)
        transceiver = self.pc.getTransceivers()[index]
        transceiver.direction = "sendonly" if feed is not None else "inactive"

    async def offer(self) -> tuple[str, dict[str, int]]:
        if self.pc.signalingState == "closed":
            raise DomainError("conflict", "the sub connection is closed")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        mids = {t.mid: i for i, t in enumerate(self.pc.getTransceivers()) if t.mid is not None}
        return str(self.pc.localDescription.sdp), mids

    async def answer(self, text: str) -> None:
        if self.pc.signalingState != "have-local-offer":
            raise DomainError("conflict", "no offer is waiting for an answer")
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(text, "answer"))
        except Exception as exc:
            raise DomainError("bad_request", f"the answer could not be applied: {exc}") from exc

    async def candidate(self, line: str | None, mid: str | None, index: int | None) -> None:
        if self.pc.remoteDescription is None:
            raise DomainError("conflict", "the sub connection is not negotiated yet")
        found = sdp.candidate(line, mid, index)
        if found is None or not sdp.mdns(found):
            await self.pc.addIceCandidate(found)

    async def close(self) -> None:
        for slot in self.slots:
            slot.stop()
        await self.pc.close()
