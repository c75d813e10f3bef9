"""The lean Engine.IO writer every socket gets, over both transports."""

from __future__ import annotations

from signaling.eio_writer import LeanSocket
from tests.conftest import Server
from web.keys import GATEWAY

BURST = 8  # within the chat rate limit's burst


async def test_every_transport_gets_a_burst_in_order(server: Server) -> None:
    cid = await server.create_class()
    sender = await server.join(cid, "teacher", "host")
    on_ws = await server.join(cid, "ada")
    on_polling = server.peer(server.token(cid, "bob"), transports=("polling",))
    await on_polling.connect()
    upgraded = server.peer(server.token(cid, "cy"), transports=("polling", "websocket"))
    await upgraded.connect()

    for i in range(BURST):
        assert await sender.call("chat:send", {"text": f"m{i}"}) == {"ok": True}
    for peer in (on_ws, on_polling, upgraded):
        await peer.wait_for("chat:message", lambda d: d["text"] == f"m{BURST - 1}")
        assert [m["text"] for m in peer.received("chat:message")] == [f"m{i}" for i in range(BURST)]


async def test_each_socket_has_the_lean_writer_and_it_stops_on_disconnect(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    peer = await server.join(cid, "ada")
    eio = server.app[GATEWAY].sio.eio
    assert eio.sockets and all(type(s) is LeanSocket for s in eio.sockets.values())

    await peer.sio.disconnect()
    await host.wait_for("participant:left", lambda d: d["user_id"] == "ada")
    # The server can still broadcast after the writer of a closed socket stopped.
    assert await host.call("chat:send", {"text": "still here"}) == {"ok": True}
    await host.wait_for("chat:message", lambda d: d["text"] == "still here")
