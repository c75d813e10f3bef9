"""A recording's report: how long `GET /api/recordings/{id}/report` takes for 1,000 viewers.

The recording's stream is made through the real domain (`classroom.replay.Replay`,
on a fake clock, seeded): a 60-minute recording with ten polls (quizzes among
them) and `--viewers` people who come once to three times over a week. Each
visit resumes where they left off and plays on, reporting progress every 10
s of watching as the page does; now and then they seek back and watch a
stretch again, or skip ahead, and the chance that they stop grows as the
video goes on. They answer most of the polls they reach, a tenth ask a
question at a moment, others upvote and reply, and a host answers. A few
hosts and moderators preview it too. Its journal goes into a file journal,
as the server keeps it.

Then, as the report route does it (`web.replay_api`, `web.replay_reports`):
once from cold, as a node where the stream is not loaded folds it on the
first request (read the journal, decode, fold, make the report: viewers,
the coverage chart with its rewatches, both cohorts of each poll; encode it
as JSON), each step timed apart; then again with the fold kept in memory,
as every later request, and every request on the node hosting the stream,
is made. And what keeping the fold costs the stream: folding one event as
it commits. Figures, not a pass/fail:
`python -m bench.recording_report [--viewers 1000] [--minutes 60] [--runs 3]`.
The table also goes into docs/benchmarks.md, between its own markers.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from bench.all import write_section
from bench.harness import cell, in_temp_dirs, machine, progress, runs_said, table
from bench.replay import polls
from classroom import commands as c
from classroom import events as e
from classroom import replay_events as r
from classroom.errors import DomainError
from classroom.live import Context
from classroom.replay import Recording, Replay
from classroom.replay_report import RecordingFold, digest
from classroom.roles import ReplayRole
from journal.files import FileJournal
from web.replay_reports import RecordingReports

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- bench:recording-report:begin -->", "<!-- bench:recording-report:end -->"
RID = "r-bench-report"
T0 = 1_700_000_000_000
STEP_MS = 10_000
"""A progress report per 10 s of watching, as the replay page sends them."""
STAFF = 5
"""Hosts and moderators among the viewers."""
KEPT_RUNS = 5
"""Requests timed with the fold kept, per run (their median)."""


class Audience:
    """A recording's stream driven through the domain on a fake clock; refusals skipped."""

    def __init__(self, minutes: float, seed: int) -> None:
        self.duration = int(minutes * 60_000)
        self.recorded = polls(10, self.duration)
        self.stream = Replay(Recording(RID, "c", "Optics 101", self.duration, self.recorded))
        self.rng = random.Random(seed)
        self.now = T0
        self._ids = itertools.count(1)
        self.history: list[e.Event] = []
        self.questions: list[str] = []

    def commit(self, drafts: list[e.Event]) -> list[e.Event]:
        stamped = self.stream.commit(drafts, self.now)
        self.history += stamped
        return stamped

    def do(self, user: str, cmd: c.Command) -> list[e.Event]:
        try:
            return self.commit(
                self.stream.handle(user, cmd, Context(self.now, lambda: f"q{next(self._ids)}"))
            )
        except DomainError:
            return []

    def visit(self, user: str, role: ReplayRole) -> None:
        """One sitting: resume, play with seeks back and ahead, maybe stop early."""
        rng = self.rng
        self.commit(self.stream.visit(user, user.title(), role))
        at = self.stream.viewers[user].position_ms
        if at >= self.duration - STEP_MS:
            at = 0  # seen to the end: they watch it again from the top
        sitting = rng.uniform(0.2, 1.0) * self.duration
        played = 0
        while at < self.duration and played < sitting:
            if rng.random() < 0.000004 * (at / 1000):  # tiring as it goes on
                break
            draw = rng.random()
            if draw < 0.02:  # back to see a stretch again
                at = max(0, at - rng.randrange(10_000, 120_000))
            elif draw < 0.035:  # skip ahead
                at = min(self.duration - 1, at + rng.randrange(30_000, 300_000))
            nxt = min(self.duration, at + STEP_MS)
            self.now += STEP_MS
            self.do(user, c.ReplayProgress(position_ms=nxt, watched=[(at, nxt)]))
            self.answer(user, at, nxt)
            played += nxt - at
            at = nxt

    def answer(self, user: str, start: int, end: int) -> None:
        """The polls the playhead went past: most are answered, once."""
        for p in self.recorded:
            if start <= p.at_ms < end and self.rng.random() < 0.75:
                self.do(user, c.ReplayVote(poll_id=p.poll_id, answer=[self.rng.randrange(4)]))

    def talk(self, user: str, n: int) -> None:
        rng = self.rng
        if n % 10 == 3:
            ask = c.ReplayAsk(text=f"Why {n}?", at_ms=rng.randrange(self.duration))
            for ev in self.do(user, ask):
                if isinstance(ev, r.AsyncAsked):
                    self.questions.append(ev.question.id)
        for qid in rng.sample(self.questions, min(2, len(self.questions))):
            self.do(user, c.ReplayUpvote(question_id=qid))
        if self.questions and n % 7 == 0:
            self.do(user, c.ReplayReply(question_id=rng.choice(self.questions), text="Me too"))


def make_stream(viewers: int, minutes: float, seed: int = 7) -> Audience:
    audience = Audience(minutes, seed)
    rng = audience.rng
    for n in range(viewers):
        user = f"v{n:04d}"
        role: ReplayRole = "viewer" if n >= STAFF else ("host" if n == 0 else "moderator")
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
            audience.now += rng.randrange(10_000, 600_000)
            audience.visit(user, role)
        audience.talk(user, n)
    for qid in audience.questions[::2]:
        audience.do("v0000", c.ReplayAnswer(question_id=qid, text="Answered in the notes."))
    return audience


async def measure(audience: Audience, root: Path) -> dict[str, float]:
    journal = FileJournal(root)
    records = [(ev.seq, r.encode(ev)) for ev in audience.history]
    for start in range(0, len(records), 5000):
        await journal.append(RID, records[start : start + 5000])
    recording = audience.stream.recording
    started = time.perf_counter()
    raw = [data async for _, data in journal.read(RID)]
    read = time.perf_counter()
    history: list[e.Event] = [r.decode(data) for data in raw]
    decoded = time.perf_counter()
    fold = RecordingFold.of(recording, history)
    folded = time.perf_counter()
    made = fold.report()
    reported = time.perf_counter()
    body = msgspec.json.encode(made)
    encoded = time.perf_counter()
    kept = await kept_requests(journal, recording, body)
    digested = await kept_digest(journal, recording)
    await journal.close()
    return {
        "total_ms": (encoded - started) * 1000,
        "read_ms": (read - started) * 1000,
        "decode_ms": (decoded - read) * 1000,
        "fold_ms": (folded - decoded) * 1000,
        "report_ms": (reported - folded) * 1000,
        "json_ms": (encoded - reported) * 1000,
        "kept_ms": kept,
        "digest_ms": digested,
        "event_us": (folded - decoded) * 1e6 / len(history),
        "report_kb": len(body) / 1024,
        "journal_mb": sum(len(d) for _, d in records) / 2**20,
        "buckets": len(made.coverage.buckets),
        "again_s": sum(b.again_ms for b in made.coverage.buckets) / 1000,
    }


async def kept_requests(journal: FileJournal, recording: Recording, expected: bytes) -> float:
    """The median time of a report request once the fold is kept, through the route's own book."""

    def encoded(fold: RecordingFold) -> bytes:
        return msgspec.json.encode(fold.report())

    return await kept_median(journal, recording, encoded, expected)


async def kept_digest(journal: FileJournal, recording: Recording) -> float:
    """The median time of the staff's digest of the whole stream (since 0), the fold kept."""

    def encoded(fold: RecordingFold) -> bytes:
        return msgspec.json.encode(digest(fold.stream, fold.happenings, 0, 1 << 62))

    return await kept_median(journal, recording, encoded)


async def kept_median(
    journal: FileJournal,
    recording: Recording,
    encoded: Callable[[RecordingFold], bytes],
    expected: bytes | None = None,
) -> float:
    """Milliseconds, the median of `KEPT_RUNS` requests after the first (which folds)."""
    book = RecordingReports(journal)
    made = await book.use(recording, encoded)
    assert expected is None or made == expected
    times = []
    for _ in range(KEPT_RUNS):
        started = time.perf_counter()
        made = await book.use(recording, encoded)
        times.append((time.perf_counter() - started) * 1000)
        assert expected is None or made == expected
    await book.close()
    return statistics.median(times)


def render(runs: list[dict[str, float]], meta: dict[str, Any]) -> str:
    def col(key: str) -> list[float]:
        return [run[key] for run in runs]

    rows = [
        ["report, fold kept in memory: report + JSON", cell(col("kept_ms"), 0, "ms")],
        ["digest of the whole stream, fold kept: digest + JSON", cell(col("digest_ms"), 1, "ms")],
        ["report from cold: read + decode + fold + report + JSON", cell(col("total_ms"), 0, "ms")],
        ["of which reading the journal", cell(col("read_ms"), 0, "ms")],
        ["of which decoding the events", cell(col("decode_ms"), 0, "ms")],
        ["of which folding the stream", cell(col("fold_ms"), 0, "ms")],
        ["of which the report (viewers, coverage, polls)", cell(col("report_ms"), 0, "ms")],
        ["of which JSON", cell(col("json_ms"), 1, "ms")],
        ["keeping the fold: one committed event", cell(col("event_us"), 1, "µs")],
        ["report JSON", cell(col("report_kb"), 0, "KiB")],
    ]
    head = (
        f"A {meta['minutes']:g}-minute recording with 10 polls, watched by "
        f"{meta['viewers']:,} viewers ({STAFF} of them staff): {meta['events']:,} stream "
        f"events ({meta['journal_mb']:.1f} MiB), of which {meta['progress']:,} progress "
        f"reports and {meta['ballots']:,} async ballots; {meta['questions']:,} questions; "
        f"{runs[0]['again_s'] / 3600:.1f} hours watched again; coverage in "
        f"{runs[0]['buckets']:.0f} buckets. Made through the domain in {meta['make_s']:.1f} s. "
        + runs_said(runs)
        + f"Machine: {machine()}."
    )
    return head + "\n\n" + table(["figure", "value"], rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--viewers", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    audience = make_stream(args.viewers, args.minutes)
    made = time.perf_counter() - started
    history = audience.history
    progress(f"{len(history):,} stream events made in {made:.1f} s")
    runs = in_temp_dirs(args.runs, lambda root: measure(audience, root))
    meta = {
        "minutes": args.minutes,
        "viewers": args.viewers,
        "events": len(history),
        "progress": sum(isinstance(ev, r.ProgressNoted) for ev in history),
        "ballots": sum(isinstance(ev, r.AsyncVoted) for ev in history),
        "questions": len(audience.questions),
        "journal_mb": statistics.fmean(run["journal_mb"] for run in runs),
        "make_s": made,
    }
    text = render(runs, meta)
    section = f"{BEGIN}\n\n### A recording's report\n\n{text}\n\n{END}"
    write_section(args.doc, section, BEGIN, END)
    print(text, flush=True)


if __name__ == "__main__":
    main()
