"""The `classroom` command as a new user runs it."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

from server.cli import _report_slow_shutdown, stop_within
from signaling.auth import verify, verify_replay
from signaling.registry import CLASS_ID, new_class_id
from tests.conftest import SECRET
from tests.peer import Peer
from tests.process import ServerProcess


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CLASSROOM_")}
    return subprocess.run(
        [sys.executable, "-m", "server", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=clean | (env or {}),
    )


def test_serve_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    done = run_cli("serve", "--port", "0", "--data-dir", str(tmp_path))
    assert done.returncode != 0
    assert "no token secret" in done.stderr and "CLASSROOM_SECRET" in done.stderr


def test_token_command_prints_a_verifiable_token() -> None:
    done = run_cli(
        "token", "--class", "c1", "--user", "u1", "--name", "Ada", "--role", "moderator",
        "--ttl", "600", env={"CLASSROOM_SECRET": SECRET},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    claims = verify(SECRET, done.stdout.strip(), "c1")
    assert (claims.user_id, claims.name, claims.role) == ("u1", "Ada", "moderator")


def test_token_command_prints_a_replay_token() -> None:
    secret = {"CLASSROOM_SECRET": SECRET}
    done = run_cli("token", "--recording", "r1", "--user", "u1", "--name", "Ada", env=secret)
    assert done.returncode == 0, done.stderr
    claims = verify_replay(SECRET, done.stdout.strip(), "r1")
    assert (claims.user_id, claims.name, claims.role, claims.link) == ("u1", "Ada", "viewer", None)
    wrong = run_cli(
        "token", "--recording", "r1", "--user", "u1", "--name", "Ada", "--role", "participant",
        env=secret,
    )  # fmt: skip
    assert wrong.returncode != 0 and "viewer, moderator and host" in wrong.stderr


async def printed(server: ServerProcess, label: str) -> str:
    """What follows `label` on the next line holding it: media workers log as they come up,
    between the server's own lines when the machine is busy."""
    for _ in range(50):
        line = await server.read_line()
        if label in line:
            return line.split(label, 1)[1].strip()
    raise AssertionError(f"no {label!r} line in {server.lines}")


async def test_demo_prints_working_join_links(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path)
    try:
        await server.start("--demo")
        host_link = await printed(server, "host link:")
        invite_link = await printed(server, "participant link:")
        assert host_link.startswith(server.url + "/c/demo#token=")
        async with aiohttp.ClientSession() as http:
            async with http.get(host_link.split("#")[0]) as page:
                assert page.status == 200
            invite = invite_link.split("#invite=")[1]
            body = {"invite": invite, "name": "Learner"}
            async with http.post(server.url + "/api/classes/demo/join", json=body) as resp:
                assert resp.status == 201
                learner_token = (await resp.json())["token"]
        teacher = Peer(server.url, host_link.split("#token=")[1])
        learner = Peer(server.url, learner_token)
        snap = await teacher.connect()
        assert snap["class"]["title"] == "Demo class" and snap["you"]["role"] == "host"
        await learner.connect()
        assert (await learner.call("chat:send", {"text": "hello teacher"}))["ok"]
        await teacher.wait_for("chat:message", lambda m: m["text"] == "hello teacher")
        await teacher.close()
        await learner.close()
        # A second start reuses the kept secret: the same links still work.
        await server.stop()
        await server.start("--demo")
        again = Peer(server.url, host_link.split("#token=")[1])
        await again.connect()
        await again.close()
    finally:
        await server.stop(signal.SIGKILL)


def test_generated_class_ids_pass_as_command_line_arguments() -> None:
    # One id in 64 would begin with "-" and read as a flag to `classroom token --class`.
    ids = [new_class_id() for _ in range(2000)]
    assert all(CLASS_ID.match(i) and not i.startswith("-") for i in ids)
    assert len(set(ids)) == len(ids)


async def test_a_second_server_on_the_same_data_directory_is_refused(tmp_path: Path) -> None:
    first = ServerProcess(tmp_path)
    try:
        await first.start()
        second = run_cli("serve", "--port", "0", "--data-dir", str(tmp_path), "--secret", SECRET)
        assert second.returncode != 0
        assert "another server is using the journal" in second.stderr
        assert "Traceback" not in second.stderr
        # The kernel drops the lock with the process: a restart after kill -9 is not refused.
        await first.kill()
        await first.start()
    finally:
        await first.stop(signal.SIGKILL)


async def test_a_slow_shutdown_says_what_it_waits_on(caplog: Any) -> None:
    async def closing(never: asyncio.Event) -> None:
        await never.wait()

    async def cleanup() -> None:
        await closing(asyncio.Event())

    stuck = asyncio.create_task(cleanup(), name="a task that ignores the stop")
    await asyncio.sleep(0)
    caplog.set_level(logging.WARNING, "classroom.serve")
    try:
        await _report_slow_shutdown(0)
    finally:
        stuck.cancel()
    said = caplog.text
    assert "still stopping" in said
    line = next(line for line in said.splitlines() if "a task that ignores the stop" in line)
    # The whole chain of awaits, down to what the innermost waits on.
    chain = [line.index(part) for part in ("cleanup", "closing", "wait (", "Future")]
    assert chain == sorted(chain)


async def test_a_cleanup_that_hangs_is_abandoned_at_the_limit() -> None:
    assert await stop_within(asyncio.sleep(0), 1.0)
    assert not await stop_within(asyncio.Event().wait(), 0.01)
