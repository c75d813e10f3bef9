"""Client ICE candidates cannot point the SFU at private networks: refused unless the
server is told the network is its own (`--media-allow-private`)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from media import sdp
from media.ice import IceConfig
from tests.conftest import Server, running, settings_for
from tests.rtc_peer import Pattern, RtcClient
from web.settings import Settings

PRIVATE = [
    "10.1.2.3",
    "172.16.0.9",
    "192.168.1.20",
    "127.0.0.1",
    "169.254.10.10",
    "100.64.0.1",
    "0.0.0.0",
    "::1",
    "fe80::1",
    "fd12:3456::1",
    "::ffff:192.168.1.1",
    "224.0.0.251",
    "printer.local",
]
PUBLIC = ["8.8.8.8", "2001:4860:4860::8888", "::ffff:8.8.4.4"]


@pytest.fixture
async def public_sfu(tmp_path: Path) -> AsyncIterator[Server]:
    """A server that, like a real deployment, takes no private candidates from clients."""
    async with running(settings_for(tmp_path, media_host=("127.0.0.1",))) as server:
        yield server


def candidate(address: str) -> dict[str, object]:
    line = f"candidate:1 1 udp 2122260223 {address} 50000 typ host"
    return {"candidate": line, "sdpMid": "0", "sdpMLineIndex": 0}


@pytest.mark.parametrize("address", PRIVATE)
async def test_candidates_on_private_addresses_are_refused(
    public_sfu: Server, address: str
) -> None:
    cid = await public_sfu.create_class()
    ada = await public_sfu.join(cid, "ada")
    ack = await ada.call("rtc:candidate", {"pc": "pub", "candidate": candidate(address)})
    assert ack["error"]["code"] == "forbidden"


async def test_a_loopback_deployment_may_allow_them(media_server: Server) -> None:
    cid = await media_server.create_class()
    ada = await media_server.join(cid, "ada")
    ack = await ada.call("rtc:candidate", {"pc": "pub", "candidate": candidate("127.0.0.1")})
    assert ack["error"]["code"] == "conflict"  # past the address check: nothing negotiated yet


def test_public_addresses_are_admitted() -> None:
    ice = IceConfig.from_settings(Settings())
    assert all(ice.admits(address) for address in PUBLIC)
    assert not any(ice.admits(address) for address in PRIVATE)
    assert IceConfig(allow_private=True).admits("10.1.2.3")


def test_candidates_in_an_offer_are_filtered_alike() -> None:
    lines = [
        "v=0", "o=- 1 1 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=fingerprint:sha-256 AA",
        "m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=mid:0", "a=sendonly",
        "a=ice-ufrag:abcd", "a=ice-pwd:abcdefghijklmnopqrstuvwx", "a=rtpmap:96 VP8/90000",
        "a=candidate:1 1 udp 2122260223 192.168.1.20 50000 typ host",
        "a=candidate:2 1 udp 1686052607 8.8.8.8 50001 typ srflx raddr 0.0.0.0 rport 0",
        "a=end-of-candidates",
    ]  # fmt: skip
    text = "\r\n".join(lines) + "\r\n"
    kept = sdp.parse(text, "offer", IceConfig().admits).text
    assert "8.8.8.8" in kept and "192.168.1.20" not in kept
    # The SFU then waits for the client's checks instead of failing when candidates end.
    assert "end-of-candidates" not in kept


async def test_a_client_on_a_private_network_still_connects(public_sfu: Server) -> None:
    # Its own candidates are refused, but its checks reach the SFU from its address,
    # which the SFU learns and answers: the connection forms both ways.
    cid = await public_sfu.create_class()
    host = RtcClient(await public_sfu.join(cid, "teacher", "host"))
    ada = RtcClient(await public_sfu.join(cid, "ada"))
    assert (await host.publish(Pattern()))["ok"]
    tracks = await ada.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 1)
    await ada.frames_of(tracks["tracks"][0]["track_id"], 5)
    for client in (host, ada):
        await client.close()
