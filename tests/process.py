"""Run `classroom serve` as a real process, for restart and crash tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

from tests.conftest import ADMIN, SECRET

READY = "Classroom server on"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def run_cli(*args: str) -> tuple[int, str]:
    """`classroom ...` as its own process: its exit status and what it printed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(60):
        out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


class ServerProcess:
    def __init__(self, data_dir: Path, *extra: str, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.extra = list(extra)
        self.proc: asyncio.subprocess.Process | None = None
        self.lines: list[str] = []
        self._more: asyncio.Queue[str] = asyncio.Queue()
        self._drain: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, *flags: str) -> list[str]:
        """Start and wait for the ready line; returns what it printed up to then."""
        args = ["serve", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        if "--demo" not in flags:
            args += ["--secret", SECRET, "--admin-key", ADMIN]
        if "--captions" not in (*self.extra, *flags):
            args += ["--captions", "off"]  # as in-process test servers: see settings_for
        env = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "server",
            *args,
            *self.extra,
            *flags,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
        )
        assert self.proc.stdout is not None
        printed: list[str] = []
        try:
            async with asyncio.timeout(30):
                while True:
                    raw = await self.proc.stdout.readline()
                    if not raw:
                        raise RuntimeError("server exited:\n" + "".join(printed))
                    printed.append(raw.decode())
                    if READY in printed[-1]:
                        break
        except BaseException:
            await self.kill()  # a server that did not come up is not left running
            raise
        self.lines = printed
        self._more = asyncio.Queue()
        self._drain = asyncio.create_task(self._read_rest(self.proc.stdout))
        return printed

    async def _read_rest(self, stream: asyncio.StreamReader) -> None:
        """Keep reading the log, so a full pipe never blocks the server."""
        while raw := await stream.readline():
            self.lines.append(raw.decode())
            self._more.put_nowait(raw.decode())

    async def read_line(self) -> str:
        async with asyncio.timeout(30):
            return await self._more.get()

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc is None:
            return 0
        if self.proc.returncode is not None:
            return self.proc.returncode
        self.proc.send_signal(sig)
        try:
            async with asyncio.timeout(30):
                return await self.proc.wait()
        except TimeoutError:
            self.proc.kill()  # not left running; what it printed says where it hung
            await self.proc.wait()
            tail = "".join(self.lines[-40:])
            raise AssertionError(f"the server did not exit on signal {sig}:\n{tail}") from None

    async def kill(self) -> None:
        await self.stop(signal.SIGKILL)
