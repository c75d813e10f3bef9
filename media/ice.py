"""ICE configuration: where the SFU gathers and what it announces, what clients are told.

The SFU gathers host candidates only (it is meant to be reachable; it asks no
STUN server), on `media_host` addresses when set: tests and single-host
deployments pin 127.0.0.1 or one interface. Behind a 1:1 NAT, `media_announce`
is put in its candidates instead of the local address. The STUN/TURN servers
in `ice_servers` are for clients and reach them in the snapshot.

A client's candidates tell the SFU where to send connectivity checks, so a
client could point it at the operator's internal network. Candidates on
private, loopback, link-local and other non-public addresses are refused
unless `allow_private` (`--media-allow-private`: a LAN or loopback test
deployment). A client behind NAT still connects: its checks reach the SFU
from its public address, which the SFU learns (a peer-reflexive candidate).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCBundlePolicy, RTCConfiguration

from media.encoded import gather_on
from web.settings import Settings


@dataclass(frozen=True)
class IceConfig:
    hosts: tuple[str, ...] = ()
    announce: str = ""
    client_servers: list[dict[str, Any]] = field(default_factory=list)
    allow_private: bool = False

    def __post_init__(self) -> None:
        for address in (*self.hosts, *([self.announce] if self.announce else [])):
            ipaddress.ip_address(address)  # ValueError on anything but an IP address

    @classmethod
    def from_settings(cls, settings: Settings) -> IceConfig:
        servers = list(settings.ice_servers)
        return cls(
            settings.media_host, settings.media_announce, servers, settings.media_allow_private
        )

    def admits(self, address: str) -> bool:
        """Whether the SFU may send checks to a client candidate on this address."""
        if self.allow_private:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False  # a name (mDNS): resolving it would send multicast
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return ip.is_global and not ip.is_multicast

    def install(self) -> None:
        """Make aiortc gather on the configured addresses (process-wide, like a socket bind)."""
        if self.hosts:
            gather_on(self.hosts)

    def configuration(self) -> RTCConfiguration:
        """For the SFU's own peer connections: no STUN/TURN, host candidates only.

        Max-bundle: with aiortc's default (balanced), a `sub` transceiver added
        while an offer awaits its answer can keep the transport that the answer's
        BUNDLE then stops, and its track never arrives (browsers bundle always).
        """
        return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)

    def client_view(self) -> list[dict[str, Any]]:
        return [dict(server) for server in self.client_servers]
