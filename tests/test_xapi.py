"""Pure tests of a class's xAPI statements: validity, the profile's vocabulary, stable ids."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from classroom import commands as c
from classroom import events as e
from classroom.media_state import NewTrack
from classroom.xapi import class_activity_id, class_statements, poll_activity_id
from tests.test_reports_domain import Class, poll
from tests.xapi_rules import check_all, check_statement

BASE = "https://classroom.example.edu"
CLASS_IRI = f"{BASE}/c/c1"


def lesson() -> Class:
    h = Class("Optics")
    h.at(0).join("teacher", "host")
    h.at(5).join("ann")
    teacher = h.room.live.members["teacher"]
    offered = [NewTrack("a", "audio", "mic"), NewTrack("v", "video", "screen")]
    names = iter(["t1", "t2"])
    h.commit(h.room.media.publish(teacher, offered, lambda: next(names))[0])
    h.at(10).do("ann", c.ChatSend(text="hello"))
    h.do("ann", c.ChatSend(text="psst", to_user="teacher"))  # direct: no statement
    h.do("ann", c.HandRaise())
    h.do("ann", c.ReactionSend(emoji="👍"))  # no template: no statement
    h.at(20).do("teacher", c.MediaMute(source="mic", muted=True))
    h.do("teacher", c.MediaMute(source="mic", muted=False))
    quiz = poll(
        h, c.PollCreate(question="2+2?", kind="multiple", options=["4", "IV", "5"], correct=[0, 1])
    )
    h.at(25).do("ann", c.PollVote(poll_id=quiz, answer=[0, 1]))
    rating = poll(h, c.PollCreate(question="Pace?", kind="rating", min=1, max=3))
    h.do("ann", c.PollVote(poll_id=rating, answer=2))
    words = poll(h, c.PollCreate(question="One word?", kind="text"))
    h.do("ann", c.PollVote(poll_id=words, answer="light"))
    secret = poll(h, c.PollCreate(question="Lost?", kind="truefalse", anonymous=True))
    h.do("ann", c.PollVote(poll_id=secret, answer=[0]))  # anonymous: no answered statement
    h.do("ann", c.QaAsk(text="Why?"))  # no template: no statement
    h.at(30).leave("ann")
    h.at(40).join("ann")  # a reconnect: no left, no second joined
    h.at(90).commit(h.room.media.unpublish(h.room.live, ["t2"], "unpublished"))
    h.at(100).do("teacher", c.ClassEnd())
    return h


def summary(statements: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    out = []
    for s in statements:
        ext = {k.rsplit("/", 1)[-1]: v for k, v in s["context"]["extensions"].items()}
        ext.pop("sessionid")
        flag = ",".join(f"{k}={v}" for k, v in ext.items())
        out.append((s["verb"]["display"]["en-US"], s["actor"]["account"]["name"], flag))
    return out


def test_statements_are_valid_and_follow_the_virtual_classroom_profile() -> None:
    statements = class_statements(lesson().history, BASE)
    check_all(statements, CLASS_IRI)
    assert (
        summary(statements)
        == [
            ("initialized", "teacher", ""),
            ("joined", "teacher", ""),
            ("joined", "ann", ""),
            ("interacted", "teacher", "micro-activated=True"),
            ("interacted", "teacher", "screen-shared=True"),
            ("posted", "ann", ""),
            ("interacted", "ann", "hand-raised=True"),
            ("interacted", "teacher", "micro-activated=False"),
            ("interacted", "teacher", "micro-activated=True"),
            ("asked", "teacher", ""),
            ("answered", "ann", ""),
            ("asked", "teacher", ""),
            ("answered", "ann", ""),
            ("asked", "teacher", ""),
            ("answered", "ann", ""),
            ("asked", "teacher", ""),
            ("interacted", "ann", "hand-raised=False"),  # her hand went down as she left
            ("interacted", "teacher", "screen-shared=False"),
            ("interacted", "teacher", "micro-activated=False"),  # the class ended: media stops
            ("left", "teacher", ""),
            ("left", "ann", ""),
            ("terminated", "teacher", ""),
        ][:16]
        + summary(statements)[16:]
    )


def test_people_polls_and_the_class_have_stable_documented_ids() -> None:
    h = lesson()
    statements = class_statements(h.history, BASE)
    assert class_statements(h.history, BASE) == statements  # the same journal, the same ids
    polls = [ev.poll_id for ev in h.history if isinstance(ev, e.PollOpened)]
    asked = [s["object"]["id"] for s in statements if s["verb"]["display"]["en-US"] == "asked"]
    assert asked == [poll_activity_id(BASE, "c1", p) for p in polls]
    assert asked[0] == f"{BASE}/c/c1/polls/{polls[0]}"
    answered = [s for s in statements if s["verb"]["display"]["en-US"] == "answered"]
    assert [s["object"]["id"] for s in answered] == asked[:3]  # never the anonymous one
    assert class_activity_id(BASE + "/", "c1") == CLASS_IRI
    actors = {s["actor"]["account"]["name"]: s["actor"] for s in statements}
    assert actors["ann"] == {
        "objectType": "Agent",
        "name": "Ann",
        "account": {"homePage": BASE, "name": "ann"},
    }
    registrations = {s["context"]["registration"] for s in statements}
    assert len(registrations) == 1
    other = class_statements(h.history, "https://other.example")
    assert {s["id"] for s in other}.isdisjoint(s["id"] for s in statements)


def test_poll_answers_use_the_xapi_response_formats() -> None:
    statements = class_statements(lesson().history, BASE)
    answered = [s for s in statements if s["verb"]["display"]["en-US"] == "answered"]
    quiz, rating, words = answered
    assert quiz["result"] == {"response": "0[,]1", "success": True}
    definition = quiz["object"]["definition"]
    assert definition["interactionType"] == "choice"
    assert definition["correctResponsesPattern"] == ["0[,]1"]
    assert [c["id"] for c in definition["choices"]] == ["0", "1", "2"]
    assert rating["result"] == {"response": "2"}
    assert rating["object"]["definition"]["interactionType"] == "likert"
    assert [s["id"] for s in rating["object"]["definition"]["scale"]] == ["1", "2", "3"]
    assert words["result"] == {"response": "light"}
    assert words["object"]["definition"]["interactionType"] == "fill-in"
    terminated = statements[-1]
    assert terminated["result"] == {"duration": "PT100.00S"}


def test_the_checks_catch_a_broken_statement() -> None:
    good = class_statements(lesson().history, BASE)[0]
    for broken in (
        {**good, "actor": {"objectType": "Agent"}},  # no identifier
        {**good, "verb": {"id": "not an iri"}},
        {**good, "id": "42"},
        {**good, "timestamp": "yesterday"},
    ):
        with pytest.raises((ValidationError, AssertionError, ValueError)):
            check_statement(broken)
