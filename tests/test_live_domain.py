"""Pure tests of the live class: participants, chat, hands, reactions, roles."""

from __future__ import annotations

import pytest

from classroom import commands as c
from classroom import events as e
from classroom.aggregate import Classroom
from classroom.errors import DomainError
from classroom.roles import GRANTS, ROLES, Action, allowed
from tests.domain import Harness


@pytest.fixture
def h() -> Harness:
    h = Harness()
    h.join("teach", "host")
    h.join("mod", "moderator")
    h.join("ann")
    h.join("ben")
    return h


def test_join_is_idempotent_and_leave_lowers_the_hand(h: Harness) -> None:
    assert h.room.join("ann", "Ann", "participant") == []
    h.do("ann", c.HandRaise())
    left = h.commit(h.room.leave("ann", "disconnected"))
    assert [type(ev) for ev in left] == [e.HandChanged, e.ParticipantLeft]
    assert "ann" not in h.room.live.hands
    assert not h.room.live.members["ann"].present
    assert h.room.leave("ann", "again") == []


def test_chat_and_direct_messages(h: Harness) -> None:
    (msg,) = h.do("ann", c.ChatSend(text="hello"))
    assert isinstance(msg, e.ChatSent)
    assert (msg.user_id, msg.name, msg.room, msg.to_user, msg.id) == (
        "ann", "Ann", "main", None, "id1",
    )  # fmt: skip
    (dm,) = h.do("ann", c.ChatSend(text="psst", to_user="ben"))
    assert isinstance(dm, e.ChatSent) and dm.to_user == "ben"
    assert [m.text for m in h.room.live.recent_chat("main")] == ["hello", "psst"]


REFUSALS = [
    ("ann", c.ChatSend(text="x", to_user="ghost"), "not_found"),
    ("ann", c.HandLower(user_id="ben"), "forbidden"),
    ("ann", c.ClassEnd(), "forbidden"),
    ("mod", c.ClassEnd(), "forbidden"),
    ("ann", c.RoleSet(user_id="ben", role="moderator"), "forbidden"),
    ("mod", c.RoleSet(user_id="ben", role="moderator"), "forbidden"),
    ("teach", c.RoleSet(user_id="ben", role="host"), "conflict"),
    ("teach", c.RoleSet(user_id="teach", role="participant"), "conflict"),
    ("teach", c.RoleSet(user_id="ghost", role="moderator"), "not_found"),
    ("ghost", c.ChatSend(text="x"), "forbidden"),
]


@pytest.mark.parametrize(("actor", "cmd", "code"), REFUSALS)
def test_refusals_change_nothing(h: Harness, actor: str, cmd: c.Command, code: str) -> None:
    seq = h.room.seq
    with pytest.raises(DomainError) as refused:
        h.room.handle(actor, cmd, h.ctx())
    assert refused.value.code == code
    assert h.room.seq == seq


def test_hands_queue_in_order_and_staff_lower_them(h: Harness) -> None:
    h.do("ben", c.HandRaise())
    h.clock.advance(10)
    h.do("ann", c.HandRaise())
    assert h.do("ann", c.HandRaise()) == []
    assert list(h.room.live.hands) == ["ben", "ann"]
    (lowered,) = h.do("mod", c.HandLower(user_id="ben"))
    assert isinstance(lowered, e.HandChanged) and lowered.actor == "mod" and not lowered.raised
    assert h.do("ann", c.HandLower()) != []
    assert h.room.live.hands == {}


def test_promotion_survives_reconnect(h: Harness) -> None:
    h.do("teach", c.RoleSet(user_id="ann", role="moderator"))
    h.commit(h.room.leave("ann", "disconnected"))
    (joined,) = h.join("ann", "participant")
    assert isinstance(joined, e.ParticipantJoined) and joined.role == "moderator"
    h.do("ann", c.HandLower(user_id="ben"))  # a moderator may


def test_ended_class_refuses_everything(h: Harness) -> None:
    h.do("teach", c.ClassEnd())
    assert h.room.ended and h.room.live.present() == []
    for cmd in (c.ChatSend(text="x"), c.HandRaise()):
        with pytest.raises(DomainError) as refused:
            h.room.handle("teach", cmd, h.ctx())
        assert refused.value.code == "conflict"
    with pytest.raises(DomainError):
        h.room.join("new", "New", "participant")


def test_state_is_the_fold_of_the_journal(h: Harness) -> None:
    h.do("ann", c.ChatSend(text="one"))
    h.do("ben", c.HandRaise())
    h.do("teach", c.RoleSet(user_id="ann", role="moderator"))
    encoded = [e.encode(ev) for ev in h.history]
    rebuilt = Classroom.replay(e.decode(raw) for raw in encoded)
    assert rebuilt.seq == h.room.seq
    assert rebuilt.live.members == h.room.live.members
    assert rebuilt.live.hands == h.room.live.hands
    assert rebuilt.live.recent_chat("main") == h.room.live.recent_chat("main")


def test_out_of_order_events_are_refused(h: Harness) -> None:
    with pytest.raises(ValueError):
        h.room.apply(e.ClassEnded(seq=h.room.seq))


def test_a_hole_in_the_history_is_refused(h: Harness) -> None:
    with pytest.raises(ValueError, match="does not follow"):
        h.room.apply(e.ClassEnded(seq=h.room.seq + 2))
    assert not h.room.ended


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(Action))
def test_grants_table(role: str, action: Action) -> None:
    expected_host_only = {
        Action.CLASS_END, Action.ROLE_SET, Action.RECORDING_CONTROL, Action.SLIDES_PRESENT,
        Action.SLIDES_MANAGE,
    }  # fmt: skip
    staff_only = {
        Action.HAND_LOWER_OTHERS, Action.CLASS_LOCK, Action.POLL_MANAGE, Action.QA_MODERATE,
        Action.BREAKOUT_MANAGE, Action.MEDIA_MUTE_OTHERS, Action.BOARD_DRAW, Action.BOARD_CLEAR,
    }  # fmt: skip
    if action in expected_host_only:
        want = role == "host"
    elif action in staff_only:
        want = role in ("host", "moderator")
    else:
        want = True
    assert allowed(role, action) is want  # type: ignore[arg-type]
    assert (action in GRANTS[role]) is want  # type: ignore[index]
