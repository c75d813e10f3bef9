"""Poll storm: N clients in one class vote within one second.

Starts `python -m classroom serve` on a free loopback port with a temporary
data directory, joins a host and N participants (lean msgpack Socket.IO
clients, see bench/sioclient.py), opens a four-option poll with its results
shown to everyone, and has every participant vote once, spread evenly over
`--spread` seconds. Prints:

- votes lost: acknowledged ballots missing from the closed poll's tally;
- last vote -> final tally: from the moment the last ballot was sent to the
  moment each client (every participant and the host) got a `poll:results`
  counting every voter, p50/p99/max;
- messages: the `poll:results` the clients received, in all and per client;
- server CPU seconds (user + system, from /proc/<pid>/stat) while joining
  and while voting.

Figures, not a pass/fail: run `python -m bench.poll_storm [--clients N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import resource
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.sioclient import SioClient
from signaling.auth import mint

SECRET = "poll-storm-secret-with-enough-length-for-hs256"
ADMIN = "poll-storm-admin"
OPTIONS = ["A", "B", "C", "D"]


@dataclass
class Client:
    user_id: str
    sio: SioClient | None = None
    results: int = 0
    final_at: float | None = None
    sent_at: float = 0.0
    acked: bool = False
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    """Set when the snapshot (`class:state`) has arrived."""


@dataclass
class Storm:
    voters: int
    poll_id: str = ""
    clients: list[Client] = field(default_factory=list)
    shown: int = 0
    finals: int = 0
    all_shown: asyncio.Event = field(default_factory=asyncio.Event)
    all_final: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Future[Any] | None = None

    def on_event(self, client: Client, name: str, data: Any) -> None:
        if name == "class:state":
            client.ready.set()
        elif name == "poll:results" and data.get("poll_id") == self.poll_id:
            client.results += 1
            if data.get("voters") == self.voters and client.final_at is None:
                client.final_at = time.perf_counter()
                self.finals += 1
                if self.finals == len(self.clients):
                    self.all_final.set()
        elif name == "poll:results_shown":
            self.shown += 1
            if self.shown == len(self.clients):
                self.all_shown.set()
        elif name == "poll:closed" and self.closed is not None and not self.closed.done():
            self.closed.set_result(data)


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@asynccontextmanager
async def server_process(data_dir: str) -> AsyncIterator[tuple[str, int]]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "classroom",
        "serve",
        "--host", "127.0.0.1",
        "--port", str(port),
        "--data-dir", data_dir,
        "--secret", SECRET,
        "--admin-key", ADMIN,
        "--log-level", "WARNING",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )  # fmt: skip
    assert proc.stdout is not None
    async with asyncio.timeout(60):
        while b"Classroom server on" not in (line := await proc.stdout.readline()):
            if not line:
                raise RuntimeError("the server exited before it was ready")
    drain = asyncio.create_task(proc.stdout.read())  # keep the pipe from filling up
    try:
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        proc.terminate()
        try:
            async with asyncio.timeout(30):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
        drain.cancel()


async def create_class(http: aiohttp.ClientSession, url: str) -> str:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with http.post(f"{url}/api/classes", json={"title": "Storm"}, headers=headers) as resp:
        body = await resp.json()
        return str(body["id"])


async def join(
    http: aiohttp.ClientSession, url: str, storm: Storm, cid: str, client: Client, role: str
) -> None:
    token = mint(SECRET, cid, client.user_id, client.user_id, role)  # type: ignore[arg-type]
    client.sio = SioClient(http, url, lambda name, data: storm.on_event(client, name, data))
    await client.sio.connect({"token": token}, wait_s=300)
    await asyncio.wait_for(client.ready.wait(), 300)


async def vote(client: Client, poll_id: str, answer: int, at: float) -> None:
    await asyncio.sleep(max(0.0, at - time.perf_counter()))
    assert client.sio is not None
    client.sent_at = time.perf_counter()
    ack = await client.sio.call("poll:vote", {"poll_id": poll_id, "answer": [answer]}, 120)
    client.acked = bool(ack and ack.get("ok"))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    storm = Storm(voters=args.clients)
    host = Client("host")
    voters = [Client(f"v{i:05d}") for i in range(args.clients)]
    storm.clients = [host, *voters]
    connector = aiohttp.TCPConnector(limit=0)
    with tempfile.TemporaryDirectory(prefix="poll-storm-") as data_dir:
        async with (
            server_process(data_dir) as (url, pid),
            aiohttp.ClientSession(connector=connector) as http,
        ):
            cid = await create_class(http, url)
            progress(f"joining a host and {len(voters)} participants")
            cpu0, joined0 = cpu_seconds(pid), time.perf_counter()
            await join(http, url, storm, cid, host, "host")
            gate = asyncio.Semaphore(args.batch)

            async def enter(client: Client) -> None:
                async with gate:
                    await join(http, url, storm, cid, client, "participant")

            await asyncio.gather(*(enter(c) for c in voters))
            cpu1, joined1 = cpu_seconds(pid), time.perf_counter()
            progress(f"joined in {joined1 - joined0:.1f} s; voting")
            assert host.sio is not None
            created = await host.sio.call(
                "poll:create",
                {"question": "Pick one", "kind": "single", "options": OPTIONS, "anonymous": True},
            )
            storm.poll_id = created["poll_id"]
            await host.sio.call("poll:open", {"poll_id": storm.poll_id})
            await host.sio.call("poll:show_results", {"poll_id": storm.poll_id})
            await asyncio.wait_for(storm.all_shown.wait(), 120)

            cpu2 = cpu_seconds(pid)
            start = time.perf_counter() + 0.2
            spread = [start + args.spread * i / len(voters) for i in range(len(voters))]
            await asyncio.gather(
                *(vote(c, storm.poll_id, i % 4, spread[i]) for i, c in enumerate(voters))
            )
            with suppress(TimeoutError):
                await asyncio.wait_for(storm.all_final.wait(), args.timeout)
            cpu3 = cpu_seconds(pid)
            storm.closed = asyncio.get_running_loop().create_future()
            await host.sio.call("poll:close", {"poll_id": storm.poll_id})
            closed = await asyncio.wait_for(storm.closed, 60)
            await asyncio.gather(*(c.sio.close() for c in storm.clients if c.sio is not None))

    last_sent = max(c.sent_at for c in voters)
    lags = [c.final_at - last_sent for c in storm.clients if c.final_at is not None]
    acked = sum(c.acked for c in voters)
    counted = int(closed["results"]["voters"])
    messages = [c.results for c in storm.clients]
    return {
        "clients": len(voters),
        "spread_s": args.spread,
        "voting_s": last_sent - start,
        "acked": acked,
        "counted": counted,
        "votes_lost": acked - counted,
        "never_final": len(storm.clients) - len(lags),
        "lag_p50_ms": 1000 * percentile(lags, 0.50) if lags else math.nan,
        "lag_p99_ms": 1000 * percentile(lags, 0.99) if lags else math.nan,
        "lag_max_ms": 1000 * max(lags) if lags else math.nan,
        "receivers": len(storm.clients),
        "results_total": sum(messages),
        "results_per_client_mean": sum(messages) / len(messages),
        "results_per_client_max": max(messages),
        "join_s": joined1 - joined0,
        "server_cpu_join_s": cpu1 - cpu0,
        "server_cpu_vote_s": cpu3 - cpu2,
        "bench_cpu_s": resource.getrusage(resource.RUSAGE_SELF).ru_utime,
    }


def report(r: dict[str, Any]) -> str:
    return "\n".join(
        [
            f"poll storm: {r['clients']} clients voted over {r['voting_s']:.2f} s",
            f"  votes lost:                 {r['votes_lost']} "
            f"({r['acked']} acknowledged, {r['counted']} counted)",
            f"  last vote -> final tally:   p50 {r['lag_p50_ms']:.0f} ms, "
            f"p99 {r['lag_p99_ms']:.0f} ms, max {r['lag_max_ms']:.0f} ms "
            f"({r['never_final']} clients never got it)",
            f"  poll:results sent:          {r['results_total']} messages in all, "
            f"{r['results_per_client_mean']:.1f} per client (max {r['results_per_client_max']}); "
            f"one per vote would be {r['clients'] * r['receivers']}",
            f"  server CPU while voting:    {r['server_cpu_vote_s']:.2f} s",
            f"  joining:                    {r['join_s']:.1f} s wall, "
            f"{r['server_cpu_join_s']:.1f} s server CPU",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000, help="voters (default 1000)")
    parser.add_argument("--spread", type=float, default=1.0, help="seconds the votes span")
    parser.add_argument("--batch", type=int, default=50, help="clients connecting at once")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for tallies")
    args = parser.parse_args(argv)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 2 * args.clients + 256))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    print(report(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
