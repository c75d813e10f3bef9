"""A media worker process: subscribers' `sub` connections, fed by the server over one local socket.

Started by `media.workers.WorkerPool` as `python -m media.worker --fd N`; the
server holds the other end of the socket (`media.link`). The worker knows
no class, no user and no room: feeds by number, downlinks by number, and
slots by their place in a downlink. It hosts `downlink.LocalDownlink`s
exactly as the server does in process, and mirrors each feed it is sent
(`tracks.Feed`: the same fan-out, packet history and keyframe requests).

Orders from the server (control messages, `op`):

- `feed {feed, kind, mime}` / `drop_feed {feed}`: a feed's packets start or
  stop coming; `report {feed, epoch, ntp, rtp}`: its publisher's sender report;
- `open {sub}`, `slot {sub, kind, mime}` (slots are numbered in order),
  `bind {sub, slot, feed | null}`, `close {sub}`;
- `offer {sub, id}`, `answer {sub, id, sdp}`, `candidate {sub, id, line,
  mid, index}`: answered `{re: id}` with `sdp` and `mids`, or with
  `error: [code, message]`.

Events to the server (`ev`): `ready`; `keyframe {feed}` (a subscriber needs
one: already rate-limited here, and again there); `stats` every
`STATS_S` (this worker's forwarding totals, connections, streams).

The worker exits when the socket closes: it never outlives its server.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import socket
import sys
from typing import Any

from aiortc import RTCConfiguration

from classroom.errors import DomainError
from media.downlink import LocalDownlink
from media.ice import IceConfig
from media.link import Link
from media.packets import Packet
from media.tracks import Feed, Tally
from signaling.tasks import TaskSet

log = logging.getLogger(__name__)

STATS_S = 0.25


class Worker:
    def __init__(self, config: RTCConfiguration) -> None:
        self.config = config
        self.tally = Tally()
        self.feeds: dict[int, Feed] = {}
        self.downlinks: dict[int, LocalDownlink] = {}
        self.link = Link(self.on_control, self.on_packet)
        self._tasks = TaskSet()

    # -- packets -------------------------------------------------------------------

    def on_packet(self, number: int, epoch: int, resync: bool, packet: Packet) -> None:
        feed = self.feeds.get(number)
        if feed is not None:
            feed.push(packet, epoch, resync)

    # -- orders --------------------------------------------------------------------

    def on_control(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        handler = getattr(self, f"_op_{op}", None)
        if handler is None:
            log.warning("unknown order %r", op)
            return
        if "id" in message:
            self._spawn(self._answer(handler, message))
        else:
            try:
                handler(message)
            except Exception:
                log.exception("order %r failed", op)

    async def _answer(self, handler: Any, message: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"re": message["id"]}
        try:
            reply |= await handler(message) or {}
        except DomainError as exc:
            reply["error"] = [exc.code, exc.message]
        except Exception as exc:
            log.exception("order %r failed", message.get("op"))
            reply["error"] = ["internal", str(exc)]
        self.link.send(reply)

    def _op_feed(self, m: dict[str, Any]) -> None:
        number = int(m["feed"])
        feed = Feed(str(m["kind"]), lambda: self.link.send({"ev": "keyframe", "feed": number}))
        feed.tally, feed.mime, feed.number = self.tally, str(m["mime"]), number
        self.feeds[number] = feed

    def _op_drop_feed(self, m: dict[str, Any]) -> None:
        feed = self.feeds.pop(int(m["feed"]), None)
        if feed is not None:
            feed.close()

    def _op_report(self, m: dict[str, Any]) -> None:
        feed = self.feeds.get(int(m["feed"]))
        if feed is not None:
            feed.report = (int(m["epoch"]), int(m["ntp"]), int(m["rtp"]))

    def _op_open(self, m: dict[str, Any]) -> None:
        self.downlinks[int(m["sub"])] = LocalDownlink(self.config, self.tally)

    def _op_slot(self, m: dict[str, Any]) -> None:
        self._downlink(m).add_slot(str(m["kind"]), str(m["mime"]))

    def _op_bind(self, m: dict[str, Any]) -> None:
        feed = self.feeds.get(int(m["feed"])) if m.get("feed") is not None else None
        self._downlink(m).bind(int(m["slot"]), feed)

    def _op_close(self, m: dict[str, Any]) -> None:
        downlink = self.downlinks.pop(int(m["sub"]), None)
        if downlink is not None:
            self._spawn(downlink.close())

    async def _op_offer(self, m: dict[str, Any]) -> dict[str, Any]:
        text, mids = await self._downlink(m).offer()
        return {"sdp": text, "mids": mids}

    async def _op_answer(self, m: dict[str, Any]) -> None:
        await self._downlink(m).answer(str(m["sdp"]))

    async def _op_candidate(self, m: dict[str, Any]) -> None:
        await self._downlink(m).candidate(m.get("line"), m.get("mid"), m.get("index"))

    def _downlink(self, m: dict[str, Any]) -> LocalDownlink:
        found = self.downlinks.get(int(m["sub"]))
        if found is None:
            raise DomainError("conflict", "no such sub connection")
        return found

    # -- the process -----------------------------------------------------------------

    def _spawn(self, work: Any) -> None:
        self._tasks.spawn(work)

    async def report(self) -> None:
        t = self.tally
        while True:
            self.link.send(
                {
                    "ev": "stats",
                    "delivered": t.delivered,
                    "dropped": t.dropped,
                    "packets": t.packets,
                    "retransmitted": t.retransmitted,
                    "connections": len(self.downlinks),
                    "streams": sum(
                        1 for d in self.downlinks.values() for s in d.slots if s.feed is not None
                    ),
                }
            )
            await asyncio.sleep(STATS_S)

    async def close(self) -> None:
        for downlink in list(self.downlinks.values()):
            await downlink.close()
        self.downlinks.clear()


async def run(fd: int, ice: IceConfig) -> None:
    loop = asyncio.get_running_loop()
    worker = Worker(ice.configuration())
    sock = socket.socket(fileno=fd)
    await loop.connect_accepted_socket(lambda: worker.link, sock)
    worker.link.send({"ev": "ready"})
    reporting = asyncio.ensure_future(worker.report())
    try:
        await worker.link.closed  # the server is gone, or wants us gone
    finally:
        reporting.cancel()
        await worker.close()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m media.worker", description=__doc__.split("\n")[0])
    p.add_argument("--fd", type=int, required=True, help="the socket to the server")
    p.add_argument("--media-host", default="", help="comma-separated addresses to gather on")
    p.add_argument("--log-level", default="WARNING")
    args = p.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s media worker %(process)d %(name)s: %(message)s",
    )
    hosts = tuple(a for a in args.media_host.split(",") if a)
    ice = IceConfig(hosts)
    ice.install()
    asyncio.run(run(args.fd, ice))


if __name__ == "__main__":
    main(sys.argv[1:])
