"""The console's pure parts: rosters read from CSV, the class summary fold, scheduled
times in time zones, organizer tokens told apart from every other kind, the class index
over a real file journal."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from pathlib import Path

import pytest

from classroom import events as e
from classroom.class_summary import ClassSummary, ClassSummaryFold, listed_order
from classroom.reports import JournalGap
from journal.files import FileJournal
from signaling.auth import (
    TokenError,
    mint,
    mint_invite,
    mint_organizer,
    mint_replay,
    verify,
    verify_organizer,
    verify_replay,
)
from tests.conftest import SECRET
from web.api import ApiError
from web.console_api import scheduled_at
from web.organizers import ClassIndex, Manager
from web.roster import MAX_PEOPLE, Person, RosterError, distinct, links_csv, parse

# -- rosters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "people"),
    [
        (
            "Ann Lee,ann\nBo Chen,bo@example.org\n",
            [("Ann Lee", "ann"), ("Bo Chen", "bo@example.org")],
        ),
        ("Ann Lee;ANN@Example.ORG\r\n", [("Ann Lee", "ann@example.org")]),
        ("Ann Lee\tann\n", [("Ann Lee", "ann")]),
        ('"Lee, Ann",ann\n', [("Lee, Ann", "ann")]),
        ("\ufeffname,email\nAnn,ann@x.org\n", [("Ann", "ann@x.org")]),
        ("Email;Group;Full name\nann@x.org;A;Ann\n", [("Ann", "ann@x.org")]),
        ("Student ID,Name\ns-1,Ann\n", [("Ann", "s-1")]),
        ("\n  Ann , ann \n\n,\n", [("Ann", "ann")]),
        ("Zoë Ødegård,zoe\n", [("Zoë Ødegård", "zoe")]),
    ],
)
def test_a_roster_is_read_from_the_csv_people_paste(
    text: str, people: list[tuple[str, str]]
) -> None:
    assert [(p.name, p.user_id) for p in parse(text)] == people


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "the roster is empty"),
        ("name,group\nAnn,A\n", "row 1: the header names no id column"),
        ("Ann\n", "row 1: give a name and an id or e-mail address"),
        ("Ann,ann\n\nBob,ann\n", "row 3: ann is also on row 1"),
        ("Ann,ann+tag@x.org\n", "row 1: the id must be 1 to 64 letters"),
        (f"Ann,{'a' * 65}\n", "row 1: the id must be"),
        ("\u202eAnn,ann\n", "row 1: the name must be 1 to 100 characters"),
        (",ann\n", "row 1: the name must be"),
    ],
)
def test_a_bad_roster_says_which_row_and_why(text: str, said: str) -> None:
    with pytest.raises(RosterError) as refused:
        parse(text)
    assert said in str(refused.value)


def test_a_roster_lists_its_first_problems_and_counts_the_others() -> None:
    text = "".join(f"Person {n}\n" for n in range(8))
    with pytest.raises(RosterError) as refused:
        parse(text)
    message = str(refused.value)
    assert message.count("give a name") == 5 and message.endswith("(and 3 more)")


def test_a_roster_has_at_most_so_many_people() -> None:
    text = "".join(f"P{n},p{n}\n" for n in range(MAX_PEOPLE + 1))
    with pytest.raises(RosterError, match=f"at most {MAX_PEOPLE}"):
        parse(text)


def test_people_given_as_a_list_are_refused_when_someone_is_there_twice() -> None:
    people = [Person("Ann", "ann"), Person("Bo", "bo"), Person("Ann again", "ann")]
    with pytest.raises(RosterError, match="row 3: ann is also on row 1"):
        distinct(people)
    assert distinct(people[:2]) == people[:2]


def test_roster_links_as_csv_never_run_in_a_spreadsheet() -> None:
    rows = [("=1+1", "+x", "https://c/1#token=a"), ("@SUM(A1)", "-y", "l2"), ("Ann", "ann", "l3")]
    read = list(csv.reader(io.StringIO(links_csv(rows))))
    assert read == [
        ["name", "user_id", "link"],
        ["'=1+1", "'+x", "https://c/1#token=a"],
        ["'@SUM(A1)", "'-y", "l2"],
        ["Ann", "ann", "l3"],
    ]


# -- scheduled times -------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "zone", "utc"),
    [
        ("2031-01-15T09:00", "Europe/Paris", "2031-01-15T08:00:00+00:00"),
        ("2031-07-15T09:00", "Europe/Paris", "2031-07-15T07:00:00+00:00"),
        ("2031-07-15T09:00:30", "America/New_York", "2031-07-15T13:00:30+00:00"),
        ("2031-01-15T09:00", "Asia/Kolkata", "2031-01-15T03:30:00+00:00"),
        ("2031-01-15T09:00", "UTC", "2031-01-15T09:00:00+00:00"),
        # Clocks going back: the first of the two times is meant.
        ("2031-10-26T02:30", "Europe/Paris", "2031-10-26T00:30:00+00:00"),
    ],
)
def test_a_wall_clock_time_in_a_time_zone_is_one_instant(local: str, zone: str, utc: str) -> None:
    assert scheduled_at(local, zone) == int(datetime.fromisoformat(utc).timestamp() * 1000)


@pytest.mark.parametrize(
    ("local", "zone", "said"),
    [
        ("2031-03-30T02:30", "Europe/Paris", "does not exist in Europe/Paris"),
        ("2031-03-09T02:30", "America/New_York", "does not exist"),
        ("2031-02-30T09:00", "UTC", "starts_at"),
        ("2031-01-15T09:00", "Europe", "unknown time zone"),
        ("2031-01-15T09:00", "/etc/localtime", "unknown time zone"),
    ],
)
def test_a_time_that_is_not_there_is_refused(local: str, zone: str, said: str) -> None:
    with pytest.raises(ApiError) as refused:
        scheduled_at(local, zone)
    assert said in str(refused.value)


# -- organizer tokens ------------------------------------------------------


def test_an_organizer_token_is_no_other_kind_of_token_and_no_other_kind_is_one() -> None:
    organizer = mint_organizer(SECRET, "ana", "Ana")
    claims = verify_organizer(SECRET, organizer)
    assert (claims.user_id, claims.name) == ("ana", "Ana")
    with pytest.raises(TokenError):
        verify(SECRET, organizer)
    with pytest.raises(TokenError):
        verify_replay(SECRET, organizer)
    others = [
        mint(SECRET, "c1", "ana", "Ana", "host"),
        mint_invite(SECRET, "c1", "participant"),
        mint_replay(SECRET, "r1", "ana", "Ana", "host"),
    ]
    for other in others:
        with pytest.raises(TokenError):
            verify_organizer(SECRET, other)
    with pytest.raises(TokenError, match="expired"):
        verify_organizer(SECRET, mint_organizer(SECRET, "ana", "Ana", ttl_s=-3600))
    with pytest.raises(TokenError, match="Signature"):
        verify_organizer(SECRET, mint_organizer(SECRET + "x", "ana", "Ana"))
    with pytest.raises(TokenError, match="claims"):
        verify_organizer(SECRET, mint_organizer(SECRET, "ana bad id", "Ana"))


# -- the summary fold --------------------------------------------------------


def stamped(*drafts: e.Event, first: int = 1, ts: int = 1000) -> list[e.Event]:
    return [e.stamp(d, first + i, ts + 1000 * i) for i, d in enumerate(drafts)]


CREATED = e.ClassCreated(
    class_id="c1",
    title="Optics",
    scheduled_at=5_000,
    time_zone="Europe/Paris",
    capacity=30,
    created_by="ana",
)


def test_the_summary_fold_follows_a_class_from_upcoming_to_ended() -> None:
    fold = ClassSummaryFold()
    assert fold.summary() is None
    history = stamped(
        CREATED,
        e.ParticipantJoined(user_id="h", name="H", role="host"),
        e.ParticipantJoined(user_id="a", name="A", role="participant"),
        e.ParticipantLeft(user_id="a"),
        e.ParticipantJoined(user_id="a", name="A", role="participant"),
        e.ClassEnded(),
    )
    fold.apply(history[0])
    first = fold.summary()
    assert first is not None and (first.state, first.present, first.people) == ("upcoming", 0, 0)
    assert (first.scheduled_at, first.time_zone, first.capacity) == (5_000, "Europe/Paris", 30)
    assert first.created_by == "ana" and first.created_at == 1000
    for ev in history[1:5]:
        fold.apply(ev)
    live = fold.summary()
    assert live is not None
    assert (live.state, live.present, live.people, live.started_at) == ("live", 2, 2, 2000)
    fold.apply(history[5])
    ended = fold.summary()
    assert ended is not None
    assert (ended.state, ended.present, ended.people, ended.ended_at) == ("ended", 0, 2, 6000)
    assert fold.came == set()  # only the count is kept once the class is over
    with pytest.raises(JournalGap):
        fold.apply(stamped(e.ClassEnded(), first=9)[0])


def summarized(class_id: str, *more: e.Event, scheduled: int | None = None) -> ClassSummary:
    fold = ClassSummaryFold()
    for ev in stamped(e.ClassCreated(class_id=class_id, title="T", scheduled_at=scheduled), *more):
        fold.apply(ev)
    summary = fold.summary()
    assert summary is not None
    return summary


def test_classes_are_listed_live_then_upcoming_then_ended() -> None:
    joined = e.ParticipantJoined(user_id="h", name="H", role="host")
    found = [
        summarized("ended", joined, e.ClassEnded()),
        summarized("soon", scheduled=10),
        summarized("unscheduled"),
        summarized("later", scheduled=20),
        summarized("live", joined),
    ]
    ordered = sorted(found, key=listed_order)
    assert [s.id for s in ordered] == ["live", "soon", "later", "unscheduled", "ended"]


# -- the class index over a real journal ------------------------------------


async def test_the_index_folds_only_what_the_journal_gained(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path)
    index = ClassIndex()
    try:
        history = stamped(CREATED, e.ParticipantJoined(user_id="h", name="H", role="host"))
        await journal.append("c1", [(ev.seq, e.encode(ev)) for ev in history])
        assert await index.created(journal, "c1") == history[0]
        assert await index.created(journal, "nope") is None
        assert await index.created(journal, "../etc") is None
        first = await index.summary(journal, "c1")
        assert first is not None and (first.state, first.present) == ("live", 1)
        more = stamped(e.ParticipantLeft(user_id="h"), first=3)
        await journal.append("c1", [(ev.seq, e.encode(ev)) for ev in more])
        now = await index.summary(journal, "c1")
        assert now is not None and (now.state, now.present, now.people) == ("live", 0, 1)
        assert [s.id for s in await index.summaries(journal, Manager())] == ["c1"]
        others = Manager(verify_organizer(SECRET, mint_organizer(SECRET, "ben", "Ben")))
        assert await index.summaries(journal, others) == []
    finally:
        await journal.close()
