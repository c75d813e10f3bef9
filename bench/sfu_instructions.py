"""Instructions, not seconds: the SFU's forwarding path counted by callgrind.

On a shared virtual machine the same run's CPU time moves by 15 % and more
from one run to the next, which hides a change of a few percent. Valgrind's
callgrind counts the instructions a program executes instead: the same code
on the same inputs gives the same count, whatever else the machine is doing.

This runs the forwarding path of `bench.sfu_floor` (`Feed.push` to N slots on
real, connected aiortc subscriber connections on 127.0.0.1) under callgrind
with instrumentation off while the connections are made, turns it on
(`callgrind_control -i on`) for the packets alone, and prints the user-space
instructions per packet per subscriber, and the functions that execute the
most of them. What the kernel does for `sendto` is not counted: callgrind
sees user space only, so this compares versions of the Python path and the
libraries it calls, not a whole server's cost. Needs Debian's valgrind.

`python -m bench.sfu_instructions [--subscribers 10] [--packets 1000]`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.sfu_floor import subscribed_feed, vp8_packets
from media.encoded import gather_on

WARM = 50
"""Packets forwarded before counting: every slot started, every cache filled."""


def measure(subscribers: int, packets: int, top: int = 12) -> tuple[float, list[str]]:
    """(instructions per packet per subscriber, the `top` functions' lines of the profile)."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        raise RuntimeError("valgrind is not installed (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        child = subprocess.Popen(
            [
                *("valgrind", "--tool=callgrind", "--instr-atstart=no"),
                f"--callgrind-out-file={out}",
                *(sys.executable, "-m", "bench.sfu_instructions", "--role", "forward"),
                *("--subscribers", str(subscribers), "--packets", str(packets)),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )
        assert child.stdin is not None and child.stdout is not None
        try:
            for toggle in ("on", "off"):
                _expect(child, "ready" if toggle == "on" else "done")
                subprocess.run(
                    ["callgrind_control", "-i", toggle, str(child.pid)],
                    check=True,
                    capture_output=True,
                )
                child.stdin.write("go\n")
                child.stdin.flush()
            _expect(child, "sent")
            child.stdin.close()
            if child.wait(600) != 0:
                raise RuntimeError("the forwarding process failed")
        finally:
            if child.poll() is None:
                child.kill()
        profile = subprocess.run(
            ["callgrind_annotate", "--inclusive=no", str(out)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    total = re.search(r"([\d,]+)\s+(?:\(100\.0%\)\s+)?PROGRAM TOTALS", profile)
    if total is None:
        raise RuntimeError("callgrind_annotate printed no total")
    sends = subscribers * packets
    lines = [line for line in profile.splitlines() if re.match(r"\s*[\d,]+ \(", line)]
    return int(total.group(1).replace(",", "")) / sends, [_short(line) for line in lines[1:top]]


def _expect(child: subprocess.Popen[str], word: str) -> None:
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line.startswith(word):
        raise RuntimeError(f"expected {word!r} from the forwarding process, got {line!r}")


def _short(line: str) -> str:
    """A profile line without the source file's directories and the object's path."""
    _, _, rest = line.strip().partition(" ")
    share, _, name = rest.partition(")  ")
    name = name.split(" [")[0].rsplit("/", 1)[-1]
    return f"{share.strip('(')} {name}"


async def forward(subscribers: int, packets: int) -> None:
    """The child: connect, say "ready", forward when told, say "done", then the count."""
    async with subscribed_feed(subscribers) as feed:
        made = vp8_packets(packets + WARM)
        for packet in made[:WARM]:
            feed.push(packet, 1)
        _said("ready")
        for packet in made[WARM:]:
            feed.push(packet, 1)
        _said("done")
        _said(f"sent {sum(slot.packets for slot in feed.slots)}", answered=False)


def _said(word: str, answered: bool = True) -> None:
    """Say `word`; wait for the parent's answer (it toggles the counting in between)."""
    print(word, flush=True)
    if answered:
        sys.stdin.readline()


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.sfu_instructions", description=__doc__)
    p.add_argument("--subscribers", type=int, default=10)
    p.add_argument("--packets", type=int, default=1000, help="packets counted")
    p.add_argument("--role", default="count", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.role == "forward":
        gather_on(["127.0.0.1"])
        asyncio.run(forward(args.subscribers, args.packets))
        return
    per_send, profile = measure(args.subscribers, args.packets)
    print(f"{per_send:,.0f} user-space instructions per packet per subscriber")
    print("where (share of all, self):")
    for line in profile:
        print(f"  {line}")


if __name__ == "__main__":
    main(sys.argv[1:])
