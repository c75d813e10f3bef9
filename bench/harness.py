"""What every benchmark shares: a server subprocess, classes, joins, /proc readings, statistics.

The server under test always runs in a process of its own (`python -m
classroom serve` on a free loopback port, a temporary data directory), so
its CPU seconds and RSS can be read from /proc apart from the load
generator's. Clients are the lean Socket.IO clients of bench/sioclient.py.
"""

from __future__ import annotations

import asyncio
import math
import os
import platform
import resource
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.sioclient import OnEvent, SioClient
from signaling.auth import mint

SERVER_TREE = os.environ.get("BENCH_SERVER_TREE") or None
"""A copy of the source tree (holding classroom/, signaling/, ...) to run the server from
instead of this one: figures of a snapshot that later edits cannot change, or of an
older commit (`git archive <commit> | tar -x -C <dir>`) for before/after comparisons."""

SECRET = "bench-secret-with-enough-length-for-hs256-signing"
ADMIN = "bench-admin-key"
READY = "Classroom server on"


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid: int) -> int:
    """Resident set size of a process now."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def raise_fd_limit(sockets: int) -> None:
    """Room for `sockets` connections here and in the server (which inherits the limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 2 * sockets + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


# -- statistics --------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True)
class Spread:
    median: float
    low: float
    high: float
    runs: int


def spread(values: Sequence[float]) -> Spread:
    """Median of several runs with their min and max (NaN runs left out)."""
    kept = [v for v in values if not math.isnan(v)]
    if not kept:
        return Spread(math.nan, math.nan, math.nan, 0)
    return Spread(statistics.median(kept), min(kept), max(kept), len(kept))


def number(value: float, digits: int = 0) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def cell(values: Sequence[float], digits: int = 0, unit: str = "") -> str:
    """`median (min to max) unit` of several runs, or just the value of one."""
    s = spread(values)
    if s.runs == 0:
        return "n/a"
    text, low, high = (number(v, digits) for v in (s.median, s.low, s.high))
    if low != high:
        text += f" ({low}\N{EN DASH}{high})"
    return f"{text} {unit}".rstrip()


def by_clients(results: Sequence[dict[str, Any]]) -> list[tuple[int, list[dict[str, Any]]]]:
    """The runs of each client count, smallest count first (one table row each)."""
    counts = sorted({r["clients"] for r in results})
    return [(n, [r for r in results if r["clients"] == n]) for n in counts]


def column(runs: Sequence[dict[str, Any]], key: str) -> list[float]:
    return [float(r[key]) for r in runs]


def in_temp_dirs(
    runs: int, measure: Callable[[Path], Awaitable[dict[str, float]]]
) -> list[dict[str, float]]:
    """`measure` run `runs` times, each in a temporary directory of its own."""
    found = []
    for number in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            found.append(asyncio.run(measure(Path(tmp))))
        progress(f"run {number + 1}: {found[-1]}")
    return found


def runs_said(runs: Sequence[Any]) -> str:
    """What a table's cells are: medians of several runs, or one run."""
    return f"Median of {len(runs)} runs (min\N{EN DASH}max). " if len(runs) > 1 else "One run. "


def table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def cpu_model() -> str:
    """The processor's name, as the kernel gives it."""
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown CPU"


def machine() -> str:
    """One line about where the figures come from."""
    model = cpu_model()
    with open("/proc/meminfo") as mem:
        total_kb = int(mem.readline().split()[1])
    load = os.getloadavg()[0]
    return (
        f"{os.cpu_count()} vCPUs ({model}), {total_kb / 1024**2:.0f} GB RAM, "
        f"Linux {platform.release()}, Python {platform.python_version()}; "
        f"load average {load:.1f} when the run started"
    )


# -- the server --------------------------------------------------------------


@dataclass
class Server:
    url: str
    pid: int
    wire: str
    data_dir: Path

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss(self) -> int:
        return rss_bytes(self.pid)


CAPACITY = ["--max-participants", "100000"]
"""Benchmarks seat N participants and then a few more (senders, timed joins) in one class."""


def server_module(tree: str | None = SERVER_TREE) -> str:
    """The module that runs the `classroom` command in a tree (`classroom` before it moved)."""
    root = Path(tree) if tree else Path(__file__).resolve().parent.parent
    return "server" if (root / "server" / "__main__.py").exists() else "classroom"


def classroom_command(port: int, data_dir: Path, wire: str) -> list[str]:
    return [
        sys.executable, "-m", server_module(), "serve",
        "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir),
        "--secret", SECRET, "--admin-key", ADMIN, "--wire", wire, "--log-level", "WARNING",
        *CAPACITY,
    ]  # fmt: skip


Command = Callable[[int, Path, str], list[str]]
"""(port, data dir, wire) -> the argv of a server that prints READY when it listens."""


@asynccontextmanager
async def serve(
    wire: str = "msgpack", command: Command = classroom_command, ready: str = READY
) -> AsyncIterator[Server]:
    """Run a server subprocess for the duration of the block; always stopped after."""
    port = free_port()
    # `python -m server` in the tree's directory imports that tree's packages first.
    cwd = SERVER_TREE if command is classroom_command else None
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    with tempfile.TemporaryDirectory(prefix="bench-") as data_dir:
        proc = await asyncio.create_subprocess_exec(
            *command(port, Path(data_dir), wire),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )
        drain: asyncio.Task[bytes] | None = None
        try:
            assert proc.stdout is not None
            async with asyncio.timeout(60):
                while ready.encode() not in (line := await proc.stdout.readline()):
                    if not line:
                        raise RuntimeError("the server exited before it was ready")
            drain = asyncio.create_task(proc.stdout.read())  # keep the pipe from filling
            yield Server(f"http://127.0.0.1:{port}", proc.pid, wire, Path(data_dir))
        finally:
            await stop(proc)
            if drain is not None:
                drain.cancel()


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
    try:
        async with asyncio.timeout(30):
            await proc.wait()
    except TimeoutError:
        proc.kill()
        await proc.wait()


def http_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))


async def create_class(http: aiohttp.ClientSession, url: str, title: str = "Bench") -> str:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with http.post(f"{url}/api/classes", json={"title": title}, headers=headers) as resp:
        body = await resp.json()
        return str(body["id"])


def token(class_id: str, user_id: str, role: str = "participant") -> str:
    return mint(SECRET, class_id, user_id, user_id, role)  # type: ignore[arg-type]


# -- joining -------------------------------------------------------------------


@dataclass
class Member:
    """One connected client and when its snapshot came."""

    user_id: str
    sio: SioClient
    started: float = 0.0
    snapshot_at: float | None = None
    snapshot_bytes: int = 0
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def join_s(self) -> float:
        return math.nan if self.snapshot_at is None else self.snapshot_at - self.started


async def join(
    http: aiohttp.ClientSession,
    server: Server,
    class_id: str,
    user_id: str,
    on_event: OnEvent | None = None,
    role: str = "participant",
) -> Member:
    """Connect one lean client and wait for its `class:state` snapshot."""
    member: Member

    def handle(name: str, data: Any) -> None:
        if name == "class:state" and member.snapshot_at is None:
            member.snapshot_at = time.perf_counter()
            member.snapshot_bytes = member.sio.bytes_in
            member.ready.set()
        elif on_event is not None:
            on_event(name, data)

    member = Member(user_id, SioClient(http, server.url, handle, wire=server.wire))
    member.started = time.perf_counter()
    await member.sio.connect({"token": token(class_id, user_id, role)}, wait_s=300)
    await asyncio.wait_for(member.ready.wait(), 300)
    return member


async def join_many(
    http: aiohttp.ClientSession,
    server: Server,
    class_id: str,
    user_ids: Sequence[str],
    on_event: Callable[[str], OnEvent | None] = lambda _: None,
    batch: int = 50,
) -> list[Member]:
    """Join many clients, `batch` connecting at a time."""
    gate = asyncio.Semaphore(batch)

    async def enter(user_id: str) -> Member:
        async with gate:
            return await join(http, server, class_id, user_id, on_event(user_id))

    return list(await asyncio.gather(*(enter(u) for u in user_ids)))


async def close_all(members: Sequence[Member]) -> None:
    await asyncio.gather(*(m.sio.close() for m in members), return_exceptions=True)


# -- a class full of idle participants ------------------------------------------

Listener = Callable[[str, str, Any], None]
"""(user id, event name, data): what a measurement wants to see of every client's events."""


@dataclass
class Crowd:
    """A served class with N idle participants joined, and what seating them cost."""

    server: Server
    http: aiohttp.ClientSession
    class_id: str
    members: list[Member]
    seat_s: float = 0.0
    seat_cpu_s: float = 0.0
    rss_before: int = 0
    rss_after: int = 0
    seat_bytes_in: int = 0
    """Bytes the N clients received while they were seated (snapshots, join broadcasts)."""
    listener: Listener | None = None

    def dispatch(self, user_id: str) -> OnEvent:
        def on_event(name: str, data: Any) -> None:
            if self.listener is not None:
                self.listener(user_id, name, data)

        return on_event

    @property
    def bytes_in(self) -> int:
        return sum(m.sio.bytes_in for m in self.members)

    @property
    def rss_per_member(self) -> float:
        return (self.rss_after - self.rss_before) / max(1, len(self.members))

    def figures(self) -> dict[str, float]:
        return {
            "clients": len(self.members),
            "seat_s": self.seat_s,
            "seat_cpu_s": self.seat_cpu_s,
            "rss_before_mb": self.rss_before / 2**20,
            "rss_after_mb": self.rss_after / 2**20,
            "rss_per_member_kb": self.rss_per_member / 1024,
            "seat_mb_in": self.seat_bytes_in / 2**20,
            "load_1m": os.getloadavg()[0],
        }


@asynccontextmanager
async def crowd(
    n: int,
    wire: str = "msgpack",
    batch: int = 50,
    command: Command = classroom_command,
    ready: str = READY,
) -> AsyncIterator[Crowd]:
    """Serve a class and seat `n` participants in it; RSS is read before and after."""
    raise_fd_limit(n + 100)
    async with serve(wire, command, ready) as server, http_session() as http:
        class_id = await create_class(http, server.url)
        # One client first, so code loaded on first use is not counted per participant.
        first = await join(http, server, class_id, "warmup")
        await first.sio.close()
        await asyncio.sleep(0.5)
        room = Crowd(server, http, class_id, [], rss_before=server.rss())
        progress(f"seating {n} participants ({wire})")
        cpu0, t0 = server.cpu(), time.perf_counter()
        users = [f"p{i:05d}" for i in range(n)]
        try:
            room.members = await join_many(http, server, class_id, users, room.dispatch, batch)
            room.seat_s, room.seat_cpu_s = time.perf_counter() - t0, server.cpu() - cpu0
            await asyncio.sleep(1.0)  # the last joins' broadcasts drain
            room.rss_after, room.seat_bytes_in = server.rss(), room.bytes_in
            progress(f"seated in {room.seat_s:.1f} s ({room.seat_cpu_s:.1f} s server CPU)")
            yield room
        finally:
            await close_all(room.members)
