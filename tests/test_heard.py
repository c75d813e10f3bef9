"""Events heard from a stream wait to be folded in seq order; a gap or an overflow says
to read the journal instead."""

from __future__ import annotations

from classroom import events as e
from classroom.heard import Heard


def reaction(seq: int) -> e.Event:
    return e.ReactionSent(seq=seq, user_id="u", emoji="👍", room="main")


def test_what_follows_is_handed_on_in_order_and_what_was_folded_is_skipped() -> None:
    heard = Heard(10)
    for seq in (2, 3, 4):
        heard.hear(reaction(seq))
    assert [ev.seq for ev in heard.following(2)] == [3, 4]
    assert len(heard) == 0 and not heard.reread


def test_a_gap_stops_it_and_asks_for_the_journal() -> None:
    heard = Heard(10)
    for seq in (1, 3, 4):
        heard.hear(reaction(seq))
    assert [ev.seq for ev in heard.following(0)] == [1]
    assert heard.reread
    assert list(heard.following(1)) == []  # nothing more until the journal was read


def test_past_its_limit_it_drops_what_waits_and_asks_for_the_journal() -> None:
    heard = Heard(2)
    for seq in (1, 2, 3):
        heard.hear(reaction(seq))
    assert len(heard) == 0 and heard.reread
