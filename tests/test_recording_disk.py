"""A recording on a disk that stalls: the event loop goes on, frames are dropped and noted."""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av

from recorder.capture import Capture
from recorder.store import RecordingStore
from tests.conftest import Server
from tests.rtc_peer import Pattern, RtcClient, Tone
from tests.slow_disk import StalledDisk
from tests.test_recording import published
from web.keys import RECORDER


class StalledStore(RecordingStore):
    """The recordings store on the same stalling disk: each `recording.json` write waits."""

    def __init__(self, root: Path, disk: StalledDisk) -> None:
        super().__init__(root)
        self.disk = disk

    def save(self, recording_id: str, meta: dict[str, Any]) -> None:
        self.disk.wait()
        super().save(recording_id, meta)


class LagProbe:
    """How late the event loop wakes a task that sleeps 5 ms at a time."""

    INTERVAL_S = 0.005

    def __init__(self) -> None:
        self.lags_ms: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.INTERVAL_S)
            self.lags_ms.append(1000 * (loop.time() - before - self.INTERVAL_S))

    async def stop(self) -> dict[str, float]:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        lags = sorted(self.lags_ms)
        return {
            "samples": len(lags),
            "p50_ms": statistics.median(lags),
            "p99_ms": lags[int(0.99 * (len(lags) - 1))],
            "max_ms": lags[-1],
        }


async def until(condition: Callable[[], bool], what: str, limit_s: float = 30) -> None:
    for _ in range(int(limit_s / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"never: {what}")


async def test_a_stalled_disk_never_stalls_the_class(
    media_server: Server, record_property: Callable[[str, object], None]
) -> None:
    server = media_server
    recorder = server.app[RECORDER]
    disk = StalledDisk()
    recorder.open_writer = disk.writer
    recorder.max_pending_bytes = 32 * 1024
    recorder.store = StalledStore(recorder.store.root, disk)
    cid = await server.create_class("Optics")
    host = await server.join(cid, "teacher", "host")
    learner = await server.join(cid, "ann")
    media = RtcClient(host)
    assert (await media.publish(Pattern(), Tone()))["ok"]
    await learner.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 2)

    probe = LagProbe()
    probe.start()
    loop = asyncio.get_running_loop()
    stalled_at = loop.time()
    disk.stall()  # from before the recording starts: its recording.json waits too
    started = await host.call("recording:start")
    assert started["ok"], started
    rid = started["recording_id"]
    capture: Capture = recorder.captures[cid][1]
    # About two seconds of frames (30 video and 50 audio a second) dropped while the disk
    # does not move; commands go on.
    await until(lambda: capture.dropped >= 2 * (30 + 50), "frames dropped")
    assert disk.blocked.is_set() and disk.writes == 0
    assert (await learner.call("chat:send", {"text": "is it frozen?"}))["ok"]
    assert not capture.notes  # still behind

    disk.resume()
    stall_s = loop.time() - stalled_at
    kinds = lambda: {note["kind"] for note in capture.notes}  # noqa: E731
    await until(lambda: kinds() == {"audio", "video"}, "both tracks took up again")
    written = disk.writes
    await until(lambda: disk.writes > written + 60, "frames written after the stall")
    lag = await probe.stop()
    print(f"event loop lag, the disk stalled for {stall_s:.1f} s: {lag}")
    record_property("loop_lag", lag | {"stall_s": stall_s})

    assert (await host.call("recording:stop"))["ok"]
    status = await published(server.url, rid)
    manifest = status["manifest"]
    video_note = next(n for n in manifest["notes"] if n["kind"] == "video")
    assert video_note["frames"] >= 30 and video_note["to_ms"] - video_note["from_ms"] >= 1000
    assert recorder.store.load(rid)["notes"] == capture.notes  # type: ignore[index]
    package = server.settings.data_dir / "recordings" / rid / "package"
    assert sorted(t["kind"] for t in manifest["tracks"]) == ["audio", "video"]
    for track in manifest["tracks"]:
        with av.open(str(package / track["file"])) as source:
            assert sum(1 for _ in source.decode(source.streams[0])) > 30
    # The loop never waited on the disk, which stood still for seconds: a loop that did
    # would have been late by the whole stall. (On a quiet machine the worst lag is a few
    # ms; on a crowded one the scheduler alone makes it tens or hundreds.)
    assert stall_s > 1.5 and lag["max_ms"] < 1000 * stall_s / 2, (stall_s, lag)
    await media.close()
