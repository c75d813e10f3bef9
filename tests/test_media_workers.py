"""Media workers: subscribers' connections in worker processes, real aiortc peers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from media.link import Link
from media.node import MediaNode
from media.packets import Packet
from media.workers import RemoteDownlink, Worker
from server.cli import parser, settings_from
from tests.conftest import Server, running, settings_for
from tests.peer import WAIT_S
from tests.process import ServerProcess
from tests.rtc_peer import Pattern, RtcClient, Tone
from tests.test_media_sfu import metrics
from web.keys import MEDIA


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    settings = settings_for(
        tmp_path, media_host=("127.0.0.1",), media_allow_private=True, media_workers=2
    )
    async with running(settings) as srv:
        yield srv


def workers(server: Server) -> list[Worker]:
    node: MediaNode = server.app[MEDIA]
    assert node.pool is not None
    return node.pool.workers


async def classroom(server: Server, viewers: int) -> tuple[RtcClient, list[RtcClient], list[str]]:
    # A worker still starting takes no subscribers: these tests spread them over both.
    for worker in workers(server):
        await asyncio.wait_for(worker.ready.wait(), WAIT_S)
    cid = await server.create_class()
    host = RtcClient(await server.join(cid, "teacher", "host"))
    subs = [RtcClient(await server.join(cid, f"s{i}")) for i in range(viewers)]
    await host.publish(Pattern(), Tone())
    tracks = await subs[0].peer.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 2)
    return host, subs, [t["track_id"] for t in tracks["tracks"]]


async def test_subscribers_spread_over_two_workers_all_decode(server: Server) -> None:
    host, subs, tracks = await classroom(server, 4)
    for sub in subs:
        for track in tracks:
            await sub.frames_of(track, 10)  # decoded video and audio
        video = next(r for r in sub.by_mid.values() if r.kind == "video")
        assert video.sizes == {(160, 120)}
    pool = workers(server)
    assert [len(w.downlinks) for w in pool] == [2, 2]
    # Each track crosses to each worker once, whatever the number of subscribers there.
    node: MediaNode = server.app[MEDIA]
    (sfu,) = node.sfus.values()
    for feed in sfu.feeds.values():
        assert set(feed.relays) == set(pool)
    assert all(w.pid != os.getpid() for w in pool)
    figures = await metrics(server)
    assert figures["classroom_media_peer_connections"] == 5
    assert figures["classroom_media_streams"] == 8
    await until(lambda: all(w.stats.get("packets", 0) > 0 for w in pool))
    for client in [host, *subs]:
        await client.close()


async def test_a_killed_worker_comes_back_and_its_subscribers_media_resumes(
    server: Server,
) -> None:
    host, subs, tracks = await classroom(server, 4)
    for sub in subs:
        await sub.frames_of(tracks[0], 5)
    pool = workers(server)
    victim = pool[0]
    dead_pid = victim.pid
    assert dead_pid is not None
    on_it = {d.number for d in victim.downlinks}
    os.kill(dead_pid, signal.SIGKILL)
    # The subscribers it had get a new sub connection by themselves; media resumes.
    for sub in subs:
        for track in tracks:
            await sub.frames_of(track, 10)
    await asyncio.wait_for(victim.ready.wait(), WAIT_S)  # and the worker is replaced
    assert victim.pid != dead_pid
    renewed = [sub for sub in subs if sub.renewed]
    assert len(renewed) == len(on_it) == 2
    node: MediaNode = server.app[MEDIA]
    (sfu,) = node.sfus.values()
    numbers = {p.sub.number for p in sfu.people.values() if isinstance(p.sub, RemoteDownlink)}
    assert not numbers & on_it  # every lost connection was replaced
    for client in [host, *subs]:
        await client.close()


async def until(condition: Callable[[], bool]) -> None:
    """For figures a worker reports every quarter second: look again, for a bounded time."""
    for _ in range(round(WAIT_S / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError


async def test_the_link_carries_packets_and_orders_in_any_chunks() -> None:
    got: list[object] = []
    link = Link(got.append, lambda *p: got.append(p))
    sent = Packet(65000, 123456, True, b"\x90\x80\x81\x02payload", True, 30, 2)

    class Sink:
        def __init__(self) -> None:
            self.data = b""

        def write(self, data: bytes) -> None:
            self.data += data

        def get_write_buffer_size(self) -> int:
            return 0

        def is_closing(self) -> bool:
            return False

    sink = Sink()
    link._transport = sink  # type: ignore[assignment]
    link.send({"op": "bind", "sub": 1, "slot": 0, "feed": None})
    assert link.send_packet(7, 3, sent, resync=True)
    for i in range(len(sink.data)):  # one byte at a time
        link.data_received(sink.data[i : i + 1])
    order, (feed, epoch, resync, packet) = got  # type: ignore[misc]
    assert order == {"op": "bind", "sub": 1, "slot": 0, "feed": None}
    assert (feed, epoch, resync) == (7, 3, True)
    assert isinstance(packet, Packet)
    fields = ("seq", "timestamp", "marker", "payload", "key", "level", "picture", "late")
    assert [getattr(packet, f) for f in fields] == [getattr(sent, f) for f in fields]
    got.clear()
    sink.data = b""
    assert link.send_packet(7, 3, Packet(1, 2, False, b"\x10", late=True), resync=False)
    link.data_received(sink.data)
    ((_, _, _, again),) = got  # type: ignore[misc]
    assert isinstance(again, Packet) and again.late


def test_the_flag_defaults_to_one_worker_per_core() -> None:
    def workers(*flags: str) -> int:
        args = parser().parse_args(["serve", "--secret", "s" * 32, *flags])
        return settings_from(args).media_workers

    assert workers() == (os.cpu_count() or 1)
    assert workers("--media-workers", "3") == 3 and workers("--media-workers", "0") == 0


async def test_a_worker_never_outlives_its_server(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--media-workers", "2")
    await server.start()
    assert server.proc is not None
    children = children_of(server.proc.pid)
    assert len(children) == 2
    await server.kill()  # SIGKILL: no goodbye to the workers
    await until(lambda: not any(alive(child) for child in children))


def children_of(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as found:
        return [int(child) for child in found.read().split()]


def alive(pid: int) -> bool:
    """Running, not a zombie waiting for its (dead) parent to be reaped by init."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
