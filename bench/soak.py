"""Soak: a full class for ten minutes of chat, polls, joins and leaves; server memory every 10 s.

Seats a host and N participants in one class (browser-like lean clients,
bench/sioclient.py), then for `--minutes`:

- chat: `--chat-rate` messages per second, each from the next participant;
- polls: every `--poll-every` seconds the host opens a four-option poll with
  its results shown; every participant present votes, the ballots spread over
  ten seconds; the host closes it twenty seconds after opening it;
- joins and leaves: every ten seconds `--churn` participants leave and as many
  join, half of them people who left earlier coming back, half new people;
- every ten seconds: the server's RSS and CPU seconds, its connected sockets
  (`/metrics`), and the deliveries the clients counted.

Prints every sample, then: RSS after seating and at the end, the peak, the
growth per minute over the second half of the run (least squares), server
CPU, chat deliveries, ballots acknowledged and ballots missing from closed
polls' tallies, refused or failed requests.

A benchmark, not a test: `make bench` runs it with the rest (`--soak-minutes`
to shorten it); alone, `python -m bench.soak [--clients 1000] [--minutes 10]`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.harness import (
    Member,
    Server,
    close_all,
    create_class,
    http_session,
    join,
    join_many,
    machine,
    number,
    progress,
    raise_fd_limit,
    serve,
    table,
)

SAMPLE_S = 10.0
CHURN_S = 10.0
VOTE_SPREAD_S = 10.0
POLL_OPEN_S = 20.0
FAILED = (aiohttp.ClientError, ConnectionError, TimeoutError, RuntimeError)


@dataclass
class Tally:
    deliveries: int = 0
    ballots: dict[str, int] = field(default_factory=dict)
    """poll id -> ballots acknowledged."""
    counted: dict[str, int] = field(default_factory=dict)
    """poll id -> voters in the tally the closed poll reported."""
    refused: int = 0
    failed: int = 0
    joins: int = 0
    leaves: int = 0

    def on_event(self, name: str, data: Any) -> None:
        if name == "chat:message":
            self.deliveries += 1
        elif name == "poll:closed":
            self.counted[data["poll_id"]] = int(data["results"]["voters"])

    def ack(self, reply: Any) -> bool:
        if isinstance(reply, dict) and reply.get("ok"):
            return True
        self.refused += 1
        return False


@dataclass
class Soak:
    server: Server
    http: aiohttp.ClientSession
    class_id: str
    host: Member
    present: list[Member]
    tally: Tally
    gone: list[str] = field(default_factory=list)
    fresh: itertools.count[int] = field(default_factory=lambda: itertools.count(100_000))
    tasks: set[asyncio.Task[Any]] = field(default_factory=set)

    def spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def request(self, member: Member, event: str, data: Any) -> dict[str, Any] | None:
        """The ack, or None when it refused or never came (both counted)."""
        try:
            reply = await member.sio.call(event, data, 60)
        except FAILED:
            self.tally.failed += 1
            return None
        return reply if self.tally.ack(reply) else None

    async def call(self, member: Member, event: str, data: Any) -> bool:
        return await self.request(member, event, data) is not None

    # -- the three kinds of activity ------------------------------------------

    async def chat(self, rate: float, until: float) -> None:
        for k in itertools.count():
            if time.monotonic() >= until:
                return
            if self.present:
                sender = self.present[k % len(self.present)]
                self.spawn(self.call(sender, "chat:send", {"text": f"soak {k}"}))
            await asyncio.sleep(1 / rate)

    async def polls(self, every: float, until: float) -> None:
        while time.monotonic() + POLL_OPEN_S < until:
            spec = {"question": "Soak?", "kind": "single", "options": ["A", "B", "C", "D"]}
            created = await self.request(self.host, "poll:create", spec)
            poll_id = created.get("poll_id") if created else None
            if poll_id and await self.call(self.host, "poll:open", {"poll_id": poll_id}):
                await self.call(self.host, "poll:show_results", {"poll_id": poll_id})
                self.tally.ballots[poll_id] = 0
                for voter in list(self.present):
                    self.spawn(self.vote(voter, poll_id))
                await asyncio.sleep(POLL_OPEN_S)
                await self.call(self.host, "poll:close", {"poll_id": poll_id})
            await asyncio.sleep(max(0.0, every - POLL_OPEN_S))

    async def vote(self, voter: Member, poll_id: str) -> None:
        await asyncio.sleep(random.uniform(0, VOTE_SPREAD_S))
        if voter not in self.present:
            return  # left meanwhile
        data = {"poll_id": poll_id, "answer": [random.randrange(4)]}
        if await self.call(voter, "poll:vote", data):
            self.tally.ballots[poll_id] += 1

    async def churn(self, count: int, until: float) -> None:
        while time.monotonic() + CHURN_S < until:
            await asyncio.sleep(CHURN_S)
            leaving = random.sample(self.present, min(count, len(self.present)))
            for member in leaving:
                self.present.remove(member)
                self.gone.append(member.user_id)
            await close_all(leaving)
            self.tally.leaves += len(leaving)
            back = [self.gone.pop(0) for _ in range(min(count // 2, len(self.gone) - count))]
            users = back + [f"n{next(self.fresh)}" for _ in range(count - len(back))]
            for user in users:
                try:
                    member = await join(
                        self.http, self.server, self.class_id, user, self.tally.on_event
                    )
                    self.present.append(member)
                    self.tally.joins += 1
                except FAILED:
                    self.tally.failed += 1


async def sockets(http: aiohttp.ClientSession, server: Server) -> float:
    async with http.get(f"{server.url}/metrics") as resp:
        for line in (await resp.text()).splitlines():
            if line.startswith("classroom_connected_sockets "):
                return float(line.split()[-1])
    return float("nan")


async def sample(soak: Soak, until: float, out: list[dict[str, float]]) -> None:
    started = time.monotonic()
    while True:
        out.append(
            {
                "t_s": round(time.monotonic() - started),
                "rss_mb": soak.server.rss() / 2**20,
                "cpu_s": soak.server.cpu(),
                "sockets": await sockets(soak.http, soak.server),
                "deliveries": soak.tally.deliveries,
            }
        )
        progress(f"soak sample {out[-1]}")
        if time.monotonic() + SAMPLE_S > until + 1:
            return
        await asyncio.sleep(SAMPLE_S)


def slope_per_minute(samples: Sequence[dict[str, float]]) -> float:
    """Least-squares RSS growth (MB per minute) over the second half of the samples."""
    half = samples[len(samples) // 2 :]
    if len(half) < 2:
        return float("nan")
    times = [s["t_s"] / 60 for s in half]
    return float(statistics.linear_regression(times, [s["rss_mb"] for s in half]).slope)


async def run(
    n: int, minutes: float, chat_rate: float = 5, poll_every: float = 60, churn: int = 20
) -> dict[str, Any]:
    raise_fd_limit(n + 200)
    tally = Tally()
    async with serve() as server, http_session() as http:
        class_id = await create_class(http, server.url, "Soak")
        host = await join(http, server, class_id, "teacher", tally.on_event, role="host")
        progress(f"soak: seating {n} participants")
        users = [f"p{i:05d}" for i in range(n)]
        present = await join_many(http, server, class_id, users, lambda _: tally.on_event)
        soak = Soak(server, http, class_id, host, present, tally)
        cpu0, until = server.cpu(), time.monotonic() + 60 * minutes
        samples: list[dict[str, float]] = []
        try:
            await asyncio.gather(
                sample(soak, until, samples),
                soak.chat(chat_rate, until),
                soak.polls(poll_every, until),
                soak.churn(churn, until),
            )
            await asyncio.gather(*soak.tasks, return_exceptions=True)
            await asyncio.sleep(2)  # the last tallies and messages arrive
        finally:
            await close_all([host, *soak.present])
        cpu = server.cpu() - cpu0
    lost = sum(max(0, acked - tally.counted.get(p, 0)) for p, acked in tally.ballots.items())
    rss = [s["rss_mb"] for s in samples]
    return {
        "clients": n,
        "minutes": minutes,
        "samples": samples,
        "rss_start_mb": rss[0],
        "rss_end_mb": rss[-1],
        "rss_peak_mb": max(rss),
        "rss_growth_mb_per_min": slope_per_minute(samples),
        "cpu_s": cpu,
        "deliveries": tally.deliveries,
        "polls": len(tally.ballots),
        "ballots": sum(tally.ballots.values()),
        "ballots_lost": lost,
        "joins": tally.joins,
        "leaves": tally.leaves,
        "refused": tally.refused,
        "failed": tally.failed,
    }


def render(result: dict[str, Any]) -> str:
    samples = result["samples"]
    last = int(samples[-1]["t_s"] // 60)
    # The first sample of each minute (samples drift on a busy load generator).
    minute = [next(s for s in samples if s["t_s"] >= 60 * m) for m in range(last + 1)]
    memory = table(
        ["minute", *(str(round(s["t_s"] / 60)) for s in minute)],
        [["server RSS", *(f"{s['rss_mb']:.0f} MB" for s in minute)],
         ["sockets connected", *(number(s["sockets"]) for s in minute)]],
    )  # fmt: skip
    summary = table(
        ["clients", "minutes", "RSS after seating → end (peak)", "RSS growth, second half",
         "server CPU", "chat deliveries", "polls / ballots / lost", "joins / leaves",
         "refused / failed"],
        [[f"{result['clients']:,}", number(result["minutes"], 0),
          f"{result['rss_start_mb']:.0f} → {result['rss_end_mb']:.0f} "
          f"({result['rss_peak_mb']:.0f}) MB",
          f"{result['rss_growth_mb_per_min']:+.1f} MB/min", f"{result['cpu_s']:.0f} s",
          f"{result['deliveries']:,}",
          f"{result['polls']} / {result['ballots']:,} / {result['ballots_lost']}",
          f"{result['joins']:,} / {result['leaves']:,}",
          f"{result['refused']} / {result['failed']}"]],
    )  # fmt: skip
    return summary + "\n\n" + memory


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--chat-rate", type=float, default=5, help="messages per second")
    parser.add_argument("--poll-every", type=float, default=60, help="seconds between polls")
    parser.add_argument("--churn", type=int, default=20, help="leave and join every 10 s")
    args = parser.parse_args(argv)
    print(f"Machine: {machine()}", flush=True)
    result = asyncio.run(
        run(args.clients, args.minutes, args.chat_rate, args.poll_every, args.churn)
    )
    print(render(result))


if __name__ == "__main__":
    main()
