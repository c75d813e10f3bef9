"""The outbox's fold and its journal across days and restarts, and the class feed, without HTTP."""

from __future__ import annotations

from pathlib import Path

from classroom import events as e
from hooks.outbox import DAY_MS, WINDOW_DAYS, Outbox
from hooks.payloads import ClassFeed, message
from hooks.records import Attempted, Enqueued
from journal.files import FileJournal

NOON = 1_767_268_800_000  # 2026-01-01T12:00Z


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


async def test_the_outbox_is_folded_again_after_a_restart_and_across_days(tmp_path: Path) -> None:
    clock = Clock(NOON)
    outbox = Outbox(FileJournal(tmp_path), clock)
    await outbox.sync()
    msg = message("msg_a_2", "class.started", NOON, {"class_id": "a"})
    await outbox.append([Enqueued(msg, ["ep1", "ep2"])])
    await outbox.append([Enqueued(msg, ["ep1", "ep2"])])  # a second enqueue is the same message
    clock.now += DAY_MS  # the next try is recorded in the next day's stream
    failed = Attempted(msg.id, "ep1", 1, clock.now, "retry", 500, "HTTP 500", clock.now + 5000)
    await outbox.append([failed, Attempted(msg.id, "ep2", 1, clock.now, "delivered", 204)])
    await outbox.journal.close()

    again = Outbox(FileJournal(tmp_path), clock)
    await again.sync()
    entry = again.state.entries[msg.id]
    assert entry.message.body == msg.body
    first, second = entry.deliveries["ep1"], entry.deliveries["ep2"]
    assert (first.outcome, first.tries, first.due) == ("retry", 1, clock.now + 5000)
    assert second.settled and second.tries == 1
    assert [(d.msg_id, d.endpoint) for _, d in again.state.pending()] == [(msg.id, "ep1")]
    # A record read twice changes nothing.
    assert again.state.apply(failed) == []
    await again.append([Attempted(msg.id, "ep1", 2, clock.now, "delivered", 200)])
    clock.now += WINDOW_DAYS * DAY_MS
    await again.sync()
    assert msg.id not in again.state.entries  # settled and out of the window
    await again.journal.close()


def test_the_class_feed_makes_one_start_and_tells_who_voted() -> None:
    feed = ClassFeed("c1")
    history = [
        e.ClassCreated(class_id="c1", title="Optics"),
        e.ParticipantJoined(user_id="ann", name="Ann", role="participant"),
        e.ParticipantJoined(user_id="t", name="T", role="host"),
        e.ParticipantLeft(user_id="t"),
        e.ParticipantJoined(user_id="t", name="T", role="host"),
        e.PollOpened(poll_id="p", question="Ready?", kind="truefalse"),
        e.PollVoted(poll_id="p", voter="ann", answer=[0]),
        e.PollVoted(poll_id="p", voter="ann", answer=[1]),
        e.PollClosed(poll_id="p", reason="timer"),
        e.ClassEnded(actor="t"),
    ]
    made = [feed.fold(e.stamp(ev, i + 1, 1000 + i)) for i, ev in enumerate(history)]
    sent = [(m.id, m.type) for m in made if m is not None]
    assert sent == [
        ("msg_c1_3", "class.started"),
        ("msg_c1_9", "poll.closed"),
        ("msg_c1_10", "class.ended"),
    ]
    closed = next(m for m in made if m is not None and m.type == "poll.closed")
    assert b'"voters":1' in closed.body and b'"reason":"timer"' in closed.body
    assert b'"created_at":"1970-01-01T00:00:01.008Z"' in closed.body
