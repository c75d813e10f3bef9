"""Who is asking: a client's address, for limits per address, read through trusted proxies.

Behind a reverse proxy every request comes from the proxy; the address the
proxy saw is the right-most `X-Forwarded-For` entry that is not itself a
trusted proxy (entries left of it are whatever the client wrote). From any
other peer the header is ignored. Loopback is trusted by default: a proxy on
the same machine is the usual deployment. An IPv6 client holds a whole /64,
so its address counts as that /64. A client on this machine itself (loopback,
no proxy hop) is not limited per address: it is the operator's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(specs: Sequence[str]) -> tuple[Network, ...]:
    """Parse `--trusted-proxy` values: addresses or CIDR networks (ValueError if not)."""
    return tuple(ipaddress.ip_network(spec.strip(), strict=False) for spec in specs if spec.strip())


LOOPBACK = ("127.0.0.0/8", "::1")


def local(address: str) -> bool:
    """Whether a client address (as `client_address` gives it) is this machine."""
    try:
        return ipaddress.ip_network(address, strict=False).is_loopback
    except ValueError:
        return False


def client_address(request: web.BaseRequest, proxies: Sequence[Network] = ()) -> str:
    peer = request.remote or ""
    if not _trusted(peer, proxies):
        return _grouped(peer)
    forwarded = request.headers.getall("X-Forwarded-For", [])
    hops = [hop.strip() for value in forwarded for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return _grouped(hop)
    return _grouped(peer)


def _trusted(address: str, proxies: Sequence[Network]) -> bool:
    if not proxies:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in proxies)


def _grouped(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
