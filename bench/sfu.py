"""SFU forwarding against a transcoding baseline: server CPU per subscriber stream.

One publisher sends VP8 640x480 at 30 fps and 1 Mbit/s (a moving test
pattern) and N subscribers receive it, each in processes apart from the
server. The servers, one after the other in the same invocation:

1. the classroom server (`python -m server serve --media-host 127.0.0.1`):
   the publisher's RTP packets are forwarded, their headers rewritten per
   subscriber; with `--workers N`, again with that many media workers;
   and again (`--low-layer`) with the publisher also sending its camera's
   low layer (320x180 at 15 fps and 150 kbit/s, as pages do) and every
   subscriber showing it small (`rtc:view`): the cost of a low-layer stream;
2. with `--before <commit>` (by default the last commit that forwarded
   frames), the classroom server of that commit, run from a `git archive`
   of it: encoded frames reassembled once, packetized for each subscriber;
3. the baseline (bench/sfu_baseline.py): a bare aiortc server that decodes
   the publisher's track and re-encodes it once per subscriber (aiortc's
   `MediaRelay` feeding one encoding sender each), the usual way to fan out
   a track with aiortc;
4. bench/sfu_floor.py: SRTP protect plus one sendto, the floor per packet, also
   delivered to as many subscribers in as many waiting processes as here.

For each, the server's own CPU (user + system from /proc/<pid>/stat) is
measured with the publisher alone and then with the subscribers attached,
each over `--windows` windows of `--seconds` whose median is kept (a window
the machine disturbed moves a median less than a mean); the difference
divided by N is the cost of one subscriber stream. Most
subscribers count the encoded frames their receiver reassembles (the same
hook the SFU uses, no decoder: a 2-core load generator cannot decode 50
streams); `--decoding` of them decode every frame to show the stream is
valid. Figures, not a pass/fail: `python -m bench.sfu [--subscribers 50]`.
"""

from __future__ import annotations

import argparse
import asyncio
import fractions
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.codecs import vpx

from bench import sfu_floor
from bench.harness import cpu_seconds, free_port, server_module
from bench.sfu_report import per_frame_s, render, report
from bench.sioclient import SioClient
from media.encoded import gather_on, tap
from signaling.auth import mint

SECRET = os.environ.get("SFU_BENCH_SECRET", "sfu-bench-secret-with-enough-length-for-hs256")
ADMIN = "sfu-bench-admin"
ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 640, 480
LOW = (320, 180, 15)
"""The camera's low layer, as the page sends it: width, height, frames a second."""
WARM_FRAMES = 30
"""Frames every subscriber must have before the measurement starts."""


def config() -> RTCConfiguration:
    return RTCConfiguration(iceServers=[])


class MovingPattern(VideoStreamTrack):
    """A gradient with a bar sweeping across it and a band moving down: motion on every
    frame, at a bitrate a camera would produce (a fully scrolling picture would make the
    encoder drop frames to hold its bitrate)."""

    def __init__(self, width: int = WIDTH, height: int = HEIGHT, fps: int = 30) -> None:
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self._ramp = bytes(range(256)) * (width * height // 256 + 4)
        self._count = 0
        self._start = 0.0
        self.going = asyncio.Event()
        """Cleared: the camera is paused (no frames, so no packets; connections stay)."""
        self.going.set()

    async def recv(self) -> av.VideoFrame:
        if not self.going.is_set():
            await self.going.wait()
            self._start, self._count = 0.0, 0
        if self._count:
            await asyncio.sleep(max(0.0, self._start + self._count / self.fps - time.time()))
        else:
            self._start = time.time()
        pts, time_base = round(self._count * 90000 / self.fps), fractions.Fraction(1, 90000)
        width, height = self.width, self.height
        frame = av.VideoFrame(width=width, height=height, format="yuv420p")
        luma, *chroma = frame.planes
        picture = bytearray(self._ramp[: luma.buffer_size])
        bar = (self._count * 8) % (width - 24)
        for row in range(height):
            start = row * luma.line_size + bar
            picture[start : start + 24] = b"\xeb" * 24
        band = (self._count * 4) % (height - 16) * luma.line_size
        picture[band : band + 16 * luma.line_size] = b"\x10" * (16 * luma.line_size)
        luma.update(bytes(picture))
        for plane in chroma:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        self._count += 1
        return frame


# -- child: publisher -------------------------------------------------------------


BITRATE = 1_000_000
"""The publisher's VP8 bitrate, a camera's at 640x480 (held: the SFU's bandwidth estimate
would otherwise move it, and the packets per frame with it, from one run to the next)."""
LOW_BITRATE = 150_000
"""The low layer's, as pages send it. aiortc holds one bitrate for all its encoders: with a
low layer, the full picture (which then only reaches the server) is sent at this one too."""


async def publisher(url: str, token: str, baseline: bool, low: bool) -> None:
    vpx.MIN_BITRATE = vpx.MAX_BITRATE = vpx.DEFAULT_BITRATE = LOW_BITRATE if low else BITRATE
    pc = RTCPeerConnection(config())
    source = MovingPattern()
    pc.addTransceiver(source, direction="sendonly")
    body: dict[str, Any] = {"sources": {"0": "camera"}}
    if low:  # what the subscribers get: the low layer
        source = MovingPattern(*LOW)
        pc.addTransceiver(source, direction="sendonly")
        body = {"sources": {"0": "camera", "1": "camera"}, "layers": {"1": "low"}}
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"sdp": pc.localDescription.sdp, "type": "offer"}
    async with aiohttp.ClientSession() as http:
        if baseline:
            async with http.post(f"{url}/publish", json=offer) as resp:
                answer = await resp.json()
            sio = None
        else:
            sio = SioClient(http, url, lambda name, data: None)
            await sio.connect({"token": token})
            answer = await sio.call("rtc:publish", offer | body)
        await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))
        print("published", flush=True)
        loop = asyncio.get_running_loop()
        while (said := (await loop.run_in_executor(None, sys.stdin.readline)).strip()) in (
            "count",
            "pause",
        ):
            if said == "pause":
                source.going.clear()
            print(json.dumps({"sent": source._count}), flush=True)
        await pc.close()
        if sio is not None:
            await sio.close()


# -- child: subscribers -------------------------------------------------------------


class Subscriber:
    def __init__(self, decode: bool, warm_frames: int = WARM_FRAMES, low: bool = False) -> None:
        self.decode = decode
        self.warm_frames = warm_frames
        self.low = low
        """Show the camera small: receive its low layer."""
        self.shown: set[str] = set()
        self.pc = RTCPeerConnection(config())
        self.frames = 0
        self.warm = asyncio.Event()
        self.sio: SioClient | None = None
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        receiver = next(t.receiver for t in self.pc.getTransceivers() if t.receiver.track is track)
        if self.decode:
            self._spawn(self._decode(track))
        else:
            tap(receiver, lambda frame: self._count())

    def _count(self) -> None:
        self.frames += 1
        if self.frames >= self.warm_frames:
            self.warm.set()

    async def _decode(self, track: MediaStreamTrack) -> None:
        while True:
            await track.recv()
            self._count()

    def _spawn(self, work: Any) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def join_sfu(self, http: aiohttp.ClientSession, url: str, token: str) -> None:
        def on_event(name: str, data: Any) -> None:
            if name == "rtc:offer":
                self._spawn(self._answer(data))
            elif name in ("class:state", "rtc:tracks") and self.low:
                self._spawn(self._show_small(data.get("tracks") or []))

        self.sio = SioClient(http, url, on_event)
        await self.sio.connect({"token": token}, wait_s=120)

    async def _answer(self, offer: Any) -> None:
        async with self._lock:
            if self.pc.signalingState == "closed":
                return  # an offer that arrived as we left
            await self.pc.setRemoteDescription(RTCSessionDescription(offer["sdp"], "offer"))
            await self.pc.setLocalDescription(await self.pc.createAnswer())
            assert self.sio is not None
            answer = {"sdp": self.pc.localDescription.sdp, "type": "answer"}
            await self.sio.call("rtc:answer", answer, wait_s=120)

    async def _show_small(self, tracks: list[dict[str, Any]]) -> None:
        videos = {t["track_id"] for t in tracks if t["kind"] == "video"}
        if videos and videos != self.shown and self.sio is not None:
            self.shown = videos
            view = [{"track_id": t, "layer": "low"} for t in sorted(videos)]
            await self.sio.call("rtc:view", {"tracks": view}, wait_s=120)

    async def join_baseline(self, http: aiohttp.ClientSession, url: str) -> None:
        self.pc.addTransceiver("video", direction="recvonly")
        await self.pc.setLocalDescription(await self.pc.createOffer())
        offer = {"sdp": self.pc.localDescription.sdp, "type": "offer"}
        async with http.post(f"{url}/subscribe", json=offer) as resp:
            answer = await resp.json()
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], "answer"))

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
        if self.sio is not None:
            await self.sio.close()


async def subscribers(args: argparse.Namespace) -> None:
    subs = [Subscriber(i < args.decoding, args.warm_frames, args.low) for i in range(args.count)]
    loop = asyncio.get_running_loop()
    print("started", flush=True)  # imports done: join when told
    await loop.run_in_executor(None, sys.stdin.readline)
    async with aiohttp.ClientSession() as http:
        for i, sub in enumerate(subs):
            if args.baseline:
                await sub.join_baseline(http, args.url)
            else:
                user = f"{args.prefix}{i}"
                await sub.join_sfu(
                    http, args.url, mint(SECRET, args.class_id, user, user, "participant")
                )
        try:
            async with asyncio.timeout(300):
                await asyncio.gather(*(sub.warm.wait() for sub in subs))
        except TimeoutError:
            states = [(sub.frames, sub.pc.signalingState, sub.pc.connectionState) for sub in subs]
            print(f"subscribers not receiving: {states}", file=sys.stderr, flush=True)
            raise
        print("ready", flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)  # start
        before = [sub.frames for sub in subs]
        await loop.run_in_executor(None, sys.stdin.readline)  # stop
        counts = [sub.frames - b for sub, b in zip(subs, before, strict=True)]
        decoded = counts[: args.decoding]
        print(json.dumps({"frames": counts, "decoded": decoded}), flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)  # bye: connected until then
        for sub in subs:
            await sub.close()


# -- the orchestrator ----------------------------------------------------------------------


class Child:
    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(cls, *args: str, cwd: str | None = None) -> Child:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
            cwd=cwd,
        )
        return cls(proc)

    async def expect(self, text: str, within_s: float = 300) -> str:
        assert self.proc.stdout is not None
        async with asyncio.timeout(within_s):
            while True:
                line = (await self.proc.stdout.readline()).decode()
                if not line:
                    raise RuntimeError(f"a child exited while we waited for {text!r}")
                if text in line:
                    return line

    def say(self, line: str) -> None:
        if self.proc.stdin is not None and self.proc.returncode is None:
            with suppress(ConnectionError):
                self.proc.stdin.write(line.encode() + b"\n")

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                async with asyncio.timeout(20):
                    await self.proc.wait()
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


@dataclass
class Server:
    """How to start the server under test: options added to `serve`, and which source tree."""

    options: tuple[str, ...] = ()
    tree: str | None = None
    """A copy of the source tree to run (`python -m server` there imports it first)."""


@asynccontextmanager
async def classroom_server(data_dir: str, how: Server) -> AsyncIterator[tuple[str, Child]]:
    port = free_port()
    server = await Child.start(
        "-m", server_module(how.tree), "serve",
        "--host", "127.0.0.1", "--port", str(port), "--data-dir", data_dir,
        "--secret", SECRET, "--admin-key", ADMIN, "--media-host", "127.0.0.1",
        "--log-level", "WARNING", *how.options,
        cwd=how.tree,
    )  # fmt: skip
    try:
        await server.expect("Classroom server on", 60)
        yield f"http://127.0.0.1:{port}", server
    finally:
        await server.stop()


@asynccontextmanager
async def baseline(_: str, __: Server) -> AsyncIterator[tuple[str, Child]]:
    port = free_port()
    server = await Child.start("-m", "bench.sfu_baseline", "--port", str(port))
    try:
        await server.expect("listening", 60)
        yield f"http://127.0.0.1:{port}", server
    finally:
        await server.stop()


async def new_class(url: str) -> str:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{url}/api/classes", json={"title": "Bench"}, headers=headers) as resp,
    ):
        return str((await resp.json())["id"])


async def server_figures(url: str, server: Child, baseline: bool) -> dict[str, float]:
    """Frames the server handed to its subscribers' senders, from itself (SFU: /metrics)."""
    if baseline:
        server.say("count")
        return {"forwarded": float(json.loads(await server.expect("sent"))["sent"])}
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as resp:
        text = await resp.text()
    wanted = {
        "classroom_media_frames_received_total": "received",
        "classroom_media_frames_forwarded_total": "forwarded",
        "classroom_media_frames_dropped_total": "dropped",
        "classroom_media_packets_forwarded_total": "packets",
        "classroom_media_packets_retransmitted_total": "retransmitted",
    }
    out: dict[str, float] = {}
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name in wanted:
            out[wanted[name]] = float(value)
    return out


async def window(pids: list[int], seconds: float) -> list[float]:
    """Cores used by each of `pids` over `seconds` of wall time."""
    cpu, wall = [cpu_seconds(pid) for pid in pids], time.perf_counter()
    await asyncio.sleep(seconds)
    spent = time.perf_counter() - wall
    return [(cpu_seconds(pid) - before) / spent for pid, before in zip(pids, cpu, strict=True)]


async def windows(pids: list[int], seconds: float, count: int) -> list[list[float]]:
    """`count` windows one after the other: the cores of each of `pids` in each."""
    return [await window(pids, seconds) for _ in range(max(1, count))]


def medians(runs: list[list[float]]) -> list[float]:
    """Each process's median over the windows: one window disturbed by the machine moves
    it less than it moves a mean."""
    return [statistics.median(column) for column in zip(*runs, strict=True)]


def children(pid: int) -> list[int]:
    """The processes `pid` started (the media workers of a server)."""
    with open(f"/proc/{pid}/task/{pid}/children") as found:
        return sorted(int(child) for child in found.read().split())


async def start_subscribers(
    me: list[str], count: int, args: argparse.Namespace, low: bool
) -> list[Child]:
    """Subscriber processes, spread evenly; they join when told."""
    per_proc = -(-count // args.processes)
    children = []
    for p in range(args.processes):
        n = min(per_proc, count - p * per_proc)
        if n <= 0:
            break
        decoding = max(0, min(n, args.decoding - p * per_proc))
        children.append(
            await Child.start(
                *me,
                *("--role", "subscribers", "--count", str(n), "--prefix", f"s{p}-"),
                *("--decoding", str(decoding), "--warm-frames", str(args.warm_frames)),
                *(["--low"] if low else []),
            )
        )
    return children


async def phase(
    name: str, count: int, args: argparse.Namespace, how: Server | None = None
) -> dict[str, Any]:
    how = how or Server()
    low = name == "low"
    lows = ["--low"] if low else []
    is_baseline = name == "baseline"
    host = baseline if is_baseline else classroom_server
    with tempfile.TemporaryDirectory() as data:
        async with host(data, how) as (url, server):
            cid = "" if is_baseline else await new_class(url)
            token = "" if is_baseline else mint(SECRET, cid, "teacher", "Teacher", "host")
            role = ["--baseline"] if is_baseline else [f"--class-id={cid}"]
            me = ["-m", "bench.sfu", "--url", url, *role]
            pub = await Child.start(*me, "--role", "publisher", "--token", token or "-", *lows)
            subs = await start_subscribers(me, count, args, low)
            everyone = [pub, *subs]
            try:
                await pub.expect("published")
                for child in subs:
                    await child.expect("started")
                await asyncio.sleep(args.warmup)
                pids = [server.proc.pid, *children(server.proc.pid)]
                alone_runs = await windows(pids, args.seconds, args.windows)
                for child in subs:
                    child.say("join")
                for child in subs:
                    await child.expect("ready", 400)
                for child in everyone:
                    child.say("count" if child is pub else "start")
                counting = time.perf_counter()
                sent = json.loads(await pub.expect("sent"))["sent"]
                figures = await server_figures(url, server, is_baseline)
                reading = time.perf_counter()
                loaded_runs = await windows(pids, args.seconds, args.windows)
                read_s = time.perf_counter() - reading
                for child in everyone:
                    child.say("count" if child is pub else "stop")
                counted_s = time.perf_counter() - counting
                sent = json.loads(await pub.expect("sent"))["sent"] - sent
                figures = {
                    k: v - figures[k]
                    for k, v in (await server_figures(url, server, is_baseline)).items()
                }
                results = [json.loads(await child.expect("frames")) for child in subs]
                idle_runs: list[list[float]] = []
                if args.idle and name == "sfu":
                    pub.say("pause")
                    await pub.expect("sent")
                    await asyncio.sleep(1)  # what was in flight
                    idle_runs = await windows(pids, args.seconds, args.windows)
            finally:
                for child in everyone:
                    child.say("bye")
                for child in everyone:
                    await child.stop()
    frames = [n for r in results for n in r["frames"]]
    decoded = [n for r in results for n in r["decoded"]]
    alone, loaded = medians(alone_runs), medians(loaded_runs)
    return {
        "name": name,
        "subscribers": count,
        "rate": LOW[2] if low else 30,
        "alone": alone[0],
        "loaded": loaded[0],
        "per_stream": (loaded[0] - alone[0]) / count,
        "workers": [{"alone": a, "loaded": b} for a, b in zip(alone[1:], loaded[1:], strict=True)],
        "sent_fps": sent / counted_s,
        "server": {k: v / read_s for k, v in figures.items()},
        "fps": [n / counted_s for n in frames],
        "decoded_fps": [n / counted_s for n in decoded],
        "idle": medians(idle_runs)[0] if idle_runs else None,
        "windows": {  # the server process's cores in each window: the spread of the medians
            "alone": [run[0] for run in alone_runs],
            "loaded": [run[0] for run in loaded_runs],
        },
    }


FRAMES_COMMIT = "ca66769"
"""The last commit whose SFU forwarded frames (reassembled, then packetized per subscriber)."""


@contextmanager
def snapshot(commit: str) -> Iterator[str | None]:
    """The source tree at `commit` in a temporary directory (None without git)."""
    with tempfile.TemporaryDirectory(prefix="bench-tree-") as tree:
        archive = subprocess.run(["git", "archive", commit], cwd=ROOT, capture_output=True)
        if archive.returncode != 0:
            yield None
            return
        subprocess.run(["tar", "-x", "-C", tree], input=archive.stdout, check=True)
        yield tree


def options_known(tree: str, options: tuple[str, ...]) -> tuple[str, ...]:
    """`options` (flags, each with the value after it if it has one) that the server in
    `tree` knows: an older server is run as it was, a newer one as the current one is."""
    source = "".join(path.read_text() for path in Path(tree).glob("*/cli.py"))
    out: list[str] = []
    for i, option in enumerate(options):
        if option.startswith("--") and f'"{option}"' in source:
            has_value = i + 1 < len(options) and not options[i + 1].startswith("--")
            out += [option, options[i + 1]] if has_value else [option]
    return tuple(out)


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every server, one after the other: packet forwarding in process and with media
    workers, frame forwarding (`--before`), the transcoding baseline, and the floor."""
    out: dict[str, Any] = {}
    here = ("--media-allow-private",)  # every client of the run is on 127.0.0.1
    out["sfu"] = await phase("sfu", args.subscribers, args, Server((*here, "--media-workers", "0")))
    report(out["sfu"])
    if args.workers:
        how = Server((*here, "--media-workers", str(args.workers)))
        out["workers"] = await phase("workers", args.subscribers, args, how)
        report(out["workers"])
    if args.low_layer:
        out["low"] = await phase(
            "low", args.subscribers, args, Server((*here, "--media-workers", "0"))
        )
        report(out["low"])
    if args.before:
        with snapshot(args.before) as tree:
            if tree is not None:
                how = Server(options_known(tree, (*here, "--media-workers", "0")), tree)
                out["frames"] = await phase("frames", args.subscribers, args, how)
                out["frames"]["commit"] = args.before
                report(out["frames"])
    out["baseline"] = await phase("baseline", args.baseline_subscribers, args)
    report(out["baseline"])
    out["floor"] = await asyncio.to_thread(
        sfu_floor.measure,
        args.floor_packets,
        receivers=args.subscribers,
        processes=args.processes,
    )
    ratio = per_frame_s(out["baseline"]) / per_frame_s(out["sfu"]) if per_frame_s(out["sfu"]) else 0
    print(f"Forwarding costs 1/{ratio:.0f} of transcoding per frame sent to a subscriber.")
    return out


async def orchestrate(args: argparse.Namespace) -> None:
    print()
    print(render([await measure(args)]))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.sfu", description=__doc__.split("\n")[0])
    p.add_argument("--subscribers", type=int, default=50)
    p.add_argument("--baseline-subscribers", type=int, default=3)
    p.add_argument("--decoding", type=int, default=2, help="subscribers that decode")
    p.add_argument("--processes", type=int, default=2, help="subscriber processes per phase")
    p.add_argument("--seconds", type=float, default=10.0, help="each measurement window")
    p.add_argument(
        "--windows", type=int, default=3, help="windows of each measurement (their median is kept)"
    )
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--workers", type=int, default=2, help="media workers of a second run (0: none)")
    p.add_argument(
        "--low-layer",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure the camera's low layer too",
    )
    p.add_argument(
        "--before", default=FRAMES_COMMIT, help="commit of the frame forwarding SFU ('': skip it)"
    )
    p.add_argument("--floor-packets", type=int, default=20000, help="packets of the floor test")
    p.add_argument(
        "--idle",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure packet forwarding again with the publisher paused: the subscribers' upkeep",
    )
    p.add_argument(
        "--warm-frames", type=int, default=WARM_FRAMES, help="frames each subscriber gets first"
    )
    p.add_argument("--role", default="orchestrator", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    p.add_argument("--token", help=argparse.SUPPRESS)
    p.add_argument("--class-id", help=argparse.SUPPRESS)
    p.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--low", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--count", type=int, help=argparse.SUPPRESS)
    p.add_argument("--prefix", default="s", help=argparse.SUPPRESS)
    return p


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    gather_on(["127.0.0.1"])  # every connection of the benchmark stays on loopback
    if args.role == "publisher":
        asyncio.run(publisher(args.url, args.token, args.baseline, args.low))
    elif args.role == "subscribers":
        asyncio.run(subscribers(args))
    else:
        asyncio.run(orchestrate(args))


if __name__ == "__main__":
    main(sys.argv[1:])
