"""Media under the class's rules: mute, host mute, the publish lock, rooms, mesh mode."""

from __future__ import annotations

from typing import Any

import pytest
from aiortc import AudioStreamTrack, RTCPeerConnection, RTCSessionDescription

from tests.conftest import Server
from tests.peer import Peer
from tests.rtc_peer import Pattern, Received, RtcClient, config
from web.keys import MEDIA


@pytest.fixture
def server(media_server: Server) -> Server:
    return media_server


def since(peer: Peer) -> int:
    return len(peer.events)


async def test_mute_stops_forwarding_until_unmuted(server: Server) -> None:
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    viewer = RtcClient(await server.join(cid, "viewer"))
    await host.publish(Pattern(), AudioStreamTrack())
    tracks = await viewer.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 2)
    ids = {t["kind"]: t["track_id"] for t in tracks["tracks"]}
    await viewer.frames_of(ids["audio"], 5)
    mark = since(viewer.peer)
    assert await host.peer.call("rtc:mute", {"source": "mic", "muted": True}) == {"ok": True}
    muted = await viewer.peer.wait_for("rtc:tracks", after=mark)
    assert {t["kind"]: t["muted"] for t in muted["tracks"]} == {"audio": True, "video": False}
    event = await viewer.peer.wait_for("rtc:muted")
    assert event == event | {"user_id": "teacher", "source": "mic", "muted": True, "by": "teacher"}
    # While the publisher keeps sending, nothing more of the mic reaches the viewer.
    feed = server.app[MEDIA].sfus[cid].feeds[ids["audio"]]
    heard, sent = viewer.by_track[ids["audio"]], feed.frames
    await viewer.until(lambda: feed.frames >= sent + 25)
    assert viewer.by_track[ids["audio"]] <= heard + 2  # at most what was already in flight
    assert await host.peer.call("rtc:mute", {"source": "mic", "muted": False}) == {"ok": True}
    await viewer.frames_of(ids["audio"], 10)
    for client in (host, viewer):
        await client.close()


async def test_host_mutes_others_participants_may_not(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    talker = RtcClient(await server.join(cid, "talker"))
    other = await server.join(cid, "other")
    await talker.publish(AudioStreamTrack())
    await host.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 1)
    ack = await other.call("rtc:mute_user", {"user_id": "talker", "source": "mic"})
    assert ack["error"]["code"] == "forbidden"
    ack = await host.call("rtc:mute_user", {"user_id": "ghost", "source": "mic"})
    assert ack["error"]["code"] == "not_found"
    assert await host.call("rtc:mute_user", {"user_id": "talker", "source": "mic"}) == {"ok": True}
    event = await talker.peer.wait_for("rtc:muted")
    assert event["by"] == "teacher" and event["user_id"] == "talker" and event["muted"]
    await host.wait_for("rtc:tracks", lambda d: d["tracks"][0]["muted"])
    # Only the user unmutes themself.
    assert await talker.peer.call("rtc:mute", {"source": "mic", "muted": False}) == {"ok": True}
    await host.wait_for("rtc:tracks", lambda d: d["tracks"] and not d["tracks"][0]["muted"])
    await talker.close()


async def test_publish_lock(server: Server) -> None:
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    pupil = RtcClient(await server.join(cid, "pupil"))
    await pupil.publish(Pattern())
    await host.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 1)
    ack = await pupil.peer.call("class:lock", {"publish": False})
    assert ack["error"]["code"] == "forbidden"
    assert await host.peer.call("class:lock", {"publish": False}) == {"ok": True}
    locked = await pupil.peer.wait_for("class:locked")
    assert locked["publish"] is False
    gone = await host.peer.wait_for("rtc:track_unpublished")
    assert gone["user_id"] == "pupil" and gone["reason"] == "locked"
    await host.peer.wait_for("rtc:tracks", lambda d: d["tracks"] == [])
    fresh = RtcClient(pupil.peer)
    assert (await fresh.publish(Pattern()))["error"]["code"] == "forbidden"
    assert (await host.publish(Pattern()))["ok"]  # hosts and moderators always may
    late = await server.join(cid, "late")
    assert late.received("class:state")[0]["locks"] == {"publish": False}
    assert await host.peer.call("class:lock", {"publish": True}) == {"ok": True}
    assert (await fresh.publish(Pattern()))["ok"]
    await host.peer.wait_for(
        "rtc:tracks", lambda d: any(t["user_id"] == "pupil" for t in d["tracks"])
    )
    for client in (host, pupil, fresh):
        await client.close()


async def test_a_moderator_demoted_while_locked_stops_publishing(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    mod = RtcClient(await server.join(cid, "mod", "moderator"))
    assert await host.call("class:lock", {"publish": False}) == {"ok": True}
    assert (await mod.publish(Pattern()))["ok"]
    await host.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 1)
    demoted = await host.call("participant:set_role", {"user_id": "mod", "role": "participant"})
    assert demoted == {"ok": True}
    gone = await host.wait_for("rtc:track_unpublished")
    assert gone["user_id"] == "mod" and gone["reason"] == "locked"
    await mod.close()


async def test_media_follows_room_moves(server: Server) -> None:
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    ann = RtcClient(await server.join(cid, "ann"))
    bob = RtcClient(await server.join(cid, "bob"))
    await host.publish(Pattern())
    await ann.publish(Pattern())
    tracks = await bob.peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 2)
    ids = {t["user_id"]: t["track_id"] for t in tracks["tracks"]}
    await bob.until(lambda: bob.sending() == set(ids.values()))
    await host.until(lambda: host.sending() == {ids["ann"]})
    mark = since(host.peer)
    opened = await host.peer.call(
        "breakout:open",
        {"rooms": [{"name": "Pairs"}], "assignment": "manual", "assignments": {"ann": 0, "bob": 0}},
    )
    assert opened["ok"], opened
    moved = await bob.peer.wait_for("breakout:assigned")
    room = moved["room_id"]
    # Bob now receives only what is published in his room: Ann's camera.
    in_room = await bob.peer.wait_for("rtc:tracks", lambda d: d["room"] == room)
    assert [t["track_id"] for t in in_room["tracks"]] == [ids["ann"]]
    await bob.until(lambda: bob.sending() == {ids["ann"]})
    await bob.frames_of(ids["ann"], 5)
    await host.until(lambda: host.sending() == set())
    main = await host.peer.wait_for("rtc:tracks", after=mark)
    assert main["room"] == "main" and main["tracks"][0]["user_id"] == "teacher"
    assert (await host.peer.call("breakout:close", {"grace_s": 0}))["ok"]
    await bob.until(lambda: bob.sending() == set(ids.values()))
    await bob.frames_of(ids["teacher"], 5)
    await host.frames_of(ids["ann"], 5)
    for client in (host, ann, bob):
        await client.close()


class MeshPeer:
    """One end of a direct connection, signaled through `rtc:signal`."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.pc = RTCPeerConnection(config())
        self.got = Received("video")

    async def offer_to(self, to: str) -> Any:
        self.pc.addTrack(Pattern())
        await self.pc.setLocalDescription(await self.pc.createOffer())
        data = {"sdp": self.pc.localDescription.sdp, "type": "offer"}
        return await self.peer.call("rtc:signal", {"to": to, "data": data})


async def test_mesh_mode_relays_signals_within_a_room(server: Server) -> None:
    cid = await server.create_class(media="mesh")
    ann = MeshPeer(await server.join(cid, "ann"))
    bob = MeshPeer(await server.join(cid, "bob"))
    assert ann.peer.received("class:state")[0]["media"]["mode"] == "mesh"
    frames: list[Any] = []
    bob.pc.on("track", lambda track: frames.append(track))
    assert await ann.offer_to("bob") == {"ok": True}
    signal = await bob.peer.wait_for("rtc:signal")
    assert signal["from"] == "ann" and signal["data"]["type"] == "offer"
    await bob.pc.setRemoteDescription(RTCSessionDescription(**signal["data"]))
    await bob.pc.setLocalDescription(await bob.pc.createAnswer())
    answer = {"sdp": bob.pc.localDescription.sdp, "type": "answer"}
    assert await bob.peer.call("rtc:signal", {"to": "ann", "data": answer}) == {"ok": True}
    back = await ann.peer.wait_for("rtc:signal")
    assert back == {"from": "bob", "data": answer}
    await ann.pc.setRemoteDescription(RTCSessionDescription(**back["data"]))
    (track,) = frames
    frame = await track.recv()  # a direct connection, nothing through the server
    assert (frame.width, frame.height) == (160, 120)
    ack = await ann.peer.call("rtc:signal", {"to": "ghost", "data": {}})
    assert ack["error"]["code"] == "not_found"
    ack = await ann.peer.call("rtc:signal", {"to": "ann", "data": {}})
    assert ack["error"]["code"] == "bad_request"
    ack = await ann.peer.call("rtc:signal", {"to": "bob", "data": {"sdp": "y" * 40_000}})
    assert ack["error"]["code"] == "too_large"
    ack = await ann.peer.call("rtc:publish", {"sdp": "v=0", "type": "offer"})
    assert ack["error"]["code"] == "conflict"
    for end in (ann, bob):
        await end.pc.close()


async def test_mesh_signals_stay_in_the_room(server: Server) -> None:
    cid = await server.create_class(media="mesh")
    host = await server.join(cid, "teacher", "host")
    ann = await server.join(cid, "ann")
    await server.join(cid, "bob")
    opened = await host.call(
        "breakout:open",
        {"rooms": [{"name": "A"}], "assignment": "manual", "assignments": {"ann": 0}},
    )
    assert opened["ok"], opened
    await ann.wait_for("breakout:assigned")
    ack = await ann.call("rtc:signal", {"to": "bob", "data": {"type": "offer", "sdp": "x"}})
    assert ack["error"]["code"] == "conflict"


async def test_sfu_classes_refuse_mesh_signals(server: Server) -> None:
    cid = await server.create_class()
    ann = await server.join(cid, "ann")
    await server.join(cid, "bob")
    ack = await ann.call("rtc:signal", {"to": "bob", "data": {}})
    assert ack["error"]["code"] == "conflict"


async def offer_sdp(direction: str | None) -> str:
    """An aiortc offer: with a camera track (direction None), or a bare video transceiver."""
    pc = RTCPeerConnection(config())
    if direction is None:
        pc.addTrack(Pattern())
    else:
        pc.addTransceiver("video", direction=direction)
    await pc.setLocalDescription(await pc.createOffer())
    text = str(pc.localDescription.sdp)
    await pc.close()
    return text


async def test_mesh_publish_lock_lets_participants_receive_but_not_send(server: Server) -> None:
    cid = await server.create_class(media="mesh")
    host = await server.join(cid, "teacher", "host")
    ann = await server.join(cid, "ann")
    sending, receiving = await offer_sdp(None), await offer_sdp("recvonly")
    assert (await host.call("class:lock", {"publish": False}))["ok"]
    await ann.wait_for("class:locked")

    def signal(peer: Peer, to: str, data: dict[str, Any]) -> Any:
        return peer.call("rtc:signal", {"to": to, "data": data})

    browser_form = {"description": {"type": "offer", "sdp": sending}, "sources": {}}
    for refused in (
        {"type": "offer", "sdp": sending},
        browser_form,
        {"description": {"type": "offer", "sdp": receiving}, "sources": {"s1": "camera"}},
    ):
        ack = await signal(ann, "teacher", refused)
        assert ack["error"]["code"] == "forbidden", refused
    assert ann.received("rtc:signal") == [] and host.received("rtc:signal") == []
    for allowed in (
        {"description": {"type": "offer", "sdp": receiving}, "sources": {}},
        {"candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"}},
    ):
        assert await signal(ann, "teacher", allowed) == {"ok": True}
    # Hosts and moderators always may send; unlocked, everyone may again.
    assert await signal(host, "ann", browser_form) == {"ok": True}
    assert (await host.call("class:lock", {"publish": True}))["ok"]
    await ann.wait_for("class:locked", lambda d: d["publish"])
    assert await signal(ann, "teacher", browser_form) == {"ok": True}
