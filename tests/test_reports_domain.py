"""Pure tests of class reports on a fake clock: every field, exact values."""

from __future__ import annotations

import csv
import io

import msgspec
import pytest

from classroom import commands as c
from classroom import events as e
from classroom.reports import (
    EARLY_BEFORE_MS,
    LATE_AFTER_MS,
    REJOIN_GAP_MS,
    ClassReport,
    JournalGap,
    ReportFold,
    class_report,
)
from classroom.reports_export import COLUMNS, attendance_csv
from classroom.reports_timeline import MAX_BUCKETS, MINUTE_MS
from classroom.xapi import class_statements
from tests.domain import Harness

T0 = 1_000_000


class Class(Harness):
    """The domain harness with a clock set in seconds from T0."""

    def at(self, seconds: float) -> Class:
        self.clock.now = T0 + int(seconds * 1000)
        return self

    def leave(self, user_id: str) -> None:
        self.commit(self.room.leave(user_id, "disconnected"))

    def report(self, now_s: float | None = None) -> ClassReport:
        now = self.clock.now if now_s is None else T0 + int(now_s * 1000)
        return class_report(self.history, now)


def row(rows: list[object], user_id: str) -> object:
    return next(r for r in rows if getattr(r, "user_id", None) == user_id)


def ms(seconds: float) -> int:
    return T0 + int(seconds * 1000)


# -- attendance ---------------------------------------------------------------


def test_a_reconnect_does_not_split_a_span_and_a_long_absence_does() -> None:
    h = Class()
    h.at(0).join("teacher", "host")
    h.at(60).join("ann")
    h.at(120).leave("ann")
    h.at(150).join("ann")  # back within the gap: the same stay
    h.at(300).leave("ann")
    h.at(300 + REJOIN_GAP_MS / 1000).join("ann")  # exactly the gap: still the same stay
    h.at(500).leave("ann")
    h.at(500 + REJOIN_GAP_MS / 1000 + 1).join("ann")  # a second longer: a new span
    h.at(1000).do("teacher", c.ClassEnd())
    ann = row(h.report().attendance, "ann")  # type: ignore[arg-type]
    assert ann.spans == [(ms(60), ms(500)), (ms(561), ms(1000))]
    assert ann.present_ms == 440_000 + 439_000
    assert ann.joins == 4
    assert (ann.first_joined_at, ann.last_left_at) == (ms(60), ms(1000))
    assert (ann.late_ms, ann.late, ann.left_early_ms, ann.left_early) == (60_000, False, 0, False)


def test_lateness_leaving_early_and_the_class_start() -> None:
    h = Class()
    h.at(0).join("early")  # before the host: the class has not started yet
    h.at(30).join("teacher", "host")
    h.at(30 + LATE_AFTER_MS / 1000).join("ontime")  # exactly the threshold: not late
    h.at(31 + LATE_AFTER_MS / 1000).join("late")
    h.at(600).leave("late")
    h.at(2000).leave("ontime")
    h.at(2000 + EARLY_BEFORE_MS / 1000).do("teacher", c.ClassEnd())
    report = h.report()
    assert report.started_at == ms(30) and report.ended_at == ms(2300)
    assert report.as_of == ms(2300) and report.duration_ms == 2_270_000
    got = {a.user_id: (a.late_ms, a.late, a.left_early_ms, a.left_early) for a in report.attendance}
    assert got == {
        "early": (0, False, 0, False),
        "teacher": (0, False, 0, False),
        "ontime": (LATE_AFTER_MS, False, EARLY_BEFORE_MS, False),
        "late": (LATE_AFTER_MS + 1000, True, 1_700_000, True),
    }
    assert [a.user_id for a in report.attendance] == ["early", "teacher", "ontime", "late"]
    assert report.people == 4 and report.peak_present == 4


def test_a_class_still_live_counts_up_to_now_and_says_nothing_of_leaving_early() -> None:
    h = Class()
    h.at(0).join("teacher", "host")
    h.at(10).join("ann")
    h.at(20).leave("ann")
    report = h.report(now_s=100)
    teacher = row(report.attendance, "teacher")  # type: ignore[arg-type]
    ann = row(report.attendance, "ann")  # type: ignore[arg-type]
    assert teacher.spans == [(ms(0), None)] and teacher.present_ms == 100_000
    assert teacher.last_left_at is None and teacher.left_early_ms is None
    assert ann.spans == [(ms(10), ms(20))] and ann.present_ms == 10_000
    assert ann.left_early_ms is None and not ann.left_early
    assert report.ended_at is None and report.as_of == ms(100) and report.duration_ms == 100_000


def test_roles_are_the_last_ones_given() -> None:
    h = Class()
    h.at(0).join("teacher", "host")
    h.join("ann")
    h.do("teacher", c.RoleSet(user_id="ann", role="moderator"))
    report = h.report()
    assert row(report.attendance, "ann").role == "moderator"  # type: ignore[attr-defined]
    fold = ReportFold.of(h.history)
    assert fold.role_of("ann") == "moderator" and fold.role_of("nobody") is None


# -- participation -------------------------------------------------------------


def scripted() -> Class:
    """A class where ann and bob do one of everything."""
    h = Class("Optics")
    h.at(0).join("teacher", "host")
    h.join("ann")
    h.join("bob")
    h.at(10).do("ann", c.ChatSend(text="hello"))
    h.do("ann", c.ChatSend(text="psst", to_user="bob"))
    h.do("bob", c.ChatSend(text="hi"))
    h.do("ann", c.HandRaise())
    h.do("ann", c.HandLower())
    h.do("ann", c.HandRaise())
    h.do("bob", c.ReactionSend(emoji="👍"))
    h.do("bob", c.ReactionSend(emoji="🎉"))
    named = poll(h, c.PollCreate(question="Ready?", kind="truefalse"))
    h.do("ann", c.PollVote(poll_id=named, answer=[0]))
    h.do("ann", c.PollVote(poll_id=named, answer=[1]))  # a changed ballot counts once
    secret = poll(h, c.PollCreate(question="Mood?", kind="rating", anonymous=True))
    h.do("bob", c.PollVote(poll_id=secret, answer=4))
    quiz = poll(h, c.PollCreate(question="2+2?", kind="single", options=["3", "4"], correct=[1]))
    h.do("ann", c.PollVote(poll_id=quiz, answer=[1]))
    h.do("bob", c.PollVote(poll_id=quiz, answer=[0]))
    h.do("teacher", c.PollClose(poll_id=quiz))
    still_open = poll(
        h, c.PollCreate(question="1+1?", kind="single", options=["2", "3"], correct=[0])
    )
    h.do("bob", c.PollVote(poll_id=still_open, answer=[0]))  # not scored until it closes
    asked = h.do("ann", c.QaAsk(text="Why?"))[0]
    h.do("bob", c.QaAsk(text="Who?", anonymous=True))
    assert isinstance(asked, e.QuestionAsked)
    h.do("bob", c.QaUpvote(question_id=asked.question.id))
    h.do("teacher", c.QaUpvote(question_id=asked.question.id))
    return h


def poll(h: Class, create: c.PollCreate) -> str:
    created = h.do("teacher", create)[0]
    assert isinstance(created, e.PollCreated)
    h.do("teacher", c.PollOpen(poll_id=created.poll_id))
    return created.poll_id


def test_participation_counts_what_each_person_did() -> None:
    h = scripted()
    report = h.report(now_s=60)
    got = {p.user_id: msgspec.structs.asdict(p) for p in report.participation}
    assert got["ann"] == {
        "user_id": "ann",
        "name": "Ann",
        "chat": 2,
        "direct_messages": 1,
        "hands": 2,
        "reactions": 0,
        "polls_answered": 2,
        "quiz_answered": 1,
        "quiz_correct": 1,
        "questions": 1,
        "upvotes_received": 2,
        "upvotes_given": 0,
        "speaking_ms": 0,
    }
    assert got["bob"] == {
        "user_id": "bob",
        "name": "Bob",
        "chat": 1,
        "direct_messages": 0,
        "hands": 0,
        "reactions": 2,
        "polls_answered": 2,  # the quiz and the open one; the anonymous poll counts for nobody
        "quiz_answered": 1,
        "quiz_correct": 0,
        "questions": 0,  # the anonymous question counts for nobody
        "upvotes_received": 0,
        "upvotes_given": 1,
        "speaking_ms": 0,
    }
    assert got["teacher"]["upvotes_given"] == 1 and got["teacher"]["chat"] == 0


def test_polls_are_summed_up_without_voters() -> None:
    report = scripted().report(now_s=60)
    polls = {p.question: p for p in report.polls}
    assert [p.question for p in report.polls] == ["Ready?", "Mood?", "2+2?", "1+1?"]
    ready = polls["Ready?"]
    assert (ready.kind, ready.status, ready.anonymous, ready.quiz) == ("truefalse", "open", 0, 0)
    assert ready.results.counts == [0, 1] and ready.results.voters == 1
    assert ready.opened_at == ms(10) and ready.closed_at is None and ready.correct_voters is None
    mood = polls["Mood?"]
    assert mood.anonymous and mood.results.counts == [0, 0, 0, 1, 0] and mood.results.mean == 4
    quiz = polls["2+2?"]
    assert quiz.status == "closed" and quiz.closed_at == ms(10) and quiz.correct_voters == 1
    polls_json = msgspec.json.encode(report.polls).decode()
    assert "ann" not in polls_json and "bob" not in polls_json


def test_speaking_time_runs_from_speaker_event_to_the_next_or_a_leave() -> None:
    h = Class()
    h.at(0).join("teacher", "host")
    h.join("ann")
    h.join("bob")

    def speaker(user_id: str | None, room: str = "main") -> None:
        h.commit(h.room.media.speaker(h.room.live, room, user_id))

    h.at(10)
    speaker("teacher")
    h.at(40)
    speaker("ann")  # teacher spoke 30 s
    h.at(45)
    speaker(None)  # ann spoke 5 s
    h.at(50)
    speaker("bob")
    h.at(70).leave("bob")  # bob spoke 20 s, until he left
    h.at(80)
    speaker("teacher")
    h.at(100).do("teacher", c.ClassEnd())  # teacher spoke 20 s more, until the end
    speaking = {p.user_id: p.speaking_ms for p in h.report().participation}
    assert speaking == {"teacher": 50_000, "ann": 5_000, "bob": 20_000}


def test_a_speaker_still_speaking_counts_up_to_now() -> None:
    h = Class()
    h.at(0).join("teacher", "host")
    h.at(10).commit(h.room.media.speaker(h.room.live, "main", "teacher"))
    assert row(h.report(now_s=25).participation, "teacher").speaking_ms == 15_000  # type: ignore[attr-defined]


# -- timeline --------------------------------------------------------------------


def test_timeline_counts_per_minute_and_marks_moments() -> None:
    h = Class()
    h.at(0).join("teacher", "host")  # T0 is 16 min 40 s past a whole minute
    h.at(20).join("ann")  # minute 17
    h.at(25).do("ann", c.ChatSend(text="one"))
    h.do("ann", c.ReactionSend(emoji="👍"))
    h.at(90).join("bob")  # minute 18
    h.at(100).leave("bob")
    h.do("ann", c.ChatSend(text="two"))
    quiz = poll(h, c.PollCreate(question="Q?", kind="truefalse"))
    started = h.at(150).do("teacher", c.RecordingStart())[0]
    assert isinstance(started, e.RecordingStarted)
    h.do("teacher", c.RecordingMark(title="Part 2"))
    h.do("teacher", c.PollClose(poll_id=quiz))
    h.do("teacher", c.PollPublish(poll_id=quiz))
    h.at(200).do("teacher", c.ClassEnd())
    report = h.report()
    timeline = report.timeline
    assert timeline.bucket_ms == MINUTE_MS
    assert [(b.t, b.present, b.chat, b.reactions) for b in timeline.buckets] == [
        (16 * MINUTE_MS, 1, 0, 0),
        (17 * MINUTE_MS, 2, 1, 1),
        (18 * MINUTE_MS, 3, 1, 0),  # bob was there for ten seconds of it
        (19 * MINUTE_MS, 2, 0, 0),
        (20 * MINUTE_MS, 2, 0, 0),  # the class ended in this minute
    ]
    rid = started.recording_id
    assert [(m.t, m.kind, m.id, m.label) for m in timeline.moments] == [
        (ms(100), "poll.opened", quiz, "Q?"),
        (ms(150), "recording.started", rid, None),
        (ms(150), "recording.marker", rid, "Part 2"),
        (ms(150), "poll.closed", quiz, "Q?"),
        (ms(150), "poll.published", quiz, "Q?"),
        (ms(200), "recording.stopped", rid, None),  # ending the class stops the recording
        (ms(200), "class.ended", None, None),
    ]
    assert [(r.recording_id, r.started_at, r.stopped_at) for r in report.recordings] == [
        (rid, ms(150), ms(200))
    ]


def test_a_class_open_for_days_fits_its_timeline_in_wider_buckets() -> None:
    h = Class()
    h.at(0).join("teacher", "host")
    report = h.report(now_s=47 * 3600)  # 2,821 minutes: buckets of two
    assert report.timeline.bucket_ms == 2 * MINUTE_MS
    assert len(report.timeline.buckets) <= MAX_BUCKETS
    assert all(b.present == 1 for b in report.timeline.buckets)


def test_nobody_came() -> None:
    h = Class()
    report = h.report(now_s=10)
    assert report.started_at is None and report.duration_ms == 0
    assert report.attendance == [] and report.timeline.buckets == []


# -- breakout rooms --------------------------------------------------------------


def test_breakout_rooms_say_who_was_there_how_long_messages_and_help() -> None:
    h = Class()
    h.at(0).join("teacher", "host")
    h.join("ann")
    h.join("bob")
    h.join("cat")
    rooms = [c.BreakoutRoomSpec(name="Red"), c.BreakoutRoomSpec(name="Blue")]
    setup = c.BreakoutOpen(
        rooms=rooms, assignment="manual", assignments={"ann": 0, "bob": 1, "cat": 1}
    )
    opened = h.at(60).do("teacher", setup)[0]
    assert isinstance(opened, e.BreakoutOpened)
    red, blue = (r.id for r in opened.rooms)
    h.at(70).do("ann", c.ChatSend(text="in red"))
    h.do("ann", c.ChatSend(text="again"))
    h.at(80).do("bob", c.BreakoutHelp())
    h.at(90).do("teacher", c.BreakoutVisit(room_id=blue))
    h.do("cat", c.ChatSend(text="in blue"))
    h.at(150).leave("cat")  # cat was in blue for 90 s
    h.at(180).do("teacher", c.BreakoutVisit(room_id="main"))
    h.at(360).do("teacher", c.BreakoutClose(grace_s=0))
    h.at(400).do("teacher", c.ClassEnd())
    report = h.report()
    got = {b.name: b for b in report.breakouts}
    assert [(b.round, b.room_id, b.opened_at, b.closed_at) for b in report.breakouts] == [
        (1, red, ms(60), ms(360)),
        (1, blue, ms(60), ms(360)),
    ]
    assert [(p.user_id, p.role, p.present_ms) for p in got["Red"].people] == [
        ("ann", "participant", 300_000)
    ]
    assert [(p.user_id, p.present_ms) for p in got["Blue"].people] == [
        ("bob", 300_000),
        ("cat", 90_000),  # ties in name order
        ("teacher", 90_000),
    ]
    assert (got["Red"].messages, got["Blue"].messages) == (2, 1)
    assert [(r.t, r.user_id, r.name) for r in got["Blue"].help_requests] == [(ms(80), "bob", "Bob")]
    assert got["Red"].help_requests == []
    kinds = [(m.kind, m.label) for m in report.timeline.moments]
    assert kinds[:2] == [("breakout.opened", "2"), ("breakout.closed", None)]


# -- anonymity ---------------------------------------------------------------------


def anonymous_class(voter: str, asker: str) -> Class:
    h = Class()
    h.at(0).join("teacher", "host")
    h.join("ann")
    h.join("bob")
    secret = poll(
        h, c.PollCreate(question="Honest?", kind="single", options=["y", "n"], anonymous=True)
    )
    h.at(5).do(voter, c.PollVote(poll_id=secret, answer=[0]))
    quiz = poll(
        h,
        c.PollCreate(
            question="Sure?", kind="single", options=["y", "n"], correct=[0], anonymous=True
        ),
    )
    h.do(voter, c.PollVote(poll_id=quiz, answer=[0]))
    h.do("teacher", c.PollClose(poll_id=quiz))
    h.do("teacher", c.PollPublish(poll_id=quiz))
    asked = h.at(7).do(asker, c.QaAsk(text="Is it?", anonymous=True))[0]
    assert isinstance(asked, e.QuestionAsked)
    h.do("teacher", c.QaUpvote(question_id=asked.question.id))
    h.at(9).do("teacher", c.ClassEnd())
    return h


def test_nothing_tells_who_voted_anonymously_or_asked_anonymously() -> None:
    # Only who voted and who asked differ: every report and export must be the same.
    one, other = anonymous_class("ann", "ann"), anonymous_class("bob", "bob")
    assert msgspec.json.encode(one.report()) == msgspec.json.encode(other.report())
    assert attendance_csv(one.report()) == attendance_csv(other.report())
    base = "https://classroom.example"
    assert class_statements(one.history, base) == class_statements(other.history, base)
    ann = row(one.report().participation, "ann")  # type: ignore[arg-type]
    assert (ann.polls_answered, ann.quiz_answered, ann.questions) == (0, 0, 0)


# -- folding ---------------------------------------------------------------------


def test_a_fold_taken_in_parts_is_the_fold_of_the_whole_and_a_report_changes_nothing() -> None:
    h = scripted()
    h.at(30).leave("bob")
    h.at(40).do("teacher", c.ClassEnd())
    whole = msgspec.json.encode(class_report(h.history, ms(50)))
    fold = ReportFold()
    for ev in h.history[:20]:
        fold.apply(ev)
    first = msgspec.json.encode(fold.report(ms(50)))
    for ev in h.history[20:]:
        fold.apply(ev)
    assert msgspec.json.encode(fold.report(ms(50))) == whole != first
    assert msgspec.json.encode(fold.report(ms(50))) == whole


def test_a_hole_in_the_journal_is_refused() -> None:
    h = scripted()
    fold = ReportFold()
    fold.apply(h.history[0])
    with pytest.raises(JournalGap, match="does not follow"):
        fold.apply(h.history[2])


# -- CSV ---------------------------------------------------------------------------


def test_attendance_csv_has_a_row_per_person_and_runs_no_formula() -> None:
    h = Class()
    h.at(0).join("teacher", "host")
    for uid, name in [("u1", '=HYPERLINK("x")'), ("u2", "+1"), ("u3", "-2"), ("u4", "@SUM(A1)")]:
        h.commit(h.room.join(uid, name, "participant"))
    h.at(30).leave("u1")
    h.at(60).do("teacher", c.ClassEnd())
    text = attendance_csv(h.report())
    lines = text.split("\r\n")
    assert lines[0] == ",".join(COLUMNS) and lines[-1] == ""
    assert lines[1].startswith("teacher,Teacher,host,1970-01-01T00:16:40+00:00,")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["name"] for r in rows] == ["Teacher", '\'=HYPERLINK("x")', "'+1", "'-2", "'@SUM(A1)"]
    u1 = rows[1]
    assert u1["spans"] == "1970-01-01T00:16:40+00:00/1970-01-01T00:17:10+00:00"
    assert (u1["present_ms"], u1["present_min"], u1["joins"]) == ("30000", "0.5", "1")
    assert (u1["left_early_ms"], u1["left_early"], u1["late"]) == ("30000", "no", "no")
