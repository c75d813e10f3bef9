"""The replay's stream, pure: ballots of the async cohort, timestamped questions, progress."""

from __future__ import annotations

import msgspec
import pytest

from classroom import commands as c
from classroom import replay_events as r
from classroom import spans
from classroom.errors import DomainError
from classroom.replay import MAX_REPLIES, Replay
from classroom.replay_wire import Watcher, outcome, state_view, to_wire
from classroom.visibility import replay_audience
from tests.replay_domain import RECORDING, StreamHarness

ANN = Watcher("ann", "Ann", "viewer")
STAFF = Watcher("teach", "Teach", "host")


@pytest.fixture
def h() -> StreamHarness:
    h = StreamHarness()
    for user in ("ann", "ben"):
        h.visit(user)
    h.visit("teach", "host")
    return h


def refused(h: StreamHarness, user: str, cmd: c.Command, code: str) -> None:
    before = h.stream.seq
    with pytest.raises(DomainError) as err:
        h.do(user, cmd)
    assert err.value.code == code
    assert h.stream.seq == before


# -- ballots -----------------------------------------------------------------------


def test_async_ballots_never_touch_the_live_tally(h: StreamHarness) -> None:
    h.do("ann", c.ReplayVote(poll_id="quiz", answer=[1]))
    h.do("ben", c.ReplayVote(poll_id="quiz", answer=[0]))
    seen = outcome(h.stream, "quiz", "ann")
    assert seen["results"]["live"] == {"counts": [7, 3], "total": 10, "voters": 10}
    assert seen["results"]["async"] == {"counts": [1, 1], "total": 2, "voters": 2}


def test_one_ballot_per_learner_a_second_replaces_the_first(h: StreamHarness) -> None:
    h.do("ann", c.ReplayVote(poll_id="quiz", answer=[1]))
    assert h.do("ann", c.ReplayVote(poll_id="quiz", answer=[1])) == []  # the same: nothing
    h.do("ann", c.ReplayVote(poll_id="quiz", answer=[0]))
    cohort = outcome(h.stream, "quiz", "ann")["results"]["async"]
    assert cohort == {"counts": [1, 0], "total": 1, "voters": 1}
    # Folding the stream again gives the same tally: counts never double.
    again = Replay.replay(RECORDING, h.history)
    assert again.polls["quiz"].counts == [1, 0]


def test_outcomes_are_withheld_until_the_learner_votes(h: StreamHarness) -> None:
    polls = {p["poll_id"]: p for p in state_view(h.stream, ANN)["polls"]}
    assert all("results" not in p and "correct" not in p for p in polls.values())
    assert list(polls) == ["quiz", "unpub", "words", "rate"]  # in recording order
    h.do("ann", c.ReplayVote(poll_id="quiz", answer=[1]))
    polls = {p["poll_id"]: p for p in state_view(h.stream, ANN)["polls"]}
    assert polls["quiz"]["your_answer"] == [1]
    assert polls["quiz"]["correct"] == [0] and polls["quiz"]["right"] is False
    assert "results" in polls["quiz"] and "results" not in polls["unpub"]
    # Staff see both cohorts of every poll without voting.
    staff = {p["poll_id"]: p for p in state_view(h.stream, STAFF)["polls"]}
    assert all("results" in p for p in staff.values())


def test_correct_only_for_quiz_questions_published_in_class(h: StreamHarness) -> None:
    h.do("ann", c.ReplayVote(poll_id="unpub", answer=[0]))
    seen = outcome(h.stream, "unpub", "ann")
    assert "correct" not in seen and "right" not in seen
    assert seen["results"]["live"]["voters"] == 0  # no live tally in the package: empty
    h.do("ann", c.ReplayVote(poll_id="quiz", answer=[0]))
    assert outcome(h.stream, "quiz", "ann")["right"] is True


def test_anonymous_polls_name_nobody_in_either_cohort(h: StreamHarness) -> None:
    h.do("ann", c.ReplayVote(poll_id="words", answer="Light is a wave"))
    seen = outcome(h.stream, "words", "ann")
    assert seen["results"]["async"]["words"] == [
        {"word": "light", "count": 1},
        {"word": "wave", "count": 1},
    ]
    assert "ann" not in msgspec.json.encode(seen).decode()
    [ballot] = [ev for ev in h.history if isinstance(ev, r.AsyncVoted)]
    assert not replay_audience(ballot).reaches_learners and to_wire(ballot) is None


def test_ballots_are_checked_against_the_poll(h: StreamHarness) -> None:
    refused(h, "ann", c.ReplayVote(poll_id="quiz", answer=[5]), "bad_request")
    refused(h, "ann", c.ReplayVote(poll_id="quiz", answer=[0, 1]), "bad_request")
    refused(h, "ann", c.ReplayVote(poll_id="rate", answer=9), "bad_request")
    refused(h, "ann", c.ReplayVote(poll_id="nope", answer=[0]), "not_found")


# -- questions ---------------------------------------------------------------------


def ask(h: StreamHarness, user: str = "ann", **kw: object) -> str:
    [asked] = h.do(user, c.ReplayAsk(text="Why  three\nsides?", at_ms=61_000, **kw))  # type: ignore[arg-type]
    assert isinstance(asked, r.AsyncAsked)
    return asked.question.id


def test_a_question_at_a_moment_replies_upvotes_and_an_answer(h: StreamHarness) -> None:
    qid = ask(h)
    h.do("ben", c.ReplayUpvote(question_id=qid))
    assert h.do("ben", c.ReplayUpvote(question_id=qid)) == []  # one vote per person
    [replied] = h.do("ben", c.ReplayReply(question_id=qid, text="Because!"))
    [answered] = h.do("teach", c.ReplayAnswer(question_id=qid, text="By definition."))
    name, wire = to_wire(answered) or ("", {})
    assert name == "replay:updated"
    q = wire["question"]
    assert (q["text"], q["at_ms"], q["votes"]) == ("Why three sides?", 61_000, 1)
    assert q["status"] == "answered"
    assert q["author"] == {"user_id": "ann", "name": "Ann"}
    assert [(x["text"], x["staff"]) for x in q["replies"]] == [("Because!", False)]
    assert (q["answer"], q["answered_by"]) == ("By definition.", "Teach")
    assert to_wire(replied) is not None and replay_audience(replied).everyone
    mine = state_view(h.stream, Watcher("ben", "Ben", "viewer"))["questions"][0]
    assert mine["voted"] is True


def test_anonymous_questions_have_no_author_anywhere(h: StreamHarness) -> None:
    qid = ask(h, anonymous=True)
    [asked] = [ev for ev in h.history if isinstance(ev, r.AsyncAsked)]
    assert asked.actor == "" and asked.question.author_id is None
    assert "ann" not in r.encode(asked).decode(errors="replace")
    assert state_view(h.stream, STAFF)["questions"][0]["author"] is None
    assert qid


def test_dismissed_questions_leave_learners_lists(h: StreamHarness) -> None:
    qid = ask(h)
    h.do("teach", c.ReplayDismiss(question_id=qid))
    assert state_view(h.stream, ANN)["questions"] == []
    assert state_view(h.stream, STAFF)["questions"][0]["status"] == "dismissed"
    refused(h, "ben", c.ReplayUpvote(question_id=qid), "not_found")
    refused(h, "teach", c.ReplayDismiss(question_id=qid), "conflict")
    refused(h, "teach", c.ReplayAnswer(question_id=qid, text="x"), "conflict")


def test_replies_are_one_level_and_bounded(h: StreamHarness) -> None:
    qid = ask(h)
    refused(h, "ben", c.ReplayReply(question_id=qid, text="   "), "bad_request")
    for i in range(MAX_REPLIES):
        h.do("ben", c.ReplayReply(question_id=qid, text=f"reply {i}"))
    refused(h, "ben", c.ReplayReply(question_id=qid, text="one more"), "conflict")
    refused(h, "ann", c.ReplayAsk(text="late", at_ms=RECORDING.duration_ms + 1), "bad_request")


@pytest.mark.parametrize(
    "cmd",
    [
        c.ReplayAnswer(question_id="q1", text="x"),
        c.ReplayDismiss(question_id="q1"),
    ],
)
def test_only_hosts_and_moderators_answer_and_dismiss(h: StreamHarness, cmd: c.Command) -> None:
    ask(h)
    refused(h, "ann", cmd, "forbidden")
    h.visit("mo", "moderator")
    h.do("mo", cmd)


def test_a_sender_must_have_opened_the_replay_with_a_name(h: StreamHarness) -> None:
    refused(h, "stranger", c.ReplayVote(poll_id="quiz", answer=[0]), "name_required")
    refused(h, "stranger", c.ReplayProgress(position_ms=0), "name_required")
    h.stream.commit(h.stream.guest_watched(), 1)  # a guest is counted, and never a viewer
    assert h.stream.anonymous_views == 1 and "" not in h.stream.viewers


# -- progress ----------------------------------------------------------------------


def test_progress_is_kept_as_merged_spans(h: StreamHarness) -> None:
    h.do("ann", c.ReplayProgress(position_ms=30_000, watched=[(0, 30_000)]))
    [noted] = h.do("ann", c.ReplayProgress(position_ms=50_000, watched=[(20_000, 50_000)]))
    assert isinstance(noted, r.ProgressNoted) and noted.added == [(30_000, 50_000)]
    # Nothing watched, and hardly a move: no event.
    assert h.do("ann", c.ReplayProgress(position_ms=50_500, watched=[])) == []
    # Watched again: no new span, but the rewatch is noted.
    [noted] = h.do("ann", c.ReplayProgress(position_ms=50_500, watched=[(10_000, 20_000)]))
    assert isinstance(noted, r.ProgressNoted) and (noted.added, noted.again) == (
        [],
        [(10_000, 20_000)],
    )
    h.do("ann", c.ReplayProgress(position_ms=900_000, watched=[(590_000, 900_000)]))
    state = state_view(h.stream, ANN)["progress"]
    assert state == {"position_ms": 600_000, "watched": [[0, 50_000], [590_000, 600_000]]}


def test_span_arithmetic() -> None:
    assert spans.merge([(5, 8), (0, 3), (3, 4), (7, 10)]) == [(0, 4), (5, 10)]
    assert spans.missing([(0, 4), (6, 8)], [(2, 10)]) == [(4, 6), (8, 10)]
    assert spans.add([(0, 1), (3, 4), (10, 11)], [(5, 6)], limit=2) == [(0, 6), (10, 11)]
    assert spans.total([(0, 4), (5, 10)]) == 9


def test_a_visit_remembers_when_the_viewer_was_last_here(h: StreamHarness) -> None:
    first = h.stream.viewers["ann"].last_seen
    assert state_view(h.stream, ANN)["you"]["last_seen"] is None
    h.clock.advance(60_000)
    h.visit("ann")
    assert state_view(h.stream, ANN)["you"]["last_seen"] == first


def test_a_rebuilt_stream_equals_the_live_one(h: StreamHarness) -> None:
    qid = ask(h)
    h.do("ben", c.ReplayUpvote(question_id=qid))
    h.do("ann", c.ReplayVote(poll_id="quiz", answer=[1]))
    h.do("ann", c.ReplayProgress(position_ms=9_000, watched=[(0, 9_000)]))
    encoded = [r.encode(ev) for ev in h.history]
    again = Replay.replay(RECORDING, (r.decode(data) for data in encoded))
    for who in (ANN, STAFF):
        assert state_view(again, who) == state_view(h.stream, who)
    with pytest.raises(ValueError, match="does not follow"):
        again.apply(msgspec.structs.replace(h.history[0], seq=again.seq + 2))
