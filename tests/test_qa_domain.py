"""Pure tests of Q&A: asking, voting, moderation, pinning, answering; every refusal."""

from __future__ import annotations

from typing import Any

import pytest

from classroom import commands as c
from classroom import events as e
from classroom.aggregate import Classroom
from classroom.errors import DomainError
from classroom.qa import Question
from classroom.qa_wire import questions_view
from classroom.visibility import Viewer, audience
from classroom.wire import to_wire
from signaling.schemas import parse
from tests.domain import Harness

ANN = Viewer("ann", "participant")
TEACH = Viewer("teach", "host")


@pytest.fixture
def h() -> Harness:
    h = Harness()
    h.join("teach", "host")
    h.join("mod", "moderator")
    for user in ("ann", "ben", "cat"):
        h.join(user)
    return h


def ask(h: Harness, user: str = "ann", text: str = "Why?", **kw: Any) -> Question:
    (ev,) = h.do(user, c.QaAsk(text=text, **kw))
    assert isinstance(ev, e.QuestionAsked)
    return h.room.qa.questions[ev.question.id]


def refused(h: Harness, actor: str, cmd: c.Command) -> str:
    seq = h.room.seq
    with pytest.raises(DomainError) as err:
        h.room.handle(actor, cmd, h.ctx())
    assert h.room.seq == seq, "a refusal committed something"
    return err.value.code


def wire(ev: e.Event) -> tuple[str, dict[str, Any]]:
    out = to_wire(ev)
    assert out is not None
    return out


def test_asking_names_the_author_unless_anonymous(h: Harness) -> None:
    (named,) = h.do("ann", c.QaAsk(text="  What is\n a monad? "))
    name, payload = wire(named)
    assert name == "qa:question"
    assert payload["question"] == {
        "id": "id1",
        "text": "What is a monad?",
        "author": {"user_id": "ann", "name": "Ann"},
        "votes": 0,
        "status": "open",
        "pinned": False,
        "room": "main",
        "asked_at": h.clock.now,
    }
    assert audience(named).includes(Viewer("ben", "participant"))
    (anon,) = h.do("ben", c.QaAsk(text="Is this graded?", anonymous=True))
    assert anon.actor == "" and isinstance(anon, e.QuestionAsked)
    assert (anon.question.author_id, anon.question.author_name) == (None, None)
    assert wire(anon)[1]["question"]["author"] is None
    assert "ben" not in repr(e.decode(e.encode(anon)))  # not even in the journal record
    for viewer in (TEACH, ANN):
        views = questions_view(h.room.qa, viewer)
        assert [q["author"] for q in views] == [{"user_id": "ann", "name": "Ann"}, None]


def test_moderation_holds_participants_questions_for_staff(h: Harness) -> None:
    (on,) = h.do("mod", c.QaModeration(on=True))
    assert wire(on) == ("qa:moderation", {"seq": on.seq, "ts": on.ts, "on": True})
    assert audience(on).includes(ANN)
    assert h.do("mod", c.QaModeration(on=True)) == []
    held = ask(h, "ann", "First?")
    (asked,) = [ev for ev in h.history if isinstance(ev, e.QuestionAsked)]
    assert held.status == "pending" and not asked.public
    assert not audience(asked).includes(ANN) and audience(asked).includes(TEACH)
    staff_q = ask(h, "mod", "From staff")
    assert staff_q.status == "open"
    assert [q["text"] for q in questions_view(h.room.qa, ANN)] == ["From staff"]
    assert [q["text"] for q in questions_view(h.room.qa, TEACH)] == ["First?", "From staff"]
    assert refused(h, "ben", c.QaUpvote(question_id=held.id)) == "not_found"
    (approved,) = h.do("teach", c.QaApprove(question_id=held.id))
    assert wire(approved)[0] == "qa:updated" and audience(approved).includes(ANN)
    assert wire(approved)[1]["question"]["text"] == "First?"  # a first sight for participants
    assert [q["text"] for q in questions_view(h.room.qa, ANN)] == ["First?", "From staff"]
    h.do("teach", c.QaModeration(on=False))
    assert ask(h, "cat").status == "open"


def test_a_dismissed_pending_question_stays_with_staff(h: Harness) -> None:
    h.do("teach", c.QaModeration(on=True))
    held = ask(h, "ann", "rude words")
    (dismissed,) = h.do("mod", c.QaDismiss(question_id=held.id))
    assert isinstance(dismissed, e.QuestionDismissed) and not dismissed.public
    assert not audience(dismissed).includes(ANN)
    shown = ask(h, "mod", "fine")
    (gone,) = h.do("mod", c.QaDismiss(question_id=shown.id))
    assert audience(gone).includes(ANN)  # participants saw it: they see it go
    assert questions_view(h.room.qa, ANN) == []
    assert [q["status"] for q in questions_view(h.room.qa, TEACH)] == ["dismissed", "dismissed"]


def test_one_vote_per_person(h: Harness) -> None:
    q = ask(h)
    (up,) = h.do("ben", c.QaUpvote(question_id=q.id))
    assert isinstance(up, e.QuestionVoted) and up.up
    assert to_wire(up) is None and not audience(up).includes(TEACH)
    assert h.do("ben", c.QaUpvote(question_id=q.id)) == []
    h.do("cat", c.QaUpvote(question_id=q.id))
    h.do("ann", c.QaUpvote(question_id=q.id))
    assert len(q.voters) == 3
    (down,) = h.do("ben", c.QaUnvote(question_id=q.id))
    assert isinstance(down, e.QuestionVoted) and not down.up
    assert h.do("ben", c.QaUnvote(question_id=q.id)) == []
    views = questions_view(h.room.qa, Viewer("cat", "participant"))
    assert (views[0]["votes"], views[0]["voted"]) == (2, True)
    assert questions_view(h.room.qa, Viewer("ben", "participant"))[0]["voted"] is False
    rebuilt = Classroom.replay(e.decode(e.encode(ev)) for ev in h.history)
    assert rebuilt.qa.questions[q.id].voters == {"ann", "cat"}


def test_pinning_keeps_one_pinned_question_per_room(h: Harness) -> None:
    first, second = ask(h, "ann", "one"), ask(h, "ben", "two")
    (pinned,) = h.do("mod", c.QaPin(question_id=first.id))
    assert isinstance(pinned, e.QuestionPinned) and pinned.question.pinned
    assert h.do("mod", c.QaPin(question_id=first.id)) == []
    unpin, pin = h.do("mod", c.QaPin(question_id=second.id))
    assert isinstance(unpin, e.QuestionPinned) and isinstance(pin, e.QuestionPinned)
    assert (unpin.question.id, unpin.question.pinned) == (first.id, False)
    assert (pin.question.id, pin.question.pinned) == (second.id, True)
    assert h.room.qa.pinned == {"main": second.id}
    (off,) = h.do("mod", c.QaPin(question_id=second.id, pinned=False))
    assert isinstance(off, e.QuestionPinned) and not off.question.pinned
    assert (
        h.room.qa.pinned == {} and h.do("mod", c.QaPin(question_id=second.id, pinned=False)) == []
    )
    h.room.live.members["cat"].room = "r1"
    other = ask(h, "cat", "in a breakout")
    h.do("mod", c.QaPin(question_id=first.id))
    assert h.do("mod", c.QaPin(question_id=other.id))[0].question.id == other.id  # type: ignore[attr-defined]
    assert h.room.qa.pinned == {"main": first.id, "r1": other.id}


def test_answering_unpins_and_keeps_the_written_answer(h: Harness) -> None:
    q = ask(h)
    h.do("teach", c.QaPin(question_id=q.id))
    (answered,) = h.do("teach", c.QaAnswer(question_id=q.id, text="Because."))
    assert wire(answered)[1]["question"] | {"asked_at": 0} == {
        "id": q.id,
        "text": "Why?",
        "author": {"user_id": "ann", "name": "Ann"},
        "votes": 0,
        "status": "answered",
        "pinned": False,
        "room": "main",
        "asked_at": 0,
        "answer": "Because.",
    }
    assert h.room.qa.pinned == {}
    h.do("teach", c.QaAnswer(question_id=q.id))
    assert q.answer == "Because." and q.status == "answered"
    h.do("teach", c.QaAnswer(question_id=q.id, text="Better: because."))
    assert q.answer == "Better: because."
    assert h.do("ben", c.QaUpvote(question_id=q.id))  # answered questions still take votes
    h.do("teach", c.QaModeration(on=True))
    held = ask(h, "cat", "straight to an answer")
    (direct,) = h.do("teach", c.QaAnswer(question_id=held.id, text="Yes"))
    assert held.status == "answered" and audience(direct).includes(ANN)


def test_questions_of_a_breakout_room_stay_there(h: Harness) -> None:
    h.room.live.members["ann"].room = "r1"
    (asked,) = h.do("ann", c.QaAsk(text="in the room"))
    assert audience(asked).includes(Viewer("cat", "participant", "r1"))
    assert not audience(asked).includes(Viewer("ben", "participant", "main"))
    assert audience(asked).includes(TEACH)
    assert questions_view(h.room.qa, Viewer("ben", "participant", "main")) == []
    question_id = asked.question.id  # type: ignore[attr-defined]
    assert refused(h, "ben", c.QaUpvote(question_id=question_id)) == "not_found"


def test_the_snapshot_order_is_asking_order(h: Harness) -> None:
    for i, user in enumerate(["ann", "ben", "cat", "ann"]):
        h.clock.advance(1000)
        ask(h, user, f"q{i}")
    h.do("ben", c.QaUpvote(question_id="id3"))
    h.do("teach", c.QaPin(question_id="id4"))
    views = questions_view(h.room.qa, ANN)
    assert [q["text"] for q in views] == ["q0", "q1", "q2", "q3"]
    assert [q["asked_at"] for q in views] == sorted(q["asked_at"] for q in views)


REFUSALS: list[tuple[str, str, Any, str]] = [
    # (setup, actor, command, code); setups: open question id1, pending id1, dismissed id1
    ("open", "ann", c.QaApprove(question_id="id1"), "forbidden"),
    ("open", "ann", c.QaDismiss(question_id="id1"), "forbidden"),
    ("open", "ann", c.QaPin(question_id="id1"), "forbidden"),
    ("open", "ann", c.QaAnswer(question_id="id1"), "forbidden"),
    ("open", "ann", c.QaModeration(on=True), "forbidden"),
    ("open", "teach", c.QaApprove(question_id="id1"), "conflict"),
    ("open", "teach", c.QaApprove(question_id="nope"), "not_found"),
    ("open", "teach", c.QaDismiss(question_id="nope"), "not_found"),
    ("open", "teach", c.QaPin(question_id="nope"), "not_found"),
    ("open", "teach", c.QaAnswer(question_id="nope"), "not_found"),
    ("open", "ben", c.QaUpvote(question_id="nope"), "not_found"),
    ("open", "ben", c.QaAsk(text=" \n "), "bad_request"),
    ("pending", "teach", c.QaPin(question_id="id1"), "conflict"),
    ("pending", "teach", c.QaUpvote(question_id="id1"), "conflict"),
    ("pending", "ben", c.QaUnvote(question_id="id1"), "not_found"),
    ("dismissed", "teach", c.QaDismiss(question_id="id1"), "conflict"),
    ("dismissed", "teach", c.QaApprove(question_id="id1"), "conflict"),
    ("dismissed", "teach", c.QaPin(question_id="id1"), "conflict"),
    ("dismissed", "teach", c.QaAnswer(question_id="id1"), "conflict"),
    ("dismissed", "ben", c.QaUpvote(question_id="id1"), "not_found"),
]


@pytest.mark.parametrize(("setup", "actor", "cmd", "code"), REFUSALS)
def test_refusals(h: Harness, setup: str, actor: str, cmd: c.Command, code: str) -> None:
    h.do("teach", c.QaModeration(on=setup == "pending"))
    ask(h)
    if setup == "dismissed":
        h.do("teach", c.QaDismiss(question_id="id1"))
    assert refused(h, actor, cmd) == code


SCHEMA: list[tuple[str, dict[str, Any], str]] = [
    ("qa:ask", {"text": "x" * 501}, "too_large"),
    ("qa:ask", {"text": ""}, "bad_request"),
    ("qa:ask", {"text": "ok", "anonymous": "yes"}, "bad_request"),
    ("qa:answer", {"question_id": "q", "text": "x" * 1001}, "too_large"),
    ("qa:upvote", {"question_id": ""}, "bad_request"),
    ("qa:pin", {"question_id": "q", "pinned": 1}, "bad_request"),
    ("qa:moderation", {}, "bad_request"),
]


@pytest.mark.parametrize(("event", "data", "code"), SCHEMA)
def test_sizes_and_shapes(event: str, data: dict[str, Any], code: str) -> None:
    with pytest.raises(DomainError) as err:
        parse(event, data)
    assert err.value.code == code
