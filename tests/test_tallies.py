"""The pacing of coalesced tallies, one rule for the live class and its replay."""

from __future__ import annotations

from classroom import commands as c
from classroom.tallies import Pacer
from recorder.timeline import collect, find_span
from tests.domain import Harness


def test_a_change_after_a_quiet_spell_goes_out_at_once() -> None:
    pacer: Pacer[str] = Pacer(1.0)
    assert pacer.changed("p", 10.0) == 10.0
    pacer.sent("p", 10.0)
    assert pacer.changed("p", 12.5) == 12.5


def test_a_storm_is_folded_into_one_tally_per_interval() -> None:
    pacer: Pacer[str] = Pacer(1.0)
    pacer.changed("p", 10.0)
    pacer.sent("p", 10.0)
    assert pacer.changed("p", 10.2) == 11.0  # the trailing edge, one interval after
    assert pacer.changed("p", 10.4) is None  # rides along with the one due
    assert pacer.changed("q", 10.4) == 10.4  # another poll has its own pace
    assert pacer.due_by(10.9) == ["q"]
    assert pacer.due_by(11.0) == ["q", "p"]
    pacer.sent("p", 11.0)
    assert pacer.changed("p", 11.5) == 12.0


def test_the_replay_paces_tallies_as_the_class_did() -> None:
    h = Harness("Optics")
    h.join("teach", "host")
    voters = [f"v{i}" for i in range(5)]
    for voter in voters:
        h.join(voter)
    h.do("teach", c.RecordingStart())
    [created] = h.do("teach", c.PollCreate(question="Pick", kind="single", options=["a", "b"]))
    poll_id = created.poll_id  # type: ignore[attr-defined]
    h.do("teach", c.PollOpen(poll_id=poll_id))
    h.do("teach", c.PollShowResults(poll_id=poll_id))
    h.clock.advance(2000)
    for voter in voters:  # a storm: five ballots in 400 ms
        h.do(voter, c.PollVote(poll_id=poll_id, answer=[0]))
        h.clock.advance(100)
    h.clock.advance(2000)
    h.do("teach", c.PollClose(poll_id=poll_id))
    h.do("teach", c.RecordingStop())
    span = find_span(h.history, h.room.recording.made[0])
    assert span is not None
    tallies = [
        (entry["t"], entry["data"]["total"])
        for entry in collect(h.history, span).events
        if entry["name"] == "poll:results"
    ]
    # Shown (0 ballots); the first ballot at once; the rest one second after it, as the
    # state was then; the exact final tally when the poll closes.
    assert tallies == [(0, 0), (2000, 1), (3000, 5), (4500, 5)]
