"""Class reports: how long the report of a 90-minute class of 500 takes, and what it costs the loop.

The class is made through the real domain (`classroom.aggregate.Classroom`,
on a fake clock, seeded): a host and `--participants` people who come over
the first minutes (some late), drop and reconnect, a few for good; public
chat and direct messages, reactions, hands, ten polls (quizzes and anonymous
ones among them) that most people answer, questions and upvotes, a round of
breakout rooms with their chat and calls for help, microphones published and
muted, the SFU's active-speaker changes, a recording. Its journal goes into
a file journal, as the server keeps it.

Then, as `GET /api/classes/{id}/report` does it (`web.reports_api.ReportBook`):
the report of the whole journal from cold (read, decode, fold, lay out, JSON),
the report again after the last 100 events were journaled (what a console
polling a live class costs), the CSV of the attendance, and the xAPI
statements. While the cold report runs, a task on the event loop measures how
late its 2 ms sleeps wake: the longest delay is how long the live classes of
the node could not be served.

Figures, not a pass/fail: `python -m bench.reports [--participants 500] [--minutes 90] [--runs 3]`.
The table also goes into docs/benchmarks.md, between its own markers.
"""

from __future__ import annotations

import argparse
import asyncio
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
from classroom import commands as c
from classroom import events as e
from classroom.aggregate import Classroom
from classroom.errors import DomainError
from classroom.live import Context
from classroom.media_state import NewTrack
from classroom.reports import ReportFold
from classroom.reports_export import attendance_csv
from classroom.roles import Role
from classroom.xapi import class_statements
from journal.files import FileJournal
from web.reports_api import ReportBook

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- bench:reports:begin -->", "<!-- bench:reports:end -->"
CLASS_ID = "bench-report"
T0 = 1_700_000_000_000
LATE_EVENTS = 100
"""Journaled after the first report, for the figure of a report brought up to date."""


class Lesson:
    """A class driven through the domain on a fake clock; refused actions are skipped."""

    def __init__(self, seed: int) -> None:
        self.room = Classroom()
        self.rng = random.Random(seed)
        self.now = T0
        self._ids = itertools.count(1)
        self.events: list[e.Event] = []
        self.refused = 0
        self.commit(self.room.create(CLASS_ID, "Optics 101", "sfu"))

    def ctx(self) -> Context:
        return Context(self.now, lambda: f"i{next(self._ids)}", self.rng)

    def commit(self, drafts: list[e.Event]) -> None:
        self.events += self.room.commit(drafts, self.now)

    def do(self, user_id: str, cmd: c.Command) -> None:
        try:
            self.commit(self.room.handle(user_id, cmd, self.ctx()))
        except DomainError:
            self.refused += 1

    def join(self, user_id: str, role: Role = "participant") -> None:
        self.commit(self.room.join(user_id, user_id.title(), role))

    def leave(self, user_id: str) -> None:
        self.commit(self.room.leave(user_id, "disconnected"))

    def publish(self, user_id: str, source: e.TrackSource, kind: e.TrackKind) -> None:
        member = self.room.live.members.get(user_id)
        if member is None or not member.present:
            return
        try:
            drafts, _ = self.room.media.publish(
                member, [NewTrack("k", kind, source)], self.ctx().new_id
            )
        except DomainError:
            self.refused += 1
            return
        self.commit(drafts)

    def speaker(self, room: str, user_id: str | None) -> None:
        self.commit(self.room.media.speaker(self.room.live, room, user_id))

    def present_in(self, room: str) -> list[str]:
        return [m.user_id for m in self.room.live.in_room(room)]


Plan = list[tuple[float, int, Callable[[], None]]]


def schedule(lesson: Lesson, people: int, minutes: float) -> Plan:
    """Every action of the class, at its second; run in time order."""
    rng, end = lesson.rng, minutes * 60
    plan: Plan = []
    order = itertools.count()

    def at(second: float, action: Callable[[], None]) -> None:
        plan.append((min(max(second, 0.0), end - 1), next(order), action))

    def scaled(second: float) -> float:
        return second * minutes / 90

    users = [f"p{i:03d}" for i in range(people)]
    at(0, lambda: lesson.join("host", "host"))
    at(5, lambda: lesson.publish("host", "camera", "video"))
    at(5, lambda: lesson.publish("host", "mic", "audio"))
    at(scaled(60), lambda: lesson.do("host", c.RecordingStart()))
    at(scaled(600), lambda: lesson.publish("host", "screen", "video"))
    for uid in users:
        presence(lesson, at, uid, end)
    for _ in range(people * 5):
        who = rng.choice(users)
        at(rng.uniform(0, end), lambda who=who: lesson.do(who, c.ChatSend(text="a question")))
    for _ in range(people * 2 // 5):
        who = rng.choice(users)
        dm = c.ChatSend(text="psst", to_user="host")
        at(rng.uniform(0, end), lambda who=who, dm=dm: lesson.do(who, dm))
    for _ in range(people * 8):
        who = rng.choice(users)
        at(rng.uniform(0, end), lambda who=who: lesson.do(who, c.ReactionSend(emoji="👍")))
    for who in rng.sample(users, people // 2):
        raised = rng.uniform(0, end)
        at(raised, lambda who=who: lesson.do(who, c.HandRaise()))
        at(raised + 60, lambda who=who: lesson.do("host", c.HandLower(user_id=who)))
    for number, minute in enumerate((8, 15, 22, 30, 35, 60, 65, 70, 78, 85)):
        poll(lesson, at, users, number, scaled(minute * 60))
    questions(lesson, at, users, end)
    breakouts(lesson, at, users, scaled(2400), scaled(3300))
    for who in rng.sample(users, max(1, people * 2 // 25)):
        start = rng.uniform(0, end)
        at(start, lambda who=who: lesson.publish(who, "mic", "audio"))
        for k in range(6):
            muted = c.MediaMute(source="mic", muted=k % 2 == 0)
            at(start + 30 + k * 60, lambda who=who, m=muted: lesson.do(who, m))
    speakers(lesson, at, end, scaled(2400), scaled(3300))
    at(end - 1, lambda: lesson.do("host", c.ClassEnd()))
    return sorted(plan, key=lambda item: item[:2])


def presence(lesson: Lesson, at: Any, uid: str, end: float) -> None:
    """Arrival (most on time, some late), reconnects, and for a few an early leave."""
    rng = lesson.rng
    draw = rng.random()
    arrive = rng.uniform(0, 300) if draw < 0.85 else rng.uniform(300, 900 if draw < 0.95 else 2400)
    leave = rng.uniform(end * 0.5, end * 0.95) if rng.random() < 0.08 else end
    at(arrive, lambda: lesson.join(uid))
    drops = rng.choice([1, 1, 2, 3]) if rng.random() < 0.3 else 0
    for _ in range(drops):
        gone = rng.uniform(arrive + 60, max(arrive + 61, leave - 60))
        at(gone, lambda: lesson.leave(uid))
        at(gone + rng.uniform(2, 20), lambda: lesson.join(uid))
    if rng.random() < 0.03:  # away long enough for a second span
        gone = rng.uniform(arrive + 60, max(arrive + 61, leave - 700))
        at(gone, lambda: lesson.leave(uid))
        at(gone + rng.uniform(90, 600), lambda: lesson.join(uid))
    if leave < end:
        at(leave, lambda: lesson.leave(uid))


KINDS: list[dict[str, Any]] = [
    {"kind": "single", "options": ["a", "b", "c", "d"]},
    {"kind": "multiple", "options": ["a", "b", "c", "d"]},
    {"kind": "truefalse"},
    {"kind": "rating"},
    {"kind": "text"},
]


def poll(lesson: Lesson, at: Any, users: list[str], number: int, opened: float) -> None:
    rng = lesson.rng
    spec = dict(KINDS[number % len(KINDS)])
    if number in (1, 4, 7, 9):
        spec = {"kind": "single", "options": ["a", "b", "c", "d"], "correct": [rng.randrange(4)]}
    create = c.PollCreate(question=f"Question {number + 1}?", anonymous=number in (2, 6), **spec)
    ids: list[str] = []

    def open_poll() -> None:
        before = set(lesson.room.polls.polls)
        lesson.do("host", create)
        ids.extend(set(lesson.room.polls.polls) - before)
        if ids:
            lesson.do("host", c.PollOpen(poll_id=ids[0]))

    def vote(who: str) -> None:
        if ids:
            lesson.do(who, c.PollVote(poll_id=ids[0], answer=ballot(rng, str(spec["kind"]))))

    at(opened, open_poll)
    for who in rng.sample(users, len(users) * 85 // 100):
        at(opened + rng.uniform(5, 80), lambda who=who: vote(who))
        if rng.random() < 0.1:
            at(opened + rng.uniform(80, 89), lambda who=who: vote(who))

    def host(command: Callable[[str], c.Command]) -> Callable[[], None]:
        return lambda: lesson.do("host", command(ids[0])) if ids else None

    at(opened + 90, host(lambda poll_id: c.PollClose(poll_id=poll_id)))
    if "correct" in spec:
        at(opened + 100, host(lambda poll_id: c.PollPublish(poll_id=poll_id)))
    for _ in range(len(users) * 2):  # reactions come in a burst when the results show
        who = rng.choice(users)
        at(
            opened + rng.uniform(90, 120),
            lambda who=who: lesson.do(who, c.ReactionSend(emoji="🎉")),
        )


def ballot(rng: random.Random, kind: str) -> e.PollBallot:
    if kind == "multiple":
        return sorted(rng.sample(range(4), rng.randint(1, 3)))
    if kind == "truefalse":
        return [rng.randrange(2)]
    if kind == "rating":
        return rng.randint(1, 5)
    if kind == "text":
        return rng.choice(["light", "wave", "particle", "lens", "prism"])
    return [rng.randrange(4)]


def questions(lesson: Lesson, at: Any, users: list[str], end: float) -> None:
    rng = lesson.rng
    for _ in range(len(users) // 4):
        who, anonymous = rng.choice(users), rng.random() < 0.25
        ask = c.QaAsk(text="Why does it bend?", anonymous=anonymous)
        at(rng.uniform(0, end), lambda who=who, ask=ask: lesson.do(who, ask))

    def upvote(who: str) -> None:
        asked = list(lesson.room.qa.questions)
        if asked:
            lesson.do(who, c.QaUpvote(question_id=rng.choice(asked)))

    for _ in range(len(users) * 4):
        who = rng.choice(users)
        at(rng.uniform(0, end), lambda who=who: upvote(who))


def breakouts(lesson: Lesson, at: Any, users: list[str], opened: float, closed: float) -> None:
    rng = lesson.rng
    rooms = max(1, len(users) // 10)
    at(opened, lambda: lesson.do("host", c.BreakoutOpen(count=rooms, assignment="random")))
    for _ in range(len(users) * 2):
        who = rng.choice(users)
        chat = c.ChatSend(text="in our room")
        at(rng.uniform(opened + 10, closed - 10), lambda who=who, chat=chat: lesson.do(who, chat))
    for _ in range(max(1, len(users) // 16)):
        who = rng.choice(users)
        at(rng.uniform(opened + 60, closed - 60), lambda who=who: lesson.do(who, c.BreakoutHelp()))
    at(closed, lambda: lesson.do("host", c.BreakoutClose(grace_s=0)))


def speakers(lesson: Lesson, at: Any, end: float, opened: float, closed: float) -> None:
    """The SFU's active-speaker changes: the host mostly, then whoever talks in each room."""
    rng = lesson.rng

    def main_room() -> None:
        talking = [u for u in lesson.present_in("main") if u == "host" or rng.random() < 0.01]
        pick = "host" if rng.random() < 0.7 else rng.choice(talking or ["host"])
        lesson.speaker("main", None if rng.random() < 0.1 else pick)

    def rooms() -> None:
        for room in breakout_rooms(lesson):
            people = lesson.present_in(room)
            if people and rng.random() < 0.4:
                lesson.speaker(room, rng.choice(people))

    second = 10.0
    while second < end - 2:
        at(second, rooms if opened < second < closed else main_room)
        second += rng.uniform(3, 13)


def breakout_rooms(lesson: Lesson) -> list[str]:
    r = lesson.room.breakouts.round
    return [room.id for room in r.rooms] if r is not None else []


def make_class(people: int, minutes: float, seed: int = 7) -> tuple[list[e.Event], int]:
    lesson = Lesson(seed)
    for second, _, action in schedule(lesson, people, minutes):
        lesson.now = T0 + int(second * 1000)
        action()
    return lesson.events, lesson.refused


class LoopWatch:
    """How late the event loop wakes a task that sleeps 2 ms at a time."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(0.002)
            self.worst = max(self.worst, time.perf_counter() - asked - 0.002)

    def __enter__(self) -> LoopWatch:
        self._task = asyncio.get_running_loop().create_task(self._watch())
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()


async def measure(events: list[e.Event], root: Path) -> dict[str, float]:
    journal = FileJournal(root / "journal")
    records = [(ev.seq, e.encode(ev)) for ev in events]
    early, late = records[:-LATE_EVENTS], records[-LATE_EVENTS:]
    for start in range(0, len(early), 5000):
        await journal.append(CLASS_ID, early[start : start + 5000])
    now = events[-1].ts
    book = ReportBook()
    body: list[bytes] = []

    def report(fold: ReportFold) -> bytes:
        return msgspec.json.encode(fold.report(now))

    await asyncio.sleep(0.05)  # let the watcher settle before timing
    with LoopWatch() as watch:
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        body.append(await book.use(journal, CLASS_ID, report))
        cold = time.perf_counter() - started
    await journal.append(CLASS_ID, late)
    started = time.perf_counter()
    body.append(await book.use(journal, CLASS_ID, report))
    warm = time.perf_counter() - started
    started = time.perf_counter()
    csv_text = await book.use(journal, CLASS_ID, lambda fold: attendance_csv(fold.report(now)))
    as_csv = time.perf_counter() - started
    started = time.perf_counter()
    raw = [data async for _, data in journal.read(CLASS_ID)]
    statements = await asyncio.to_thread(
        lambda: class_statements((e.decode(d) for d in raw), "https://classroom.example.edu")
    )
    encoded = msgspec.json.encode({"statements": statements})
    xapi = time.perf_counter() - started
    await journal.close()
    return {
        "cold_ms": cold * 1000,
        "warm_ms": warm * 1000,
        "stall_ms": watch.worst * 1000,
        "csv_ms": as_csv * 1000,
        "csv_kb": len(csv_text) / 1024,
        "xapi_ms": xapi * 1000,
        "statements": len(statements),
        "xapi_mb": len(encoded) / 2**20,
        "report_kb": len(body[-1]) / 1024,
        "journal_mb": sum(len(d) for _, d in records) / 2**20,
    }


def render(runs: list[dict[str, float]], meta: dict[str, Any]) -> str:
    def col(key: str) -> list[float]:
        return [r[key] for r in runs]

    rows = [
        ["report, cold: read + fold + JSON", cell(col("cold_ms"), 0, "ms")],
        [f"report again after {LATE_EVENTS} more events", cell(col("warm_ms"), 1, "ms")],
        ["longest event-loop stall during the cold report", cell(col("stall_ms"), 1, "ms")],
        ["attendance CSV", cell(col("csv_ms"), 1, "ms")],
        ["xAPI statements: read + fold + JSON", cell(col("xapi_ms"), 0, "ms")],
        ["report JSON", cell(col("report_kb"), 0, "KiB")],
        ["xAPI export", f"{runs[0]['statements']:,.0f} statements, {runs[0]['xapi_mb']:.1f} MiB"],
    ]
    head = (
        f"A {meta['minutes']:g}-minute class of {meta['people']:,} participants: "
        f"{meta['events']:,} journaled events ({meta['journal_mb']:.1f} MiB), "
        f"made through the domain in {meta['make_s']:.1f} s. "
        + runs_said(runs)
        + f"Machine: {machine()}."
    )
    return head + "\n\n" + table(["figure", "value"], rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--minutes", type=float, default=90)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    events, refused = make_class(args.participants, args.minutes)
    made = time.perf_counter() - started
    progress(f"{len(events):,} events made in {made:.1f} s ({refused:,} actions refused)")
    runs = in_temp_dirs(args.runs, lambda root: measure(events, root))
    meta = {
        "minutes": args.minutes,
        "people": args.participants,
        "events": len(events),
        "journal_mb": statistics.fmean(r["journal_mb"] for r in runs),
        "make_s": made,
    }
    text = render(runs, meta)
    section = f"{BEGIN}\n\n### Class reports\n\n{text}\n\n{END}"
    write_section(args.doc, section, BEGIN, END)
    print(text, flush=True)


if __name__ == "__main__":
    main()
