"""The transcoding baseline of bench/sfu.py: a bare aiortc server that decodes a published
track and encodes it again for each subscriber (aiortc's `MediaRelay` feeding one encoding
sender each, unbuffered: each encodes the newest picture, as a live server must), the usual
way to fan out a track with aiortc. Never the product's path.

`python -m bench.sfu_baseline --port N` serves `POST /publish` and `POST /subscribe`
(an offer in, an answer out) on 127.0.0.1; it prints `listening`, then the frames its
senders encoded (`{"sent": n}`) each time a `count` line comes on stdin.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from aiohttp import web
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

from media.encoded import gather_on


def config() -> RTCConfiguration:
    return RTCConfiguration(iceServers=[])


class Counted(MediaStreamTrack):
    """Passes a track's frames on, counting them (each is one encode by its sender)."""

    kind = "video"

    def __init__(self, inner: MediaStreamTrack, counter: list[int]) -> None:
        super().__init__()
        self.inner, self.counter = inner, counter

    async def recv(self) -> Any:
        frame = await self.inner.recv()
        self.counter[0] += 1
        return frame


async def baseline_server(port: int) -> None:
    relay = MediaRelay()
    encoded = [0]
    source: list[MediaStreamTrack] = []
    ready = asyncio.Event()
    pcs: list[RTCPeerConnection] = []

    async def answer(pc: RTCPeerConnection, request: web.Request) -> web.Response:
        offer = await request.json()
        await pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], offer["type"]))
        await pc.setLocalDescription(await pc.createAnswer())
        pcs.append(pc)
        return web.json_response({"sdp": pc.localDescription.sdp, "type": "answer"})

    async def publish(request: web.Request) -> web.Response:
        pc = RTCPeerConnection(config())

        def on_track(track: MediaStreamTrack) -> None:
            source.append(track)  # a decoding receiver: frames come out as pictures
            ready.set()

        pc.on("track", on_track)
        return await answer(pc, request)

    async def subscribe(request: web.Request) -> web.Response:
        await ready.wait()
        pc = RTCPeerConnection(config())
        # Each sender encodes a copy of the newest picture. Buffered, the relay would hand a
        # subscriber every picture decoded since the publisher began, seconds stale, and its
        # encoder would run flat out to catch up (50 frames a second from a 30 fps source).
        live = relay.subscribe(source[0], buffered=False)
        pc.addTrack(Counted(live, encoded))
        return await answer(pc, request)

    app = web.Application()
    app.router.add_post("/publish", publish)
    app.router.add_post("/subscribe", subscribe)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("listening", flush=True)
    loop = asyncio.get_running_loop()
    while (await loop.run_in_executor(None, sys.stdin.readline)).strip() == "count":
        print(json.dumps({"sent": encoded[0]}), flush=True)
    for pc in pcs:
        await pc.close()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m bench.sfu_baseline", description=__doc__.split("\n")[0]
    )
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args(argv)
    gather_on(["127.0.0.1"])  # every connection of the benchmark stays on loopback
    asyncio.run(baseline_server(args.port))


if __name__ == "__main__":
    main(sys.argv[1:])
