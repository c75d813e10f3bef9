"""Fan-out: chat messages to N clients at 20 messages per second, send -> receive latency.

Seats N idle participants in one class (lean clients, bench/sioclient.py),
then sends `--rate` chat messages per second for `--seconds` seconds. The
chat rate limit is 5 messages per second per user, so the stream comes from
`--senders` clients taking turns (4 x 5/s = 20/s); every message goes to the
whole class. Each of the N receivers notes when each message arrives; the
latency of a delivery is arrival minus the moment its sender emitted it (one
clock: senders and receivers share the load generator's process). Prints:

- deliveries received of those expected (N per message);
- send -> receive latency over every delivery, p50 / p99 / max;
- server CPU: seconds, cores busy while sending, microseconds per delivery;
- bytes on the wire per delivery;
- the load generator's own CPU, for scale.

Figures, not a pass/fail: `python -m bench.fanout [--clients 100,500,1000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

from bench.harness import (
    Crowd,
    by_clients,
    cell,
    close_all,
    column,
    crowd,
    join,
    machine,
    own_cpu_seconds,
    percentile,
    progress,
    table,
)

PREFIX = "fan:"
DRAIN_S = 120.0
"""Longest wait for an ack, and for the last deliveries after the last ack."""


class Tally:
    """Arrivals of the numbered chat messages at the receivers."""

    def __init__(self, messages: int, receivers: int) -> None:
        self.sent_at = [math.nan] * messages
        self.latencies: list[float] = []
        self.expected = messages * receivers
        self.done = asyncio.Event()

    def on_event(self, _user: str, name: str, data: Any) -> None:
        if name != "chat:message":
            return
        text = data.get("text", "")
        if text.startswith(PREFIX):
            self.latencies.append(time.perf_counter() - self.sent_at[int(text[len(PREFIX) :])])
            if len(self.latencies) >= self.expected:
                self.done.set()


async def measure(
    room: Crowd, rate: float = 20, seconds: float = 5, senders: int = 4
) -> dict[str, float]:
    """Stream chat through the class and time every delivery to its N members."""
    voices = [
        await join(room.http, room.server, room.class_id, f"s{i:02d}") for i in range(senders)
    ]
    await asyncio.sleep(0.5)
    messages = max(1, round(rate * seconds))
    tally = Tally(messages, len(room.members))
    room.listener = tally.on_event
    bytes0, cpu0, own0 = room.bytes_in, room.server.cpu(), own_cpu_seconds()
    start = time.perf_counter() + 0.1
    calls = []
    for k in range(messages):
        await asyncio.sleep(max(0.0, start + k / rate - time.perf_counter()))
        tally.sent_at[k] = time.perf_counter()
        chat = {"text": f"{PREFIX}{k}"}
        call = voices[k % senders].sio.call("chat:send", chat, DRAIN_S)
        calls.append(asyncio.create_task(call))
    last_sent = time.perf_counter()
    acks = await asyncio.gather(*calls, return_exceptions=True)
    try:
        await asyncio.wait_for(tally.done.wait(), DRAIN_S)
    except TimeoutError:
        progress(f"fan-out: {tally.expected - len(tally.latencies)} deliveries never came")
    wall = time.perf_counter() - start
    cpu, own = room.server.cpu() - cpu0, own_cpu_seconds() - own0
    room.listener = None
    await close_all(voices)
    got = len(tally.latencies)
    return {
        "clients": len(room.members),
        "rate": messages / (last_sent - start) if messages > 1 else rate,
        "messages": messages,
        "refused": sum(not isinstance(a, dict) or not a.get("ok") for a in acks),
        "delivered": got,
        "expected": tally.expected,
        "fan_p50_ms": 1000 * percentile(tally.latencies, 0.50),
        "fan_p99_ms": 1000 * percentile(tally.latencies, 0.99),
        "fan_max_ms": 1000 * max(tally.latencies, default=math.nan),
        "fan_cpu_s": cpu,
        "fan_cores": cpu / wall,
        "fan_us_per_delivery": 1e6 * cpu / max(1, got),
        "fan_bytes_per_delivery": (room.bytes_in - bytes0) / max(1, got),
        "fan_load_cpu_s": own,
    }


async def run(n: int, rate: float, seconds: float, wire: str = "msgpack") -> dict[str, Any]:
    async with crowd(n, wire) as room:
        return room.figures() | await measure(room, rate, seconds)


HEAD = [
    "receivers",
    "delivered",
    "send → receive p50",
    "p99",
    "max",
    "server CPU",
    "cores busy",
    "server CPU per delivery",
    "load generator CPU",
]


def render(results: Sequence[dict[str, Any]]) -> str:
    rows = []
    for n, runs in by_clients(results):
        col = partial(column, runs)

        delivered = [100 * r["delivered"] / r["expected"] for r in runs]
        rows.append(
            [
                f"{n:,}",
                cell(delivered, 1, "%"),
                cell(col("fan_p50_ms"), 0, "ms"),
                cell(col("fan_p99_ms"), 0, "ms"),
                cell(col("fan_max_ms"), 0, "ms"),
                cell(col("fan_cpu_s"), 1, "s"),
                cell(col("fan_cores"), 2),
                cell(col("fan_us_per_delivery"), 0, "µs"),
                cell(col("fan_load_cpu_s"), 1, "s"),
            ]
        )
    return table(HEAD, rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="100,500,1000", help="receivers, comma-separated")
    parser.add_argument("--rate", type=float, default=20, help="messages per second")
    parser.add_argument("--seconds", type=float, default=5, help="how long to send")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--wire", choices=["msgpack", "json"], default="msgpack")
    args = parser.parse_args(argv)
    print(f"Machine: {machine()}", flush=True)
    results = []
    for number in range(args.runs):
        for n in [int(c) for c in args.clients.split(",")]:
            results.append(asyncio.run(run(n, args.rate, args.seconds, args.wire)))
            progress(f"run {number + 1}, {n} receivers: {results[-1]}")
    print(render(results))


if __name__ == "__main__":
    main()
