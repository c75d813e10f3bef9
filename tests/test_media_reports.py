"""The one task per event loop that sends every subscriber stream's sender report."""

from __future__ import annotations

import asyncio

from media.reports import Reports


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


async def test_each_event_loop_has_its_own() -> None:
    ours = Reports.of_loop()
    assert Reports.of_loop() is ours
    elsewhere = await asyncio.to_thread(asyncio.run, _of_a_new_loop())
    assert elsewhere is not ours


async def _of_a_new_loop() -> Reports:
    return Reports.of_loop()
