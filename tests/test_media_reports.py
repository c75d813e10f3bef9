"""The one task per event loop that sends every subscriber stream's sender report."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from media.reports import BATCH, Reports


async def test_every_stream_reports_each_interval_and_one_failure_harms_no_other() -> None:
    reports = Reports(interval=0.01)
    sent: list[str] = []
    twice = asyncio.Event()

    def good() -> None:
        sent.append("good")
        if sent.count("good") >= 2:
            twice.set()

    def broken() -> None:
        raise RuntimeError("this stream's report cannot be written")

    reports.add(broken)
    reports.add(good)
    assert len(reports) == 2
    async with asyncio.timeout(10):
        await twice.wait()
    reports.discard(good)
    reports.discard(broken)
    assert len(reports) == 0 and reports._task is None  # nothing left to wake for


async def test_many_streams_report_a_batch_at_a_time_within_the_interval() -> None:
    reports = Reports(interval=0.05)
    count = 2 * BATCH + 1
    calls = [0] * count
    turns: list[int] = []
    everyone = asyncio.Event()

    def sender(i: int) -> Callable[[], None]:
        def send() -> None:
            calls[i] += 1
            turns.append(i)
            if all(calls):
                everyone.set()

        return send

    for i in range(count):
        reports.add(sender(i))
    async with asyncio.timeout(10):
        await everyone.wait()
    assert all(n == 1 for n in calls)  # each once, within one interval of three turns
    first = list(range(0, count, 3))  # the first of three turns: every third stream
    assert sorted(turns[: len(first)]) == first
    for send in list(reports._senders):
        reports.discard(send)


async def test_each_event_loop_has_its_own() -> None:
    ours = Reports.of_loop()
    assert Reports.of_loop() is ours
    elsewhere = await asyncio.to_thread(asyncio.run, _of_a_new_loop())
    assert elsewhere is not ours


async def _of_a_new_loop() -> Reports:
    return Reports.of_loop()
