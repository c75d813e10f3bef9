"""Classes load on first use and unload when nobody uses them: memory holds the
classes in use, and a restart after a crash rebuilds only the ones it hosted."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import aiohttp
import pytest

from journal.hosted import HostedSet
from signaling.auth import mint
from signaling.registry import Registry
from signaling.runtime import ClassRuntime
from tests.conftest import SECRET, Server, running, settings_for
from tests.peer import Peer, Refused
from tests.process import ServerProcess
from tests.test_restart import create_class
from web.keys import REGISTRY


def unloaded(runtime: ClassRuntime) -> asyncio.Event:
    """Set once the class unloads."""
    closed = asyncio.Event()
    runtime.on_close(closed.set)
    return closed


def registry_of(server: Server) -> Registry:
    return server.app[REGISTRY]


def hosted_ids(server: Server) -> list[str]:
    return HostedSet(server.settings.data_dir / "journal" / "hosted").load()


async def test_an_idle_class_unloads_and_comes_back_with_its_history(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path, class_idle_s=0.2)) as server:
        cid = await server.create_class()
        ada = await server.join(cid, "ada", "host")
        assert (await ada.call("chat:send", {"text": "before the break"}))["ok"]
        runtime = registry_of(server).runtimes[cid]
        gone = unloaded(runtime)
        assert hosted_ids(server) == [cid]
        await asyncio.sleep(0.3)  # idle time is counted from the last socket leaving...
        assert not gone.is_set()  # ...and Ada is still here
        await ada.close()
        async with asyncio.timeout(10):
            await gone.wait()
        assert cid not in registry_of(server).runtimes
        await registry_of(server).settled()  # the hosted set is written once it has closed
        assert hosted_ids(server) == []

        back = await server.join(cid, "ada", "host")
        snapshot = back.received("class:state")[0]
        assert [m["text"] for m in snapshot["chat"]] == ["before the break"]
        assert [p["user_id"] for p in snapshot["participants"]] == ["ada"]
        assert (await back.call("chat:send", {"text": "after"}))["ok"]
        assert registry_of(server).runtimes[cid] is not runtime
        assert hosted_ids(server) == [cid]


async def test_an_ended_class_unloads_closing_its_last_sockets(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path, class_ended_s=0.2)) as server:
        cid = await server.create_class()
        host = await server.join(cid, "teacher", "host")
        bob = await server.join(cid, "bob")
        gone = unloaded(registry_of(server).runtimes[cid])
        assert (await host.call("class:end"))["ok"]
        async with asyncio.timeout(10):
            await gone.wait()
            await bob.disconnected.wait()  # the class is over: nobody stays on
        assert cid not in registry_of(server).runtimes
        with pytest.raises(Refused) as refused:
            await server.peer(server.token(cid, "bob")).connect()
        assert refused.value.code == "ended"


async def test_a_busy_service_keeps_its_class_loaded(tmp_path: Path) -> None:
    async with running(settings_for(tmp_path, class_idle_s=0.1)) as server:
        busy = True
        loaded: list[tuple[ClassRuntime, asyncio.Event]] = []

        def service(runtime: ClassRuntime) -> None:  # as webhooks' followers do
            runtime.keep_loaded_while(lambda: busy)
            loaded.append((runtime, unloaded(runtime)))

        registry_of(server).on_runtime.append(service)
        cid = await server.create_class()
        ada = await server.join(cid, "ada")
        await ada.close()
        await asyncio.sleep(0.5)  # several sweeps, each finding the service busy
        [(runtime, gone)] = loaded
        assert not gone.is_set() and registry_of(server).runtimes[cid] is runtime
        busy = False
        async with asyncio.timeout(10):
            await gone.wait()
        # Loaded again by the next connect.
        bob = await server.join(cid, "bob")
        assert bob.received("class:state")[0]["class"]["title"] == "Algebra"
        assert len(loaded) == 2


class HeldHosted(HostedSet):
    """The hosted set on a disk that holds its writes until told: a class stays loading."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writing = asyncio.Event()
        self.release = asyncio.Event()

    async def add(self, class_id: str) -> None:
        self.writing.set()
        await self.release.wait()
        await super().add(class_id)


async def test_who_arrives_while_a_class_loads_joins_after_its_recovery(tmp_path: Path) -> None:
    """A load closes the presence its journal holds (a crash's leftovers): a socket that
    reached the class before that would be closed with it, left connected but absent, every
    command refused. Whoever asks while a class loads waits for the load to finish."""
    async with running(settings_for(tmp_path)) as server:
        cid = await server.create_class()
        registry = registry_of(server)
        held = HeldHosted(server.settings.data_dir / "journal" / "hosted")
        registry.hosted = held
        first = asyncio.create_task(server.join(cid, "ada", "host"))
        await held.writing.wait()
        assert cid not in registry.runtimes  # nobody reaches it while it loads
        second = asyncio.create_task(server.join(cid, "bob"))
        held.release.set()
        async with asyncio.timeout(20):
            ada, bob = await first, await second
        for peer in (ada, bob):
            assert (await peer.call("chat:send", {"text": "here"}))["ok"]
        present = registry.runtimes[cid].room.live.present()
        assert sorted(m.user_id for m in present) == ["ada", "bob"]


async def _health(url: str) -> dict[str, object]:
    async with aiohttp.ClientSession() as http, http.get(url + "/healthz") as resp:
        return dict(await resp.json())


async def test_a_restart_after_a_crash_rebuilds_only_the_hosted_classes(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--class-idle-s", "0.3", "--log-level", "info")
    await server.start()
    try:
        finished, running_now = (
            await create_class(server.url, "Finished"),
            await create_class(server.url, "Running"),
        )
        ada = Peer(server.url, mint(SECRET, running_now, "ada", "Ada", "participant"))
        await ada.connect()
        passing = Peer(server.url, mint(SECRET, finished, "eve", "Eve", "participant"))
        await passing.connect()
        await passing.close()
        # The other class unloads once idle (logged once the hosted set is written).
        async with asyncio.timeout(30):
            while f"class {finished}: unloaded (idle)" not in await server.read_line():
                pass
        assert HostedSet(tmp_path / "journal" / "hosted").load() == [running_now]
        await server.stop(signal.SIGKILL)
        await ada.close()

        await server.start("--class-idle-s", "900")
        assert (await _health(server.url))["classes"] == 1
        # Rebuilt at start-up, Ada's presence closed by the recovery.
        back = Peer(server.url, mint(SECRET, running_now, "bob", "Bob", "participant"))
        snap = await back.connect()
        assert [p["user_id"] for p in snap["participants"]] == ["bob"]
        # The other class is there all the same, loaded on first use.
        other = Peer(server.url, mint(SECRET, finished, "cy", "Cy", "participant"))
        assert (await other.connect())["class"]["title"] == "Finished"
        assert (await _health(server.url))["classes"] == 2
        await back.close()
        await other.close()
    finally:
        await server.stop(signal.SIGKILL)
