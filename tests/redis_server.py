"""A throwaway redis-server for tests: loopback only, AOF fsynced on every write.

    with RedisServer() as server:
        client = redis.asyncio.Redis.from_url(server.url)
        server.kill()      # SIGKILL, as in a crash
        server.restart()   # same port, same data directory

Never port 6379, so a developer's own Redis is never touched.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from types import TracebackType

READY_LINE = b"Ready to accept connections"
START_TIMEOUT = 10.0
PING_TRIES = 5


def redis_server_binary() -> str:
    found = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(found).exists():
        raise RuntimeError("redis-server is not installed: run `apt-get install redis-server`")
    return found


def free_port() -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port != 6379:
            return port


class RedisServer:
    """One redis-server process that can be stopped, killed and restarted in place."""

    def __init__(self) -> None:
        self.binary = redis_server_binary()
        self.directory = Path(tempfile.mkdtemp(prefix="redis-test-"))
        self.port = free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._drainer: threading.Thread | None = None
        self._log: list[bytes] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start on a free port the first time, then always on the same one."""
        for _attempt in range(5):
            if self._launch():
                return
            if b"in use" not in b"".join(self._log):
                break
            self.port = free_port()  # lost a race for the port: pick another
        raise RuntimeError("redis-server did not start:\n" + b"".join(self._log).decode())

    def stop(self) -> None:
        """Shut down cleanly (SIGTERM)."""
        if self._process is not None:
            self._process.terminate()
            self._reap()

    def kill(self) -> None:
        """Die at once (SIGKILL), as in a crash: only what was fsynced survives."""
        if self._process is not None:
            self._process.kill()
            self._reap()

    def restart(self) -> None:
        self.stop()
        self._launch_or_fail()

    def close(self) -> None:
        """Stop and delete the data directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _launch_or_fail(self) -> None:
        if not self._launch():
            raise RuntimeError("redis-server did not restart:\n" + b"".join(self._log).decode())

    def _launch(self) -> bool:
        """Start the process and wait until it answers PING; False if it exited."""
        self._log = []
        # stdout is the log; a thread drains it so the pipe never fills up.
        process = subprocess.Popen(
            [self.binary, *self._arguments()],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            cwd=self.directory,
        )
        ready = threading.Event()
        self._process = process
        self._drainer = threading.Thread(target=self._drain, args=(process, ready), daemon=True)
        self._drainer.start()
        if not ready.wait(START_TIMEOUT):
            self.kill()
            raise RuntimeError(f"redis-server not ready after {START_TIMEOUT}s")
        if process.poll() is not None or not self._answers_ping():
            self.kill()
            return False
        return True

    def _arguments(self) -> list[str]:
        return [
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "yes",
            "--appendfsync", "always",
            "--dir", str(self.directory),
            "--daemonize", "no",
        ]  # fmt: skip

    def _drain(self, process: subprocess.Popen[bytes], ready: threading.Event) -> None:
        """Keep the log; signal once the server is listening or has exited."""
        assert process.stdout is not None
        for line in process.stdout:
            self._log.append(line)
            if READY_LINE in line:
                ready.set()
        ready.set()

    def _answers_ping(self) -> bool:
        for _try in range(PING_TRIES):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2.0) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return True
            except OSError:
                continue
        return False

    def _reap(self) -> None:
        assert self._process is not None and self._drainer is not None
        self._process.wait(timeout=START_TIMEOUT)
        self._drainer.join(timeout=START_TIMEOUT)  # it ends when the log pipe closes
        assert self._process.stdout is not None
        self._process.stdout.close()
        self._process = self._drainer = None
