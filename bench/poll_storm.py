"""Poll storm: N clients in one class vote within one second.

Starts `python -m server serve` on a free loopback port with a temporary
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
import resource
import time
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.harness import (
    READY,
    Command,
    classroom_command,
    create_class,
    percentile,
    progress,
    raise_fd_limit,
    serve,
    token,
)
from bench.sioclient import SioClient

OPTIONS = ["A", "B", "C", "D"]
LOST = (aiohttp.ClientError, ConnectionError, TimeoutError)
"""What a call raises when the server dropped the socket or never answered."""


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


async def join(
    http: aiohttp.ClientSession, url: str, storm: Storm, cid: str, client: Client, role: str
) -> None:
    client.sio = SioClient(http, url, lambda name, data: storm.on_event(client, name, data))
    await client.sio.connect({"token": token(cid, client.user_id, role)}, wait_s=300)
    await asyncio.wait_for(client.ready.wait(), 300)


async def vote(client: Client, poll_id: str, answer: int, at: float) -> None:
    await asyncio.sleep(max(0.0, at - time.perf_counter()))
    assert client.sio is not None
    client.sent_at = time.perf_counter()
    try:
        ack = await client.sio.call("poll:vote", {"poll_id": poll_id, "answer": [answer]}, 120)
    except LOST:
        return  # not acknowledged: not counted as lost either
    client.acked = bool(ack and ack.get("ok"))


async def run(
    args: argparse.Namespace, command: Command = classroom_command, ready: str = READY
) -> dict[str, Any]:
    """One storm against the server `command` starts (the classroom server by default)."""
    storm = Storm(voters=args.clients)
    host = Client("host")
    voters = [Client(f"v{i:05d}") for i in range(args.clients)]
    storm.clients = [host, *voters]
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        serve("msgpack", command, ready) as server,
        aiohttp.ClientSession(connector=connector) as http,
    ):
        url = server.url
        cid = await create_class(http, url)
        progress(f"joining a host and {len(voters)} participants")
        cpu0, joined0 = server.cpu(), time.perf_counter()
        await join(http, url, storm, cid, host, "host")
        gate = asyncio.Semaphore(args.batch)

        async def enter(client: Client) -> None:
            async with gate:
                await join(http, url, storm, cid, client, "participant")

        await asyncio.gather(*(enter(c) for c in voters))
        cpu1, joined1 = server.cpu(), time.perf_counter()
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

        cpu2 = server.cpu()
        start = time.perf_counter() + 0.2
        spread = [start + args.spread * i / len(voters) for i in range(len(voters))]
        await asyncio.gather(
            *(vote(c, storm.poll_id, i % 4, spread[i]) for i, c in enumerate(voters))
        )
        with suppress(TimeoutError):
            await asyncio.wait_for(storm.all_final.wait(), args.timeout)
        cpu3 = server.cpu()
        storm.closed = asyncio.get_running_loop().create_future()
        dropped = sum(1 for c in storm.clients if c.sio and c.sio.ws and c.sio.ws.closed)
        try:
            await host.sio.call("poll:close", {"poll_id": storm.poll_id})
            closed = await asyncio.wait_for(storm.closed, 60)
            counted = float(closed["results"]["voters"])
        except LOST:
            counted = math.nan  # an overwhelmed server dropped the host too
        await asyncio.gather(*(c.sio.close() for c in storm.clients if c.sio is not None))

    last_sent = max(c.sent_at for c in voters)
    lags = [c.final_at - last_sent for c in storm.clients if c.final_at is not None]
    acked = sum(c.acked for c in voters)
    messages = [c.results for c in storm.clients]
    return {
        "clients": len(voters),
        "spread_s": args.spread,
        "voting_s": last_sent - start,
        "acked": acked,
        "counted": counted,
        "votes_lost": acked - counted,
        "dropped": dropped,
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
            f"  votes lost:                 {r['votes_lost']:.0f} "
            f"({r['acked']} acknowledged, {r['counted']:.0f} counted)",
            f"  last vote -> final tally:   p50 {r['lag_p50_ms']:.0f} ms, "
            f"p99 {r['lag_p99_ms']:.0f} ms, max {r['lag_max_ms']:.0f} ms "
            f"({r['never_final']} clients never got it, {r['dropped']} were dropped)",
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
    raise_fd_limit(args.clients)
    print(report(asyncio.run(run(args))))


if __name__ == "__main__":
    main()
