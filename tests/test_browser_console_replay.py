"""The console in a real browser: an organizer opens the report of their class's recording,
watched by learners on its replay, and sees the coverage chart drawn, the two cohorts of
each poll side by side, and each viewer. The page keeps to the CSP (the `env` fixture)."""

from __future__ import annotations

import pytest

from classroom.replay import encode_polls
from tests.browser import BrowserEnv, browser_env, env, reported  # noqa: F401  (fixtures)
from tests.replay_domain import QUIZ, WORDS
from tests.replay_package import published_for_replay
from tests.test_browser_console import ANA, INKED, sign_in
from tests.test_console_api import call, create
from tests.test_replay import watch

pytestmark = pytest.mark.asyncio(loop_scope="module")
SERVER_OPTIONS = {"captions": False}
RID = "r-optics"


async def watched(where: BrowserEnv) -> str:
    """Ana's class's recording, watched by three learners; returns the class's id."""
    server = where.server
    cid = await create(server, ANA)
    published_for_replay(server.settings.data_dir, RID, encode_polls([QUIZ, WORDS]), cid)
    ann, ben, cy = [await watch(server, RID, user) for user in ("ann", "ben", "cy")]
    await ann.call("replay:progress", {"position_ms": 60_000, "watched": [[0, 60_000]]})
    await ann.call("replay:progress", {"position_ms": 40_000, "watched": [[30_000, 40_000]]})
    await ben.call("replay:progress", {"position_ms": 20_000, "watched": [[0, 20_000]]})
    await cy.call("replay:progress", {"position_ms": 300_000, "watched": [[0, 300_000]]})
    for who, answer in [(ann, [0]), (ben, [1]), (cy, [0])]:
        assert (await who.call("replay:vote", {"poll_id": "quiz", "answer": answer}))["ok"]
    assert (await ann.call("replay:vote", {"poll_id": "words", "answer": "wave"}))["ok"]
    assert (await ann.call("replay:ask", {"text": "Why three?", "at_ms": 61_000}))["ok"]
    return cid


@reported
async def test_an_organizer_reads_how_a_recording_was_watched(env: BrowserEnv) -> None:  # noqa: F811
    await watched(env)
    ana = await sign_in(env, ANA, width=1400, height=1000)
    page = ana.page
    await page.click("#tab-recordings")
    recording = page.locator(f'#recordings [data-key="{RID}"]')
    await recording.locator(".report-open:not([hidden])").click()
    await page.wait_for_selector("#recording-report:not([hidden])")
    await ana.wait_text("#rec-report-summary", "3 learners watched it")
    summary = await page.inner_text("#rec-report-summary")
    assert (
        summary
        == "3 learners watched it · on average 21% of its 10:00 · 1 question asked, 0 answered."
    )
    for chart in ("chart-coverage", "chart-cohorts"):
        await page.wait_for_function(f"() => ({INKED})('{chart}') > 500")
    label = await page.get_attribute("#chart-coverage", "aria-label")
    assert (
        label
        == "Learners along the recording: at most 3 of 3 on a part; 0:10 watched again; 2 polls."
    )
    label = await page.get_attribute("#chart-cohorts", "aria-label")
    assert label == "Answers to 2 polls: 12 in class, 4 on the replay."

    # The quiz: the class's tally beside the replay's, the right answer marked.
    quiz = page.locator('#rec-polls li[data-poll-id="quiz"] tbody tr')
    assert await quiz.all_inner_texts() == [
        "Triangle ✓\t7 (70%)\t2 (67%)",
        "Square\t3 (30%)\t1 (33%)",
        "Answered\t10\t3",
        "Right\t7 (70%)\t2 (67%)",
    ]
    words = page.locator('#rec-polls li[data-poll-id="words"] tbody tr')
    assert await words.all_inner_texts() == ["wave\t2 (100%)\t1 (100%)", "Answered\t2\t1"]
    rows = await page.locator("#rec-viewers tbody tr").all_inner_texts()
    assert rows == [
        "Ann\tviewer\t1\t1:00\t10%\t2\t1\t1",
        "Ben\tviewer\t1\t0:20\t3%\t1\t0\t0",
        "Cy\tviewer\t1\t5:00\t50%\t1\t1\t0",
    ]
    # The figures are the API's, for the organizer and nobody else's organizer.
    status, body = await call(env.server, "GET", f"/api/recordings/{RID}/report", ANA)
    assert status == 200 and body["coverage"]["learners"] == 3
