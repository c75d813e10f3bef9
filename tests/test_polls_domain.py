"""Pure tests of polls: every kind, every transition, every refusal; fake clock and ids."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from classroom import commands as c
from classroom import events as e
from classroom.aggregate import Classroom
from classroom.errors import DomainError
from classroom.polls import Poll
from classroom.polls_export import polls_csv
from classroom.polls_wire import poll_wire, polls_view
from classroom.polls_words import top_words, words_of
from classroom.visibility import Viewer, audience
from classroom.wire import to_wire
from signaling.schemas import parse
from tests.domain import Harness

PEOPLE = ["ann", "ben", "cat", "dan"]


@pytest.fixture
def h() -> Harness:
    h = Harness()
    h.join("teach", "host")
    h.join("mod", "moderator")
    for user in PEOPLE:
        h.join(user)
    return h


def create(h: Harness, actor: str = "teach", **spec: Any) -> Poll:
    spec.setdefault("question", "Which one?")
    spec.setdefault("kind", "single")
    if spec["kind"] in ("single", "multiple") and "options" not in spec:
        spec["options"] = ["Red", "Green", "Blue"]
    (created,) = h.do(actor, c.PollCreate(**spec))
    assert isinstance(created, e.PollCreated)
    return h.room.polls.polls[created.poll_id]


def opened(h: Harness, **spec: Any) -> Poll:
    poll = create(h, **spec)
    h.do("teach", c.PollOpen(poll_id=poll.id))
    return poll


def vote(h: Harness, user: str, poll: Poll, answer: Any) -> list[e.Event]:
    return h.do(user, c.PollVote(poll_id=poll.id, answer=answer))


def refused(h: Harness, actor: str, cmd: c.Command) -> str:
    seq = h.room.seq
    with pytest.raises(DomainError) as err:
        h.room.handle(actor, cmd, h.ctx())
    assert h.room.seq == seq, "a refusal committed something"
    return err.value.code


# -- creating -----------------------------------------------------------------

CREATED = [
    ({"kind": "single"}, ["Red", "Green", "Blue"], None, None, None),
    ({"kind": "multiple"}, ["Red", "Green", "Blue"], None, None, None),
    ({"kind": "truefalse"}, ["True", "False"], None, None, None),
    ({"kind": "truefalse", "options": ["Yes", "No"]}, ["Yes", "No"], None, None, None),
    ({"kind": "rating"}, [], 1, 5, None),
    ({"kind": "rating", "min": 0, "max": 10}, [], 0, 10, None),
    ({"kind": "rating", "min": -100, "max": 0}, [], -100, 0, None),
    ({"kind": "text"}, [], None, None, None),
    ({"kind": "single", "correct": [2]}, ["Red", "Green", "Blue"], None, None, [2]),
    ({"kind": "multiple", "correct": [2, 0]}, ["Red", "Green", "Blue"], None, None, [0, 2]),
    ({"kind": "truefalse", "correct": [1]}, ["True", "False"], None, None, [1]),
    ({"kind": "single", "options": ["  a  b ", "c"]}, ["a b", "c"], None, None, None),
]


@pytest.mark.parametrize(("spec", "options", "low", "high", "correct"), CREATED)
def test_every_kind_is_created_as_a_draft_in_the_creators_room(
    h: Harness, spec: dict[str, Any], options: list[str], low: Any, high: Any, correct: Any
) -> None:
    h.room.live.members["mod"].room = "r1"
    if spec["kind"] in ("single", "multiple"):
        spec = {"options": ["Red", "Green", "Blue"], **spec}
    (ev,) = h.do("mod", c.PollCreate(question="  Why\n not? ", **spec))
    assert isinstance(ev, e.PollCreated)
    assert (ev.question, ev.options, ev.min, ev.max, ev.correct) == (
        "Why not?", options, low, high, correct,
    )  # fmt: skip
    assert (ev.poll_id, ev.room, ev.actor) == ("id1", "r1", "mod")
    poll = h.room.polls.polls["id1"]
    assert poll.status == "draft" and poll.quiz == (correct is not None)
    assert audience(ev).includes(Viewer("teach", "host", "main"))
    assert not audience(ev).includes(Viewer("ann", "participant", "r1"))


CREATE_REFUSALS = [
    ("ann", {"kind": "single", "options": ["a", "b"]}, "forbidden"),
    ("teach", {"kind": "single", "options": ["a"]}, "bad_request"),
    ("teach", {"kind": "single"}, "bad_request"),
    ("teach", {"kind": "multiple", "options": ["a", "A "]}, "bad_request"),
    ("teach", {"kind": "single", "options": ["a", "   "]}, "bad_request"),
    ("teach", {"kind": "truefalse", "options": ["a", "b", "c"]}, "bad_request"),
    ("teach", {"kind": "rating", "options": ["a", "b"]}, "bad_request"),
    ("teach", {"kind": "text", "options": ["a", "b"]}, "bad_request"),
    ("teach", {"kind": "single", "options": ["a", "b"], "min": 1}, "bad_request"),
    ("teach", {"kind": "rating", "min": 5, "max": 5}, "bad_request"),
    ("teach", {"kind": "rating", "min": 6}, "bad_request"),
    ("teach", {"kind": "rating", "min": -100, "max": 1}, "bad_request"),
    ("teach", {"kind": "rating", "correct": [0]}, "bad_request"),
    ("teach", {"kind": "text", "correct": [0]}, "bad_request"),
    ("teach", {"kind": "single", "options": ["a", "b"], "correct": [2]}, "bad_request"),
    ("teach", {"kind": "single", "options": ["a", "b"], "correct": [0, 1]}, "bad_request"),
    ("teach", {"kind": "multiple", "options": ["a", "b"], "correct": [1, 1]}, "bad_request"),
    ("teach", {"kind": "truefalse", "correct": [0, 1]}, "bad_request"),
]


@pytest.mark.parametrize(("actor", "spec", "code"), CREATE_REFUSALS)
def test_create_refusals(h: Harness, actor: str, spec: dict[str, Any], code: str) -> None:
    assert refused(h, actor, c.PollCreate(question="Q?", **spec)) == code
    assert h.room.polls.polls == {}


def test_blank_question_is_refused(h: Harness) -> None:
    cmd = c.PollCreate(question=" \n ", kind="text")
    assert refused(h, "teach", cmd) == "bad_request"


# -- voting, per kind ---------------------------------------------------------

VOTES: list[tuple[dict[str, Any], list[Any], dict[str, Any]]] = [
    ({"kind": "single"}, [[0], [2], [2]], {"counts": [1, 0, 2], "total": 3, "voters": 3}),
    ({"kind": "multiple"}, [[0, 2], [2], [1, 0]], {"counts": [2, 1, 2], "total": 5, "voters": 3}),
    ({"kind": "truefalse"}, [[0], [1], [0]], {"counts": [2, 1], "total": 3, "voters": 3}),
    ({"kind": "rating"}, [5, 4, 1], {"counts": [1, 0, 0, 1, 1], "voters": 3, "mean": 3.33}),
    ({"kind": "rating", "min": -1, "max": 1}, [-1, 1, 1], {"counts": [1, 0, 2], "mean": 0.33}),
    (
        {"kind": "text"},
        ["Blue sky", "the BLUE sea", "sky, sky and sea"],
        {"words": [("blue", 2), ("sea", 2), ("sky", 2)], "total": 3, "voters": 3},
    ),
]


@pytest.mark.parametrize(("spec", "answers", "expected"), VOTES)
def test_every_kind_tallies_its_ballots(
    h: Harness, spec: dict[str, Any], answers: list[Any], expected: dict[str, Any]
) -> None:
    poll = opened(h, **spec)
    for user, answer in zip(PEOPLE, answers, strict=False):
        (ev,) = vote(h, user, poll, answer)
        assert isinstance(ev, e.PollVoted) and ev.voter == user
        assert audience(ev) == audience(e.PollVoted(poll_id="x", voter="y", answer=1))
        assert not audience(ev).includes(Viewer("teach", "host"))
        assert to_wire(ev) is None
    results = poll.results()
    for key, value in expected.items():
        assert getattr(results, key) == value, key


BAD_ANSWERS: list[tuple[dict[str, Any], Any]] = [
    ({"kind": "single"}, [3]),
    ({"kind": "single"}, [0, 1]),
    ({"kind": "single"}, []),
    ({"kind": "single"}, 1),
    ({"kind": "single"}, "Red"),
    ({"kind": "multiple"}, [0, 0]),
    ({"kind": "multiple"}, []),
    ({"kind": "truefalse"}, [2]),
    ({"kind": "rating"}, 6),
    ({"kind": "rating"}, 0),
    ({"kind": "rating"}, [3]),
    ({"kind": "rating"}, "5"),
    ({"kind": "text"}, "   "),
    ({"kind": "text"}, 3),
]


@pytest.mark.parametrize(("spec", "answer"), BAD_ANSWERS)
def test_answers_that_do_not_fit_the_poll(h: Harness, spec: dict[str, Any], answer: Any) -> None:
    poll = opened(h, **spec)
    assert refused(h, "ann", c.PollVote(poll_id=poll.id, answer=answer)) == "bad_request"
    assert poll.ballots == {}


def test_a_new_ballot_replaces_the_old_and_a_repeat_changes_nothing(h: Harness) -> None:
    poll = opened(h, kind="multiple")
    vote(h, "ann", poll, [0, 1])
    vote(h, "ben", poll, [1])
    assert vote(h, "ann", poll, [1, 0]) == []  # same ballot, another order
    vote(h, "ann", poll, [2])
    assert poll.counts == [0, 1, 1] and poll.results().voters == 2
    text = opened(h, kind="text")
    vote(h, "ann", text, "alpha beta")
    vote(h, "ann", text, "beta gamma")
    assert dict(text.words) == {"beta": 1, "gamma": 1}
    assert vote(h, "ann", text, "  beta   gamma ") == []
    rating = opened(h, kind="rating")
    vote(h, "ann", rating, 2)
    vote(h, "ann", rating, 4)
    assert (rating.counts, rating.rating_sum, rating.results().mean) == ([0, 0, 0, 1, 0], 4, 4)


def test_the_journal_rebuilds_ballots_and_tallies(h: Harness) -> None:
    poll = opened(h, kind="single", anonymous=True)
    for user, answer in [("ann", [0]), ("ben", [1]), ("ann", [1]), ("cat", [2])]:
        vote(h, user, poll, answer)
    rebuilt = Classroom.replay(e.decode(e.encode(ev)) for ev in h.history)
    again = rebuilt.polls.polls[poll.id]
    assert again.counts == poll.counts == [0, 2, 1]
    assert {u: b.answer for u, b in again.ballots.items()} == {
        "ann": (1,), "ben": (1,), "cat": (2,),
    }  # fmt: skip
    # One person counts once after a restart, too.
    rebuilt_h = Harness()
    rebuilt_h.room = rebuilt
    assert rebuilt_h.do("ann", c.PollVote(poll_id=poll.id, answer=[1])) == []


# -- transitions --------------------------------------------------------------

STATES = ["draft", "open", "closed", "published"]
STEPS: dict[str, list[c.Command]] = {
    "draft": [],
    "open": [c.PollOpen(poll_id="id1")],
    "closed": [c.PollOpen(poll_id="id1"), c.PollClose(poll_id="id1")],
    "published": [
        c.PollOpen(poll_id="id1"),
        c.PollClose(poll_id="id1"),
        c.PollPublish(poll_id="id1"),
    ],
}
TRANSITIONS: list[tuple[str, str, c.Command, str | None]] = [
    ("draft", "teach", c.PollOpen(poll_id="id1"), "open"),
    ("draft", "teach", c.PollClose(poll_id="id1"), "conflict"),
    ("draft", "teach", c.PollPublish(poll_id="id1"), "conflict"),
    ("draft", "teach", c.PollShowResults(poll_id="id1"), "conflict"),
    ("draft", "ann", c.PollVote(poll_id="id1", answer=[0]), "not_found"),
    ("draft", "mod", c.PollVote(poll_id="id1", answer=[0]), "conflict"),
    ("open", "teach", c.PollOpen(poll_id="id1"), "conflict"),
    ("open", "mod", c.PollClose(poll_id="id1"), "closed"),
    ("open", "teach", c.PollPublish(poll_id="id1"), "conflict"),
    ("open", "mod", c.PollShowResults(poll_id="id1"), "open"),
    ("open", "ann", c.PollVote(poll_id="id1", answer=[0]), "open"),
    ("open", "ann", c.PollClose(poll_id="id1"), "forbidden"),
    ("closed", "teach", c.PollOpen(poll_id="id1"), "conflict"),
    ("closed", "teach", c.PollClose(poll_id="id1"), "conflict"),
    ("closed", "teach", c.PollShowResults(poll_id="id1"), "closed"),
    ("closed", "teach", c.PollPublish(poll_id="id1"), "published"),
    ("closed", "ann", c.PollVote(poll_id="id1", answer=[0]), "conflict"),
    ("closed", "ann", c.PollPublish(poll_id="id1"), "forbidden"),
    ("published", "teach", c.PollOpen(poll_id="id1"), "conflict"),
    ("published", "teach", c.PollClose(poll_id="id1"), "conflict"),
    ("published", "teach", c.PollPublish(poll_id="id1"), "conflict"),
    ("published", "teach", c.PollShowResults(poll_id="id1"), "conflict"),
    ("published", "ann", c.PollVote(poll_id="id1", answer=[0]), "conflict"),
    ("open", "teach", c.PollClose(poll_id="nope"), "not_found"),
    ("open", "ann", c.PollVote(poll_id="nope", answer=[0]), "not_found"),
]


@pytest.mark.parametrize(("state", "actor", "cmd", "outcome"), TRANSITIONS)
def test_transitions(h: Harness, state: str, actor: str, cmd: c.Command, outcome: str) -> None:
    create(h)
    for step in STEPS[state]:
        h.do("teach", step)
    if outcome in STATES:
        assert h.do(actor, cmd)
        assert h.room.polls.polls["id1"].status == outcome
    else:
        assert refused(h, actor, cmd) == outcome
        assert h.room.polls.polls["id1"].status == state


def test_opening_stamps_the_end_and_the_timer_closes_it(h: Harness) -> None:
    poll = create(h, duration_s=30)
    (ev,) = h.do("teach", c.PollOpen(poll_id=poll.id))
    assert isinstance(ev, e.PollOpened) and ev.ends_at == h.clock.now + 30_000
    assert h.room.polls.expire(poll.id, h.clock.now + 29_999) == []
    (closed,) = h.commit(h.room.polls.expire(poll.id, h.clock.now + 30_000))
    assert isinstance(closed, e.PollClosed)
    assert (closed.reason, closed.actor, closed.results) == ("timer", "", None)
    assert poll.status == "closed"
    assert h.room.polls.expire(poll.id, h.clock.now + 60_000) == []
    assert h.room.polls.expire("nope", h.clock.now) == []
    untimed = opened(h)
    assert untimed.ends_at is None and h.room.polls.expire(untimed.id, 10**15) == []


# -- who sees what ------------------------------------------------------------


def test_results_are_hidden_from_participants_until_shown(h: Harness) -> None:
    poll = opened(h, kind="single")
    vote(h, "ann", poll, [1])
    ann, teach = Viewer("ann", "participant"), Viewer("teach", "host")
    assert "results" not in polls_view(h.room.polls, ann)[0]
    assert polls_view(h.room.polls, teach)[0]["results"]["counts"] == [0, 1, 0]
    assert polls_view(h.room.polls, ann)[0]["yours"] == {"answer": [1]}
    assert "yours" not in polls_view(h.room.polls, Viewer("ben", "participant"))[0]
    (shown,) = h.do("teach", c.PollShowResults(poll_id=poll.id))
    assert isinstance(shown, e.PollResultsShown) and shown.results is not None
    assert polls_view(h.room.polls, ann)[0]["results"]["voters"] == 1
    assert h.do("teach", c.PollShowResults(poll_id=poll.id)) == []
    (hidden,) = h.do("teach", c.PollShowResults(poll_id=poll.id, show=False))
    assert isinstance(hidden, e.PollResultsShown) and hidden.results is None
    (closed,) = h.do("teach", c.PollClose(poll_id=poll.id))
    assert isinstance(closed, e.PollClosed) and closed.results is None
    (published, *_) = h.do("teach", c.PollPublish(poll_id=poll.id))
    assert isinstance(published, e.PollPublished) and published.results.counts == [0, 1, 0]
    assert polls_view(h.room.polls, ann)[0]["results"]["counts"] == [0, 1, 0]


def test_closing_a_shown_poll_carries_the_results(h: Harness) -> None:
    poll = opened(h)
    vote(h, "ben", poll, [2])
    h.do("teach", c.PollShowResults(poll_id=poll.id))
    (closed,) = h.do("teach", c.PollClose(poll_id=poll.id))
    wire = to_wire(closed)
    assert wire is not None and wire[0] == "poll:closed"
    assert wire[1]["results"] == {"counts": [0, 0, 1], "total": 1, "voters": 1}


def test_a_poll_of_a_breakout_room_is_scoped_to_it(h: Harness) -> None:
    h.room.live.members["mod"].room = "r1"
    h.room.live.members["ann"].room = "r1"
    poll = create(h, actor="mod")
    (ev,) = h.do("mod", c.PollOpen(poll_id=poll.id))
    who = audience(ev)
    assert who.includes(Viewer("ann", "participant", "r1"))
    assert not who.includes(Viewer("ben", "participant", "main"))
    assert who.includes(Viewer("teach", "host", "main"))
    assert [p["id"] for p in polls_view(h.room.polls, Viewer("ann", "participant", "r1"))] == [
        poll.id
    ]
    assert polls_view(h.room.polls, Viewer("ben", "participant", "main")) == []
    assert refused(h, "ben", c.PollVote(poll_id=poll.id, answer=[0])) == "not_found"
    assert vote(h, "ann", poll, [0])
    assert vote(h, "teach", poll, [1])  # staff see and may answer every poll


def test_wire_payloads_never_reveal_the_answer_key_before_publishing(h: Harness) -> None:
    quiz = c.PollCreate(question="2+2?", kind="single", options=["3", "4"], correct=[1])
    (created,) = h.do("teach", quiz)
    name, payload = to_wire(created) or ("", {})
    assert name == "poll:created" and payload["poll"]["correct"] == [1]
    assert audience(created) == audience(e.PollCreated(poll_id="x", question="q", kind="text"))
    (opened_ev,) = h.do("teach", c.PollOpen(poll_id="id1"))
    name, payload = to_wire(opened_ev) or ("", {})
    assert name == "poll:opened" and "correct" not in payload["poll"]
    assert payload["poll"]["quiz"] is True and payload["poll"]["status"] == "open"
    ann = Viewer("ann", "participant")
    assert "correct" not in polls_view(h.room.polls, ann)[0]
    assert polls_view(h.room.polls, Viewer("mod", "moderator"))[0]["correct"] == [1]


def test_poll_wire_names(h: Harness) -> None:
    poll = opened(h, kind="rating", min=0, max=2)
    vote(h, "ann", poll, 2)
    shown = h.do("teach", c.PollShowResults(poll_id=poll.id))
    closed = h.do("teach", c.PollClose(poll_id=poll.id))
    published = h.do("teach", c.PollPublish(poll_id=poll.id))
    names = [(to_wire(ev) or ("",))[0] for ev in [*shown, *closed, *published]]
    assert names == ["poll:results_shown", "poll:closed", "poll:published"]
    payload = (to_wire(published[0]) or ("", {}))[1]
    assert payload["results"] == {"counts": [0, 0, 1], "total": 1, "voters": 1, "mean": 2.0}
    assert "correct" not in payload
    assert poll_wire(e.PollVoted(poll_id="x", voter="ann", answer=1), {}) is None


# -- quizzes ------------------------------------------------------------------


def test_publishing_a_quiz_grades_each_voter_privately(h: Harness) -> None:
    poll = opened(h, kind="multiple", correct=[0, 2])
    vote(h, "ann", poll, [2, 0])
    vote(h, "ben", poll, [0])
    h.do("teach", c.PollClose(poll_id=poll.id))
    published, *graded = h.do("teach", c.PollPublish(poll_id=poll.id))
    assert isinstance(published, e.PollPublished) and published.correct == [0, 2]
    assert [(g.user_id, g.answer, g.correct) for g in graded if isinstance(g, e.PollGraded)] == [
        ("ann", [0, 2], True),
        ("ben", [0], False),
    ]
    for ev in graded:
        assert isinstance(ev, e.PollGraded)
        who = audience(ev)
        assert who.includes(Viewer(ev.user_id, "participant"))
        assert not who.includes(Viewer("cat", "participant"))
        assert not who.includes(Viewer("teach", "host"))
        assert (to_wire(ev) or ("",))[0] == "poll:feedback"
    mine = polls_view(h.room.polls, Viewer("ben", "participant"))[0]
    assert mine["yours"] == {"answer": [0], "correct": False} and mine["correct"] == [0, 2]


def quiz(h: Harness, answers: dict[str, int], anonymous: bool = False, close: bool = True) -> None:
    poll = opened(h, kind="single", correct=[0], anonymous=anonymous)
    for user, answer in answers.items():
        vote(h, user, poll, [answer])
    if close:
        h.do("teach", c.PollClose(poll_id=poll.id))


def test_the_leaderboard_counts_closed_named_quizzes(h: Harness) -> None:
    quiz(h, {"ann": 0, "ben": 0, "cat": 1})
    quiz(h, {"ann": 0, "ben": 1, "dan": 0})
    quiz(h, {"cat": 0, "dan": 0}, anonymous=True)  # never on a leaderboard
    quiz(h, {"cat": 0, "dan": 0}, close=False)  # still open: not scored yet
    opened(h, kind="single")  # not a quiz
    rows = h.room.polls.leaderboard(h.room.live.members)
    assert [(s.rank, s.user_id, s.name, s.correct, s.answered) for s in rows] == [
        (1, "ann", "Ann", 2, 2),
        (2, "dan", "Dan", 1, 1),
        (2, "ben", "Ben", 1, 2),
        (4, "cat", "Cat", 0, 1),
    ]
    assert len(h.room.polls.scored()) == 2


# -- anonymity and export -----------------------------------------------------


def exported(h: Harness, poll: Poll) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(polls_csv([poll], h.room.live.members))))


def test_export_names_voters_of_named_polls_only(h: Harness) -> None:
    named = opened(h, kind="single", correct=[1])
    vote(h, "ben", named, [1])
    vote(h, "ann", named, [0])
    rows = exported(h, named)
    assert [(r["user_id"], r["name"], r["answer"], r["correct"]) for r in rows] == [
        ("ben", "Ben", "Green", "yes"),
        ("ann", "Ann", "Red", "no"),
    ]
    assert rows[0]["voted_at"].endswith("+00:00") and rows[0]["anonymous"] == "no"
    secret = opened(h, kind="text", anonymous=True)
    for user, text in [("dan", "zebra"), ("ann", "=cmd()"), ("cat", "apple")]:
        vote(h, user, secret, text)
    raw = polls_csv([secret], h.room.live.members)
    for user in PEOPLE:
        assert user not in raw and user.title() not in raw
    rows = exported(h, secret)
    assert [r["answer"] for r in rows] == ["'=cmd()", "apple", "zebra"]
    assert {(r["user_id"], r["name"], r["voted_at"]) for r in rows} == {("", "", "")}


def test_nothing_a_client_gets_names_an_anonymous_voter(h: Harness) -> None:
    poll = opened(h, kind="single", anonymous=True)
    for user in PEOPLE:
        vote(h, user, poll, [1])
    h.do("teach", c.PollShowResults(poll_id=poll.id))
    h.do("teach", c.PollClose(poll_id=poll.id))
    h.do("teach", c.PollPublish(poll_id=poll.id))
    for ev in h.history:
        if isinstance(ev, e.PollEvent) and not isinstance(ev, e.PollVoted):
            text = str(to_wire(ev))
            assert not any(f"'{user}'" in text for user in PEOPLE), text
    for viewer in [Viewer("teach", "host"), Viewer("ben", "participant")]:
        view = str(polls_view(h.room.polls, viewer))
        assert not any(f"'{user}'" in view for user in PEOPLE if user != viewer.user_id)


# -- words and sizes ----------------------------------------------------------


def test_word_cloud_words() -> None:
    assert words_of("The cat's hat, the CAT and a well-known 42 x dog!") == [
        "cat's", "hat", "cat", "well-known", "dog",
    ]  # fmt: skip
    assert words_of(" ".join(f"w{i}x" for i in range(100)))[-1] == "w29x"
    counts = {"b": 2, "a": 2, "c": 5, "z": 0}
    from collections import Counter

    assert top_words(Counter(counts), 2) == [("c", 5), ("a", 2)]


SCHEMA: list[tuple[str, dict[str, Any], str | None]] = [
    ("poll:create", {"question": "x" * 501, "kind": "text"}, "too_large"),
    ("poll:create", {"question": "q", "kind": "single", "options": ["o"] * 21}, "too_large"),
    ("poll:create", {"question": "q", "kind": "single", "options": ["o" * 201, "p"]}, "too_large"),
    ("poll:create", {"question": "q", "kind": "poll"}, "bad_request"),
    ("poll:create", {"question": "q", "kind": "text", "duration_s": 0}, "bad_request"),
    ("poll:create", {"question": "q", "kind": "text", "duration_s": 3601}, "bad_request"),
    ("poll:create", {"question": "q", "kind": "rating", "max": 101}, "bad_request"),
    ("poll:create", {"question": "q", "kind": "text", "extra": 1}, "bad_request"),
    ("poll:vote", {"poll_id": "p", "answer": "x" * 301}, "too_large"),
    ("poll:vote", {"poll_id": "p", "answer": list(range(21))}, "too_large"),
    ("poll:vote", {"poll_id": "p", "answer": True}, "bad_request"),
    ("poll:vote", {"poll_id": "p", "answer": 1.5}, "bad_request"),
    ("poll:vote", {"poll_id": "p", "answer": [-1]}, "bad_request"),
    ("poll:vote", {"poll_id": "../p", "answer": [0]}, "bad_request"),
    ("poll:vote", {"poll_id": "p"}, "bad_request"),
    ("poll:vote", {"poll_id": "p", "answer": [0, 19]}, None),
    ("poll:vote", {"poll_id": "p", "answer": -100}, None),
    ("poll:show_results", {"poll_id": "p", "show": False}, None),
]


@pytest.mark.parametrize(("event", "data", "code"), SCHEMA)
def test_sizes_and_shapes(event: str, data: dict[str, Any], code: str | None) -> None:
    if code is None:
        parse(event, data)
        return
    with pytest.raises(DomainError) as err:
        parse(event, data)
    assert err.value.code == code
