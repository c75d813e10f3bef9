"""Pure tests of breakout rooms: assignment, the timer's arithmetic on a fake clock, refusals."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from classroom import breakouts as b
from classroom import commands as c
from classroom import events as e
from classroom.aggregate import Classroom
from classroom.breakouts_wire import breakouts_view
from classroom.errors import DomainError
from classroom.live import Context
from classroom.roles import Role
from classroom.visibility import Viewer, audience
from signaling.schemas import parse

T0 = 1_000_000


class Harness:
    """A classroom fed by hand: a fake clock, counted ids, a seeded generator."""

    def __init__(self, seed: int = 1) -> None:
        self.now = T0
        self.rng = random.Random(seed)
        self._ids = itertools.count(1)
        self.room = Classroom()
        self.journal: list[e.Event] = []
        self.commit(self.room.create("c1", "Class", "sfu"))

    def ctx(self) -> Context:
        return Context(self.now, lambda: str(next(self._ids)), self.rng)

    def commit(self, drafts: list[e.Event]) -> list[e.Event]:
        stamped = self.room.commit(drafts, self.now)
        self.journal += stamped
        return stamped

    def join(self, *users: str, role: Role = "participant") -> None:
        for user in users:
            self.commit(self.room.join(user, user.title(), role))

    def leave(self, user: str) -> None:
        self.commit(self.room.leave(user, "left"))

    def do(self, user: str, cmd: c.Command) -> list[e.Event]:
        return self.commit(self.room.handle(user, cmd, self.ctx()))

    def refused(self, user: str, cmd: c.Command) -> str:
        before = (self.room.seq, self.rooms())
        with pytest.raises(DomainError) as info:
            self.do(user, cmd)
        assert (self.room.seq, self.rooms()) == before  # bad input changes nothing
        return info.value.code

    def tick(self) -> list[e.Event]:
        return self.commit(b.due(self.room.breakouts, self.room.live, self.now))

    def deadline(self) -> int | None:
        return b.deadline(self.room.breakouts, self.room.live)

    def rooms(self) -> dict[str, str]:
        return {uid: m.room for uid, m in self.room.live.members.items()}

    def round(self) -> b.Round:
        r = self.room.breakouts.round
        assert r is not None
        return r

    def room_ids(self) -> list[str]:
        return [room.id for room in self.round().rooms]


def classroom(participants: int = 0, seed: int = 1) -> Harness:
    h = Harness(seed)
    h.join("host", role="host")
    h.join("mod", role="moderator")
    h.join(*[f"p{i:02d}" for i in range(participants)])
    return h


def opening(**kw: Any) -> c.BreakoutOpen:
    return c.BreakoutOpen(**kw)


# -- assignment ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("people", "rooms", "sizes"),
    [(30, 5, [6] * 5), (7, 3, [3, 2, 2]), (2, 4, [1, 1]), (11, 2, [6, 5]), (0, 3, [])],
)
def test_random_is_balanced_and_keeps_staff_in_main(
    people: int, rooms: int, sizes: list[int]
) -> None:
    h = classroom(people)
    h.do("host", opening(count=rooms, assignment="random"))
    here = h.rooms()
    assert here["host"] == here["mod"] == "main"
    counts = Counter(room for uid, room in here.items() if uid.startswith("p"))
    assert sorted(counts.values(), reverse=True) == sizes
    assert set(counts) <= set(h.room_ids())
    r = h.room.breakouts.round
    assert r is not None and r.assigned == {u: rm for u, rm in here.items() if u.startswith("p")}


def test_random_draw_depends_on_the_seed_only() -> None:
    def draw(seed: int, order: list[str]) -> list[list[str]]:
        h = Harness(seed)
        h.join("host", role="host")
        h.join(*order)
        h.do("host", opening(count=4, assignment="random"))
        return [sorted(u for u, rm in h.rooms().items() if rm == rid) for rid in h.room_ids()]

    people = [f"p{i:02d}" for i in range(20)]
    assert draw(7, people) == draw(7, list(reversed(people)))
    assert draw(7, people) != draw(8, people)


def test_balanced_deal_directly() -> None:
    dealt = b.balanced([f"u{i}" for i in range(10)], ["a", "b", "c"], random.Random(3))
    assert sorted(Counter(dealt.values()).values()) == [3, 3, 4]
    assert b.balanced(["u"], [], random.Random(3)) == {}


def test_manual_map_and_reassignment() -> None:
    h = classroom(4)
    h.leave("p03")  # absent but known: moves too, and will land there on return
    opened = h.do(
        "host",
        opening(
            rooms=[c.BreakoutRoomSpec("Red"), c.BreakoutRoomSpec("Blue")],
            assignment="manual",
            assignments={"p00": 0, "p01": 1, "p03": 1, "mod": 0, "later": 1},
        ),
    )
    red, blue = h.room_ids()
    assert [r.name for r in h.round().rooms] == ["Red", "Blue"]
    assert h.rooms() == {
        "host": "main",
        "mod": red,
        "p00": red,
        "p01": blue,
        "p02": "main",
        "p03": blue,
    }
    assigned = [ev.user_id for ev in opened if isinstance(ev, e.BreakoutAssigned)]
    assert assigned == ["p00", "p01", "p03", "mod", "later"]
    # Someone named in the map who joins only now lands in their room.
    h.join("later")
    assert h.rooms()["later"] == blue
    # Reassign during the session, and back to main.
    h.do("host", c.BreakoutAssign(user_id="p02", room_id=blue))
    h.do("mod", c.BreakoutAssign(user_id="p00", room_id="main"))
    assert h.rooms()["p02"] == blue and h.rooms()["p00"] == "main"
    assert h.round().members_of(blue) == ["p01", "p03", "later", "p02"]
    assert h.do("host", c.BreakoutAssign(user_id="p02", room_id=blue)) == []  # already there
    # A rejoin keeps the room.
    h.leave("p01")
    h.join("p01")
    assert h.rooms()["p01"] == blue


def test_self_choice_with_a_cap() -> None:
    h = classroom(4)
    h.do("host", opening(count=2, assignment="self", cap=2))
    one, two = h.room_ids()
    assert set(h.rooms().values()) == {"main"}  # nobody is placed until they choose
    h.do("p00", c.BreakoutChoose(room_id=one))
    h.do("p01", c.BreakoutChoose(room_id=one))
    assert h.refused("p02", c.BreakoutChoose(room_id=one)) == "conflict"  # full
    assert h.do("p01", c.BreakoutChoose(room_id=one)) == []  # already there: no-op
    h.do("p01", c.BreakoutChoose(room_id=two))  # switching frees a seat
    h.do("p02", c.BreakoutChoose(room_id=one))
    h.do("p00", c.BreakoutChoose(room_id="main"))
    assert h.rooms() == {
        "host": "main",
        "mod": "main",
        "p00": "main",
        "p01": two,
        "p02": one,
        "p03": "main",
    }
    # The host may place beyond the cap.
    h.do("host", c.BreakoutAssign(user_id="p03", room_id=one))
    h.do("host", c.BreakoutAssign(user_id="p00", room_id=one))
    assert h.round().size(one) == 3


def test_moving_lowers_a_raised_hand_in_the_room_left_behind() -> None:
    h = classroom(1)
    h.do("p00", c.HandRaise())
    events = h.do("host", opening(count=1, assignment="random"))
    lowered = [ev for ev in events if isinstance(ev, e.HandChanged)]
    assert [(ev.user_id, ev.raised, ev.room) for ev in lowered] == [("p00", False, "main")]
    assert h.room.live.hands == {}


# -- plan, visit, broadcast, help ------------------------------------------------


def test_draft_plan_is_edited_then_opened() -> None:
    h = classroom(3)
    planned = h.do("host", c.BreakoutPlan(count=2, assignment="manual", assignments={"p00": 1}))
    assert audience(planned[0]).includes(Viewer("mod", "moderator"))
    assert not audience(planned[0]).includes(Viewer("p00", "participant"))
    plan = h.room.breakouts.plan
    assert plan is not None and plan.grace_s == b.DEFAULT_GRACE_S
    first, second = (r.id for r in plan.rooms)
    h.do("mod", c.BreakoutAssign(user_id="p01", room_id=first))
    h.do("mod", c.BreakoutAssign(user_id="p00", room_id="main"))
    assert plan is not h.room.breakouts.plan
    assert h.room.breakouts.plan is not None and h.room.breakouts.plan.assignments == {"p01": first}
    assert set(h.rooms().values()) == {"main"}  # a plan moves nobody
    assert breakouts_view(h.room.breakouts, h.room.live, Viewer("p00", "participant")) is None
    staff_view = breakouts_view(h.room.breakouts, h.room.live, Viewer("host", "host"))
    assert staff_view is not None and staff_view["open"] is False
    assert staff_view["plan"]["assignments"] == {"p01": first}
    h.do("host", opening())
    assert h.room.breakouts.plan is None
    assert h.room_ids() == [first, second]
    assert h.rooms()["p01"] == first


def test_discarding_the_plan() -> None:
    h = classroom()
    h.do("host", c.BreakoutPlan(count=1, assignment="random"))
    h.do("host", c.BreakoutDiscard())
    assert h.room.breakouts.plan is None


def test_visit_help_and_broadcast() -> None:
    h = classroom(2)
    h.do("host", opening(count=2, assignment="manual", assignments={"p00": 0, "p01": 1}))
    one, two = h.room_ids()
    asked = h.do("p00", c.BreakoutHelp())
    assert [
        (ev.user_id, ev.room_id) for ev in asked if isinstance(ev, e.BreakoutHelpRequested)
    ] == [("p00", one)]
    assert audience(asked[0]) == audience(asked[0]).__class__(staff=True)
    assert h.do("p00", c.BreakoutHelp()) == []  # already waiting for staff
    h.do("p01", c.BreakoutHelp())
    h.do("host", c.BreakoutVisit(room_id=one))  # answers p00's call only
    r = h.room.breakouts.round
    assert r is not None and list(r.help) == ["p01"]
    assert h.rooms()["host"] == one and "host" not in r.assigned
    assert h.room.live.in_room(one) == [h.room.live.members["host"], h.room.live.members["p00"]]
    h.do("host", c.BreakoutVisit(room_id="main"))
    assert h.rooms()["host"] == "main"
    sent = h.do("mod", c.BreakoutBroadcast(text="Two minutes left"))
    for viewer in (Viewer("p00", "participant", one), Viewer("p01", "participant", two)):
        assert audience(sent[0]).includes(viewer)
    assert [m.text for m in r.messages] == ["Two minutes left"]


def test_room_chat_stays_in_its_room() -> None:
    h = classroom(2)
    h.do("host", opening(count=2, assignment="manual", assignments={"p00": 0, "p01": 1}))
    one, two = h.room_ids()
    [chat] = h.do("p00", c.ChatSend(text="hello team"))
    assert audience(chat).includes(Viewer("p00", "participant", one))
    assert not audience(chat).includes(Viewer("p01", "participant", two))
    assert not audience(chat).includes(Viewer("host", "host", "main"))


# -- the timer -------------------------------------------------------------------


def test_timer_warns_then_counts_down_then_closes() -> None:
    h = classroom(3)
    h.do("host", opening(count=2, assignment="random", duration_s=300, grace_s=15))
    h.leave("p02")  # absent members come back to main too
    ends = T0 + 300_000
    assert h.deadline() == ends - b.WARN_MS
    h.now = ends - b.WARN_MS - 1
    assert h.tick() == []
    h.now = ends - b.WARN_MS
    [warning] = h.tick()
    assert isinstance(warning, e.BreakoutWarning) and (warning.ends_at, warning.in_s) == (ends, 60)
    assert h.deadline() == ends and h.tick() == []
    h.now = ends + 250  # a late wake-up counts from when it happens
    [closing] = h.tick()
    assert isinstance(closing, e.BreakoutClosing) and closing.in_s == 15
    assert h.deadline() == ends + 250 + 15_000
    h.now = ends + 15_000
    assert h.tick() == []
    h.now = ends + 250 + 15_000
    closed = h.tick()
    assert isinstance(closed[-1], e.BreakoutClosed)
    assert set(h.rooms().values()) == {"main"}
    assert h.room.breakouts.round is None and h.deadline() is None and h.tick() == []


@pytest.mark.parametrize(
    ("duration_s", "first_deadline"),
    [(60, T0 + 60_000), (61, T0 + 1_000), (30, T0 + 30_000)],
)
def test_no_warning_when_the_rooms_are_shorter_than_its_lead(
    duration_s: int, first_deadline: int
) -> None:
    h = classroom(1)
    h.do("host", opening(count=1, assignment="random", duration_s=duration_s))
    assert h.deadline() == first_deadline


def test_untimed_rooms_have_no_deadline_until_extended() -> None:
    h = classroom(1)
    h.do("host", opening(count=1, assignment="random"))
    assert h.deadline() is None
    h.now += 5_000
    [ext] = h.do("host", c.BreakoutExtend(seconds=120))
    assert isinstance(ext, e.BreakoutExtended) and ext.ends_at == T0 + 5_000 + 120_000
    assert h.deadline() == ext.ends_at - b.WARN_MS


def test_extend_rearms_the_warning() -> None:
    h = classroom(1)
    h.do("host", opening(count=1, assignment="random", duration_s=120))
    h.now = T0 + 60_000
    h.tick()  # warned
    h.do("host", c.BreakoutExtend(seconds=300))
    assert h.deadline() == T0 + 420_000 - b.WARN_MS
    h.now = T0 + 90_000
    h.do("host", c.BreakoutExtend(seconds=10))  # still more than a minute left: warn again
    assert h.round().ends_at == T0 + 430_000


def test_close_now_and_shorten_a_countdown() -> None:
    h = classroom(2)
    h.do("host", opening(count=2, assignment="random", grace_s=60))
    h.do("host", c.BreakoutClose())  # the rooms' own grace
    assert h.deadline() == T0 + 60_000
    events = h.do("host", c.BreakoutClose(grace_s=0))
    assert isinstance(events[0], e.BreakoutClosing)
    assert isinstance(events[-1], e.BreakoutClosed)
    assert set(h.rooms().values()) == {"main"}


def test_class_end_stops_the_clock() -> None:
    h = classroom(1)
    h.do("host", opening(count=1, assignment="random", duration_s=30))
    h.do("host", c.ClassEnd())
    h.now += 60_000
    assert h.deadline() is None and h.tick() == []


# -- refusals --------------------------------------------------------------------


def _open_manual(h: Harness) -> None:
    h.do("host", opening(count=2, assignment="manual", assignments={"p00": 0}))


def _open_self_full(h: Harness) -> None:
    h.do("host", opening(count=1, assignment="self", cap=1))
    h.do("p01", c.BreakoutChoose(room_id=h.room_ids()[0]))


def _closing(h: Harness) -> None:
    h.do("host", opening(count=1, assignment="random", grace_s=30))
    h.do("host", c.BreakoutClose())


def _random_plan(h: Harness) -> None:
    h.do("host", c.BreakoutPlan(count=1, assignment="random"))


def _manual_plan(h: Harness) -> None:
    h.do("host", c.BreakoutPlan(count=1, assignment="manual"))


def _nothing(h: Harness) -> None:
    pass


def _first_room(h: Harness) -> str:
    return h.room_ids()[0]


Setup = Callable[[Harness], None]
REFUSALS: list[tuple[str, Setup, str, Callable[[Harness], c.Command], str]] = [
    # who may do what
    ("open", _nothing, "p00", lambda h: opening(count=2, assignment="random"), "forbidden"),
    ("plan", _nothing, "p00", lambda h: c.BreakoutPlan(count=2, assignment="random"), "forbidden"),
    (
        "assign",
        _open_manual,
        "p00",
        lambda h: c.BreakoutAssign(user_id="p01", room_id="main"),
        "forbidden",
    ),
    ("broadcast", _open_manual, "p00", lambda h: c.BreakoutBroadcast(text="hi"), "forbidden"),
    ("visit", _open_manual, "p01", lambda h: c.BreakoutVisit(room_id=_first_room(h)), "forbidden"),
    ("extend", _open_manual, "p00", lambda h: c.BreakoutExtend(seconds=60), "forbidden"),
    ("close", _open_manual, "p00", lambda h: c.BreakoutClose(), "forbidden"),
    ("discard", _random_plan, "p00", lambda h: c.BreakoutDiscard(), "forbidden"),
    # choosing
    (
        "choose manual",
        _open_manual,
        "p01",
        lambda h: c.BreakoutChoose(room_id=_first_room(h)),
        "conflict",
    ),
    ("choose closed", _nothing, "p01", lambda h: c.BreakoutChoose(room_id="b-1"), "conflict"),
    (
        "choose unknown",
        _open_self_full,
        "p00",
        lambda h: c.BreakoutChoose(room_id="b-x"),
        "not_found",
    ),
    (
        "choose full",
        _open_self_full,
        "p00",
        lambda h: c.BreakoutChoose(room_id=_first_room(h)),
        "conflict",
    ),
    # opening and planning
    ("open twice", _open_manual, "host", lambda h: opening(count=1, assignment="self"), "conflict"),
    ("open no plan", _nothing, "host", lambda h: opening(), "conflict"),
    (
        "rooms and count",
        _nothing,
        "host",
        lambda h: opening(rooms=[c.BreakoutRoomSpec("A")], count=1, assignment="self"),
        "bad_request",
    ),
    ("no assignment", _nothing, "host", lambda h: opening(count=1), "bad_request"),
    (
        "map not manual",
        _nothing,
        "host",
        lambda h: opening(count=1, assignment="random", assignments={"p00": 0}),
        "bad_request",
    ),
    (
        "cap not self",
        _nothing,
        "host",
        lambda h: opening(count=1, assignment="manual", cap=3),
        "bad_request",
    ),
    (
        "index range",
        _nothing,
        "host",
        lambda h: opening(count=2, assignment="manual", assignments={"p00": 2}),
        "bad_request",
    ),
    (
        "open plan with fields",
        _random_plan,
        "host",
        lambda h: opening(duration_s=60),
        "bad_request",
    ),
    ("empty plan", _nothing, "host", lambda h: c.BreakoutPlan(assignment="random"), "bad_request"),
    ("discard nothing", _nothing, "host", lambda h: c.BreakoutDiscard(), "conflict"),
    # assigning
    (
        "assign nothing",
        _nothing,
        "host",
        lambda h: c.BreakoutAssign(user_id="p00", room_id="main"),
        "conflict",
    ),
    (
        "assign stranger",
        _open_manual,
        "host",
        lambda h: c.BreakoutAssign(user_id="nobody", room_id="main"),
        "not_found",
    ),
    (
        "assign no room",
        _open_manual,
        "host",
        lambda h: c.BreakoutAssign(user_id="p00", room_id="b-x"),
        "not_found",
    ),
    (
        "assign random plan",
        _random_plan,
        "host",
        lambda h: c.BreakoutAssign(user_id="p00", room_id="main"),
        "conflict",
    ),
    (
        "assign plan no room",
        _manual_plan,
        "host",
        lambda h: c.BreakoutAssign(user_id="p00", room_id="b-x"),
        "not_found",
    ),
    # visiting, broadcasting, help, time
    ("visit unknown", _open_manual, "host", lambda h: c.BreakoutVisit(room_id="b-x"), "not_found"),
    ("visit closed", _nothing, "mod", lambda h: c.BreakoutVisit(room_id="b-1"), "conflict"),
    ("broadcast closed", _nothing, "host", lambda h: c.BreakoutBroadcast(text="hi"), "conflict"),
    ("help closed", _nothing, "p00", lambda h: c.BreakoutHelp(), "conflict"),
    ("help from main", _open_manual, "p01", lambda h: c.BreakoutHelp(), "conflict"),
    ("extend closed", _nothing, "host", lambda h: c.BreakoutExtend(seconds=60), "conflict"),
    ("extend closing", _closing, "host", lambda h: c.BreakoutExtend(seconds=60), "conflict"),
    ("close closed", _nothing, "host", lambda h: c.BreakoutClose(), "conflict"),
    ("close later", _closing, "host", lambda h: c.BreakoutClose(grace_s=120), "conflict"),
]


@pytest.mark.parametrize(
    ("setup", "actor", "make", "code"),
    [pytest.param(*row[1:], id=row[0]) for row in REFUSALS],
)
def test_refusals(
    setup: Setup, actor: str, make: Callable[[Harness], c.Command], code: str
) -> None:
    h = classroom(2)
    setup(h)
    assert h.refused(actor, make(h)) == code


@pytest.mark.parametrize(
    ("event", "data", "code"),
    [
        ("breakout:open", {"count": 0, "assignment": "random"}, "bad_request"),
        ("breakout:open", {"count": 51, "assignment": "random"}, "bad_request"),
        ("breakout:open", {"count": 2, "assignment": "lottery"}, "bad_request"),
        ("breakout:open", {"count": 2, "assignment": "random", "duration_s": 0}, "bad_request"),
        ("breakout:open", {"count": 2, "assignment": "random", "duration_s": 1.5}, "bad_request"),
        ("breakout:open", {"count": 2, "assignment": "random", "extra": 1}, "bad_request"),
        ("breakout:open", {"rooms": [{"name": "x" * 101}], "assignment": "self"}, "too_large"),
        ("breakout:open", {"rooms": [], "assignment": "self"}, "bad_request"),
        (
            "breakout:open",
            {"count": 2, "assignment": "manual", "assignments": {"a b": 0}},
            "bad_request",
        ),
        (
            "breakout:open",
            {"count": 2, "assignment": "manual", "assignments": {"ab": -1}},
            "bad_request",
        ),
        ("breakout:assign", {"user_id": "bob"}, "bad_request"),
        ("breakout:choose", {"room_id": "../etc"}, "bad_request"),
        ("breakout:broadcast", {"text": "x" * 2001}, "too_large"),
        ("breakout:broadcast", {"text": ""}, "bad_request"),
        ("breakout:extend", {"seconds": 0}, "bad_request"),
        ("breakout:close", {"grace_s": 601}, "bad_request"),
        ("breakout:help", {"room_id": "b-1"}, "bad_request"),
    ],
)
def test_schema_refusals(event: str, data: Any, code: str) -> None:
    with pytest.raises(DomainError) as info:
        parse(event, data)
    assert info.value.code == code


# -- journal and catch-up ----------------------------------------------------------


def test_state_is_the_fold_of_the_journal() -> None:
    h = classroom(6)
    h.do("host", c.BreakoutPlan(count=2, assignment="random", duration_s=600))
    h.do("host", opening())
    one, _ = h.room_ids()
    h.do("host", c.BreakoutVisit(room_id=one))
    h.do("host", c.BreakoutBroadcast(text="Halfway"))
    rebuilt = Classroom.replay(e.decode(e.encode(ev)) for ev in h.journal)
    assert {u: m.room for u, m in rebuilt.live.members.items()} == h.rooms()
    assert rebuilt.breakouts.round == h.room.breakouts.round
    assert b.deadline(rebuilt.breakouts, rebuilt.live) == h.deadline()


def test_room_along_the_events() -> None:
    moved = [
        e.ChatSent(id="1", user_id="x", name="X", text="t", room="main"),
        e.ParticipantMoved(user_id="bob", room="b-1", from_room="main"),
        e.ParticipantMoved(user_id="bob", room="b-2", from_room="b-1"),
    ]
    assert b.room_before(moved, "bob", "b-2") == "main"
    assert b.room_before(moved, "carol", "b-9") == "b-9"
    assert (
        b.room_before(
            [e.ParticipantJoined(user_id="bob", name="B", role="participant", room="b-1")],
            "bob",
            "b-3",
        )
        == "b-1"
    )
    rooms = []
    room = "main"
    for ev in moved:
        room = b.room_after(ev, "bob", room)
        rooms.append(room)
    assert rooms == ["main", "b-1", "b-2"]
