"""Webhooks against a real receiver on loopback: failures, a receiver down across a restart,
a receiver that hangs, the catch-up of events the outbox never got, `classroom webhook test`."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from classroom import events as e
from hooks.records import RETRY_DELAYS_S, retry_at
from journal.files import FileJournal
from journal.hosted import HostedSet
from tests.conftest import ADMIN, Server, running, settings_for
from tests.process import ServerProcess, run_cli
from tests.webhook_receiver import SECRET, Receiver
from web.settings import Settings

FAST = (0.2, *([0.5] * 40))
"""Retry waits for tests: about 20 s of tries."""


def hooked(tmp_path: Path, *receivers: Receiver) -> Settings:
    return settings_for(
        tmp_path,
        webhook_urls=tuple(r.url for r in receivers),
        webhook_secret=SECRET,
        webhook_retry_delays_s=FAST,
    )


@contextlib.asynccontextmanager
async def receiving(**options: Any) -> AsyncIterator[Receiver]:
    receiver = Receiver(**options)
    await receiver.start()
    try:
        yield receiver
    finally:
        await receiver.stop()


async def deliveries(srv: Server) -> dict[str, Any]:
    status, body = await srv.http("GET", "/api/webhooks/deliveries")
    assert status == 200, body
    return dict(body)


async def wait_tried(srv: Server, kind: str, tries: int) -> dict[str, Any]:
    """The logged message of `kind` once it has been tried `tries` times."""
    for _ in range(300):
        for msg in (await deliveries(srv))["messages"]:
            if msg["type"] == kind and msg["deliveries"][0]["tries"] >= tries:
                return dict(msg)
        await asyncio.sleep(0.1)
    raise AssertionError(f"{kind} was not tried {tries} times: {await deliveries(srv)}")


async def wait_all_delivered(srv: Server) -> None:
    for _ in range(300):
        if all(d["state"] == "delivered" for d in await _all_deliveries(srv)):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not all delivered: {await deliveries(srv)}")


def test_retries_last_at_least_a_day() -> None:
    rng = random.Random(7)
    now, attempt, waited = 0, 1, 0
    while (due := retry_at(attempt, now, rng)) is not None:
        assert due - now >= RETRY_DELAYS_S[attempt - 1] * 1000  # jitter only ever stretches
        waited, now, attempt = waited + due - now, due, attempt + 1
    assert waited >= 24 * 3600 * 1000
    assert attempt == len(RETRY_DELAYS_S) + 1


async def test_every_event_arrives_once_through_failures_and_a_restart(tmp_path: Path) -> None:
    async with receiving(fail_first=2) as receiver:
        settings = hooked(tmp_path, receiver)
        async with running(settings) as srv:
            cid = await srv.create_class("Optics")
            host = await srv.join(cid, "teacher", "host", name="Ada")
            poll = await host.call("poll:create", {"question": "Ready?", "kind": "truefalse"})
            assert (await host.call("poll:open", {"poll_id": poll["poll_id"]}))["ok"]
            assert (await host.call("poll:close", {"poll_id": poll["poll_id"]}))["ok"]
            assert (await host.call("recording:start"))["ok"]
            assert (await host.call("recording:stop"))["ok"]
            await receiver.wait_types(
                "class.started", "poll.closed", "recording.stopped", "recording.published"
            )

            await receiver.stop()  # down, and it stays down across the restart
            assert (await host.call("class:end"))["ok"]
            ended = await wait_tried(srv, "class.ended", 1)
            assert ended["deliveries"][0]["state"] == "retrying"
            assert "ClientConnectorError" in ended["deliveries"][0]["attempts"][0]["error"]
        async with running(settings) as srv:
            await wait_tried(srv, "class.ended", ended["deliveries"][0]["tries"] + 1)
            await receiver.start()
            await receiver.wait_types("class.ended")
            # Every message reached the receiver, each accepted exactly once.
            await wait_all_delivered(srv)
            logged = (await deliveries(srv))["messages"]

    accepted = receiver.accepted()
    assert set(accepted) == {m["id"] for m in logged}
    assert all(n == 1 for n in accepted.values()), accepted
    assert ended["id"] in accepted  # the id it had before the restart
    for msg_id in accepted:
        # The same id on every try: two refusals, then the 2xx.
        answers = [d.answered for d in receiver.tries if d.id == msg_id]
        assert answers[-1] == 200 and answers.count(200) == 1
    by_type = {d.body["type"]: d.body for d in receiver.tries if d.answered == 200}
    assert {"class.started", "poll.closed", "recording.stopped", "class.ended"} <= set(by_type)
    started = by_type["class.started"]["data"]
    assert started["class_id"] == cid and started["title"] == "Optics"
    assert started["started_by"] == {"user_id": "teacher", "name": "Ada"}
    closed = by_type["poll.closed"]["data"]
    assert closed["poll_id"] == poll["poll_id"] and closed["question"] == "Ready?"
    assert by_type["class.ended"]["data"]["ended_by"] == "teacher"


async def _all_deliveries(srv: Server) -> list[dict[str, Any]]:
    return [d for m in (await deliveries(srv))["messages"] for d in m["deliveries"]]


async def test_a_hanging_receiver_stalls_nothing(tmp_path: Path) -> None:
    async with (
        receiving(hang=True) as hanging,
        receiving() as healthy,
        running(hooked(tmp_path, hanging, healthy)) as srv,
    ):
        cid = await srv.create_class("Optics")
        host = await srv.join(cid, "teacher", "host")
        await healthy.wait_types("class.started")
        for text in ("still", "here"):
            assert (await host.call("chat:send", {"text": text}))["ok"]
        assert (await host.call("class:end"))["ok"]
        await healthy.wait_types("class.ended")
        status, _ = await srv.http("GET", "/healthz")
        assert status == 200
        states = {d["url"]: d["state"] for d in await _all_deliveries(srv)}
        assert states[healthy.url.split("?")[0]] == "delivered"
        assert states[hanging.url.split("?")[0]] == "pending"  # its first try is still out
        assert "not-in-logs" not in str(await deliveries(srv))


async def test_events_the_outbox_never_got_are_caught_up(tmp_path: Path) -> None:
    """A crash after the journal write and before the outbox's: the next start sends them."""
    now = int(time.time() * 1000)
    journal = FileJournal(tmp_path / "journal")
    hosted = HostedSet(tmp_path / "journal" / "hosted")
    old, recent = "old-class", "recent-class"
    for class_id, ts in ((old, now - 3 * 24 * 3600 * 1000), (recent, now - 60_000)):
        history = [
            e.ClassCreated(class_id=class_id, title="Missed"),
            e.ParticipantJoined(user_id="t", name="T", role="host"),
            e.ClassEnded(actor="t"),
        ]
        records = [(i + 1, e.encode(e.stamp(ev, i + 1, ts))) for i, ev in enumerate(history)]
        await journal.append(class_id, records)
        await hosted.add(class_id)  # the server died hosting it
    await journal.close()
    async with receiving() as receiver, running(hooked(tmp_path, receiver)):
        await receiver.wait_types("class.started", "class.ended")
    assert sorted(receiver.types().values()) == ["class.ended", "class.started"]
    assert all(d.body["data"]["class_id"] == recent for d in receiver.tries)


async def test_the_delivery_log_is_for_the_admin(tmp_path: Path) -> None:
    async with receiving() as receiver, running(hooked(tmp_path, receiver)) as srv:
        status, body = await srv.http("GET", "/api/webhooks/deliveries", admin=False)
        assert status == 401 and body["error"]["code"] == "unauthorized"
        status, body = await srv.http("GET", "/api/webhooks/deliveries?limit=0")
        assert status == 400 and body["error"]["code"] == "bad_request"


async def test_webhook_test_command_signs_and_reports(tmp_path: Path) -> None:
    async with receiving() as receiver:
        ok = await run_cli("webhook", "test", "--webhook", receiver.url, "--webhook-secret", SECRET)
        assert ok[0] == 0, ok[1]
        assert list(receiver.types().values()) == ["webhook.test"]
        assert "not-in-logs" not in ok[1] and "delivered (HTTP 200)" in ok[1]
    down = await run_cli("webhook", "test", "--webhook", receiver.url, "--webhook-secret", SECRET)
    assert down[0] == 1 and "failed" in down[1]
    bad = await run_cli("webhook", "test", "--webhook", receiver.url, "--webhook-secret", "x")
    assert bad[0] == 1 and "whsec_" in bad[1]


async def test_the_outbox_survives_kill_9(tmp_path: Path) -> None:
    async with receiving(fail_first=1) as receiver:
        await receiver.stop()
        flags = ["--webhook", receiver.url, "--webhook-secret", SECRET]
        server = ServerProcess(
            tmp_path, *flags, "--webhook-retry-delays", "0.2,0.5,0.5,0.5,0.5,0.5"
        )
        await server.start()
        try:
            headers = {"Authorization": f"Bearer {ADMIN}"}
            async with aiohttp.ClientSession(headers=headers) as http:
                async with http.post(server.url + "/api/classes", json={"title": "T"}) as resp:
                    cid = (await resp.json())["id"]
                from signaling.auth import mint
                from tests.conftest import SECRET as TOKEN_SECRET
                from tests.peer import Peer

                host = Peer(server.url, mint(TOKEN_SECRET, cid, "t", "T", "host"))
                await host.connect()
                assert (await host.call("class:end"))["ok"]
                await host.close()
            await server.stop(signal.SIGKILL)
            await receiver.start()
            await server.start()
            await receiver.wait_types("class.started", "class.ended")
        finally:
            await server.stop()
    assert all(n == 1 for n in receiver.accepted().values())
