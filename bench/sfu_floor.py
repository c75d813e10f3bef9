"""The floor under the SFU's per-subscriber cost, and how close packet forwarding comes to it.

- **floor**: what one packet to one subscriber costs, on this machine, from
  Python (as the SFU's Python path sends): SRTP protect (AES-256-GCM, the profile aiortc
  negotiates first; libsrtp, in place as `wire.Sealer` does) and one
  `sendto` of the 1,200-byte packet on a UDP socket (the socket's own, as
  the SFU sends: under asyncio's transport).
- **sendto** alone, and **sendmmsg**: what one socket for all subscribers
  and batched system calls would save: the same datagrams to `FANOUT`
  subscribers, one `sendto` each from a socket of each one's own (as the
  SFU sends: a socket per ICE connection), or one `sendmmsg` for all of
  them on one socket (what a single-port SFU can do; Python has no
  `sendmmsg`, so libc's is called through cffi). Each
  is timed per call with the thread's CPU clock, and the receiving sockets
  are read in between, outside the timing, so every datagram is delivered.
- **native**: SRTP protect and `sendto` as the SFU's native fan-out does them
  (`media/fanout.c`): one call per packet for `FANOUT` subscriber sockets,
  each datagram delivered (read between calls, outside the timing) as for
  **sendto**: the floor without Python's per-call costs.
- **delivered**: the floor again, but to subscribers as this benchmark has them:
  sockets held by other processes that wait for datagrams (`--sink`, in
  epoll), a frame's packets to every subscriber 30 times a second. On
  loopback the sender's system call also delivers the datagram and wakes
  the waiting process on the other core, so this is the floor the SFU's
  figures stand on here; a server sending through a network card does not
  pay for its receivers' wakeups.
- **forward**: the SFU's own path for the same packet: `Feed.push` to N
  slots, each rewriting the header and sending through `wire.Wire` on a
  real, connected aiortc subscriber connection on 127.0.0.1. The packets go
  out while the receiving side is not read: only the sending is measured.

CPU time of this process (`time.process_time`). `python -m bench.sfu_floor`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import selectors
import socket
import struct
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from cffi import FFI
from pylibsrtp import Policy, Session

from media.downlink import LocalDownlink
from media.encoded import gather_on
from media.lanes import Lane, Lanes, Port
from media.packets import ABS_SEND_TIME_URI, Header, Packet
from media.tracks import Feed, Tally
from media.wire import REFUSED, SEALER, SENT, handle_of

SIZE = 1200
FANOUT = 25
"""Subscribers one publisher packet goes to, in the system-call comparison."""
FRAME_PACKETS, FPS = 4, 30
"""A frame's packets (VP8 640x480 at 1 Mbit/s is 3.7) and frames a second, when delivered."""


_HEADER = struct.Struct("!BBHII")
_PAYLOAD = os.urandom(SIZE - 12)


def _rtp(seq: int, stamp: int) -> bytes:
    """A 1,200-byte RTP packet (VP8's payload type, a fixed SSRC)."""
    return _HEADER.pack(0x80, 96, seq & 0xFFFF, stamp & 0xFFFFFFFF, 1234) + _PAYLOAD


def _session() -> Session:
    """An outbound SRTP session with the profile aiortc negotiates first."""
    policy = Policy(
        key=os.urandom(44),
        ssrc_type=Policy.SSRC_ANY_OUTBOUND,
        srtp_profile=Policy.SRTP_PROFILE_AEAD_AES_256_GCM,
    )
    policy.allow_repeat_tx = True
    return Session(policy)


def floor(count: int) -> float:
    """Seconds of CPU for SRTP protect plus one sendto, per packet."""
    session = _session()
    handle = handle_of(session)  # as a sender keeps it
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    source = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    source.bind(("127.0.0.1", 0))
    source.setblocking(False)
    address = sink.getsockname()
    started = time.process_time()
    for n in range(count):
        packet = _rtp(n, n * 3000)
        # The sink is not read: once its buffer is full, the datagrams are dropped (BEHIND).
        assert SEALER.send(handle, packet, b"", source.sendto, address) != REFUSED
    spent = time.process_time() - started
    source.close()
    sink.close()
    return spent / count


_LIBC = """
struct iovec { void *iov_base; size_t iov_len; };
struct msghdr {
    void *msg_name; unsigned int msg_namelen; struct iovec *msg_iov; size_t msg_iovlen;
    void *msg_control; size_t msg_controllen; int msg_flags;
};
struct mmsghdr { struct msghdr msg_hdr; unsigned int msg_len; };
int sendmmsg(int sockfd, struct mmsghdr *msgvec, unsigned int vlen, int flags);
"""


def _bound(stack: contextlib.ExitStack) -> socket.socket:
    """A non-blocking UDP socket on 127.0.0.1, closed with `stack`."""
    made = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
    made.bind(("127.0.0.1", 0))
    made.setblocking(False)
    return made


def system_calls(count: int, fanout: int = FANOUT) -> dict[str, float]:
    """Seconds of CPU per datagram: one `sendto` each from a socket of each subscriber's own
    (as the SFU sends), and one `sendmmsg` of `fanout` on one socket (a single-port SFU)."""
    with contextlib.ExitStack() as stack:
        sinks = [_bound(stack) for _ in range(fanout)]
        sources = [_bound(stack) for _ in range(fanout)]
        datagram = os.urandom(SIZE)
        addresses = [sink.getsockname() for sink in sinks]
        rounds = max(1, count // fanout)

        def each() -> None:
            for source, address in zip(sources, addresses, strict=True):
                source.sendto(datagram, address)

        return {
            "sendto": _timed(each, rounds, sinks) / fanout,
            "sendmmsg": _timed(_batch(_bound(stack), addresses, datagram), rounds, sinks) / fanout,
        }


def native(count: int, fanout: int = FANOUT) -> float:
    """Seconds of CPU per datagram for the native fan-out's SRTP protect and `sendto` to
    `fanout` subscriber sockets, a socket of each one's own (every datagram delivered)."""
    with contextlib.ExitStack() as stack:
        sinks = [_bound(stack) for _ in range(fanout)]
        header, fan = Header(1234, 96, [(3, ABS_SEND_TIME_URI)]), Lanes()
        sessions = [_session() for _ in sinks]  # alive while their lanes send
        for sink, session in zip(sinks, sessions, strict=True):
            port, lane = Port(), Lane(header)
            port.point(handle_of(session), _bound(stack).fileno(), sink.getsockname())
            lane.on(port)
            fan.add(SimpleNamespace(lane=lane))  # type: ignore[arg-type]
        packets = iter(vp8_packets(max(1, count // fanout) + 1))

        def each() -> None:
            assert fan.push(next(packets), 0, 0.0) == fanout

        return _timed(each, max(1, count // fanout), sinks) / fanout


def _batch(
    source: socket.socket, addresses: list[tuple[str, int]], datagram: bytes
) -> Callable[[], None]:
    """One `sendmmsg` of `datagram` to every address (IPv4)."""
    ffi = FFI()
    ffi.cdef(_LIBC)
    libc: Any = ffi.dlopen(None)
    count = len(addresses)
    messages, vectors = ffi.new("struct mmsghdr[]", count), ffi.new("struct iovec[]", count)
    data = ffi.from_buffer(datagram)
    names = [
        ffi.new(
            "char[]",
            struct.pack("=H", socket.AF_INET)
            + struct.pack("!H", port)
            + socket.inet_aton(host)
            + bytes(8),
        )
        for host, port in addresses
    ]
    for i, name in enumerate(names):
        vectors[i].iov_base, vectors[i].iov_len = data, len(datagram)
        header = messages[i].msg_hdr
        header.msg_name, header.msg_namelen = name, len(ffi.buffer(name))
        header.msg_iov, header.msg_iovlen = ffi.addressof(vectors, i), 1
    fd, alive = source.fileno(), (messages, vectors, data, names)  # what the messages point at

    def send() -> None:
        sent = libc.sendmmsg(fd, alive[0], count, 0)
        assert sent == count, f"sendmmsg sent {sent} of {count}"

    return send


def _timed(send: Callable[[], None], rounds: int, sinks: list[socket.socket]) -> float:
    """Seconds of this thread's CPU per call of `send`; the sinks are drained between calls."""
    spent = 0.0
    for _ in range(rounds):
        started = time.thread_time()
        send()
        spent += time.thread_time() - started
        for sink in sinks:
            with contextlib.suppress(BlockingIOError):
                while True:
                    sink.recv(SIZE)
    return spent / rounds


def delivered(count: int, subscribers: int, processes: int) -> float:
    """Seconds of CPU for SRTP protect plus one sendto, per datagram, to `subscribers` sockets
    held by `processes` other processes waiting for them: a frame's packets to each, each
    packet to every subscriber in turn as a publisher's packet is forwarded, `FPS` frames a
    second (the waits are not timed)."""
    with contextlib.ExitStack() as stack:
        ports: list[int] = []
        for n in range(processes):
            share = subscribers // processes + (n < subscribers % processes)
            ports += _sink(stack, share)
        sources = []
        for port in ports:
            source = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            session = _session()
            sources.append((source, session, handle_of(session), ("127.0.0.1", port)))
        frames = max(10, count // (FRAME_PACKETS * len(sources)))
        spent, tick = 0.0, time.monotonic()
        for frame in range(frames):
            started = time.thread_time()
            for n in range(frame * FRAME_PACKETS, (frame + 1) * FRAME_PACKETS):
                for source, _, handle, address in sources:  # a header for each, as the SFU
                    packet = _rtp(n, frame * 3000)
                    assert SEALER.send(handle, packet, b"", source.sendto, address) == SENT
            spent += time.thread_time() - started
            tick += 1 / FPS
            time.sleep(max(0.0, tick - time.monotonic()))
        return spent / (frames * FRAME_PACKETS * len(sources))


def _sink(stack: contextlib.ExitStack, count: int) -> list[int]:
    """A process holding `count` UDP sockets that reads them until its stdin closes: their ports."""
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.sfu_floor", "--sink", str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    stack.callback(child.wait, 20)
    assert child.stdin is not None and child.stdout is not None
    stack.callback(child.stdin.close)
    return [int(port) for port in json.loads(child.stdout.readline())]


def sink(count: int) -> None:
    """Bind `count` sockets, print their ports, read them until stdin closes."""
    with selectors.DefaultSelector() as waiting, contextlib.ExitStack() as stack:
        for _ in range(count):
            made = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            made.bind(("127.0.0.1", 0))
            made.setblocking(False)
            waiting.register(made, selectors.EVENT_READ)
        print(json.dumps([key.fileobj.getsockname()[1] for key in waiting.get_map().values()]))
        sys.stdout.flush()
        waiting.register(sys.stdin, selectors.EVENT_READ)
        while True:
            for key, _ in waiting.select():
                if key.fileobj is sys.stdin:
                    return
                with contextlib.suppress(BlockingIOError):
                    while True:
                        key.fileobj.recv(2048)  # type: ignore[union-attr]


def vp8_packets(count: int) -> list[Packet]:
    """Packets of 1,200 bytes with a VP8 descriptor, a keyframe first, three to a frame."""
    out = []
    for n in range(count):
        start = n % 3 == 0
        key = n == 0
        picture = n // 3
        first = 0x90 if start else 0x80  # X, and S on a frame's first packet
        descriptor = bytes((first, 0x80, 0x80 | picture >> 8 & 0x7F, picture & 0xFF))
        vp8 = bytes((0x00 if key else 0x01,)) if start else b"\x55"
        payload = descriptor + vp8 + bytes(SIZE - 12 - 8 - len(descriptor) - 1)
        out.append(Packet(n, n // 3 * 3000, n % 3 == 2, payload, key, -1, 2))
    return out


def forward(subscribers: int, count: int) -> float:
    """Seconds of CPU per packet per subscriber on the SFU's forwarding path."""
    return asyncio.run(_forward(subscribers, count))


async def _forward(count: int, packet_count: int) -> float:
    async with subscribed_feed(count) as feed:
        packets = vp8_packets(packet_count)
        feed.push(packets[0], 1)  # the keyframe: every slot starts
        started = time.process_time()
        for packet in packets[1:]:
            feed.push(packet, 1)
        spent = time.process_time() - started
        sent = sum(slot.packets for slot in feed.slots)
        assert sent == count * packet_count, f"sent {sent} of {count * packet_count}"
        return spent / (count * (packet_count - 1))


@contextlib.asynccontextmanager
async def subscribed_feed(count: int) -> AsyncIterator[Feed]:
    """A VP8 feed with `count` slots, each on a real aiortc subscriber connection on
    127.0.0.1, connected (the far ends are not read while the caller runs)."""
    config = RTCConfiguration(iceServers=[])
    feed = Feed("video", lambda: None)
    feed.mime = "video/VP8"
    pairs = [(LocalDownlink(config, Tally()), RTCPeerConnection(config)) for _ in range(count)]
    try:
        for downlink, far in pairs:
            downlink.bind(downlink.add_slot("video", "video/VP8"), feed)
            text, _ = await downlink.offer()
            await far.setRemoteDescription(RTCSessionDescription(text, "offer"))
            await far.setLocalDescription(await far.createAnswer())
            await downlink.answer(far.localDescription.sdp)
        await _connected([downlink for downlink, _ in pairs])
        yield feed
    finally:
        for downlink, far in pairs:
            await downlink.close()
            await far.close()


async def _connected(downlinks: list[LocalDownlink]) -> None:
    for _ in range(1200):  # a minute at most
        if all(d.slots[0].wire is not None for d in downlinks):
            return
        await asyncio.sleep(0.05)
    raise TimeoutError("the subscriber connections did not connect")


def measure(
    packets: int, subscribers: int = 20, receivers: int = 50, processes: int = 2
) -> dict[str, float]:
    """Every figure, in seconds per packet (per subscriber); `receivers` in `processes` are the
    subscribers the delivered floor sends to (as many as the SFU benchmark's)."""
    gather_on(["127.0.0.1"])
    subscribers = max(1, min(subscribers, packets // 500))
    return {
        "floor": floor(packets),
        "delivered": delivered(packets, receivers, processes),
        **system_calls(packets),
        "native": native(packets),
        "forward": forward(subscribers, max(2, packets // subscribers)),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.sfu_floor", description=__doc__.split(".")[0])
    p.add_argument("--packets", type=int, default=20000)
    p.add_argument("--subscribers", type=int, default=20)
    p.add_argument("--receivers", type=int, default=50, help="subscribers of the delivered floor")
    p.add_argument("--processes", type=int, default=2, help="processes holding them")
    p.add_argument("--sink", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.sink is not None:
        sink(args.sink)
        return
    found = measure(args.packets, args.subscribers, args.receivers, args.processes)
    print(
        f"SRTP protect + sendto of a {SIZE}-byte packet: {1e6 * found['floor']:.1f} us (the floor)"
    )
    print(f"the same, delivered to waiting processes:     {1e6 * found['delivered']:.1f} us")
    print(f"sendto, a socket each, per datagram:          {1e6 * found['sendto']:.1f} us")
    print(f"sendmmsg of {FANOUT} on one socket, per datagram:   {1e6 * found['sendmmsg']:.1f} us")
    print(f"native protect + sendto, a socket each:       {1e6 * found['native']:.1f} us")
    print(f"SFU forwarding, per packet per subscriber:     {1e6 * found['forward']:.1f} us")
    print(json.dumps(found))


if __name__ == "__main__":
    main()
