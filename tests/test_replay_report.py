"""A recording's report, pure: each viewer, the coverage chart and both cohorts of each poll,
exact values on a scripted stream."""

from __future__ import annotations

import msgspec

from classroom import commands as c
from classroom import events as e
from classroom.replay import Recording
from classroom.replay_coverage import CoverageBucket, bucket_ms
from classroom.replay_report import RecordingFold, digest, report
from tests.replay_domain import StreamHarness


def scripted() -> StreamHarness:
    """Ann watches 50 s with two rewatches, Ben 12 s; the host previews it all."""
    h = StreamHarness()
    for user in ("ann", "ben"):
        h.visit(user)
    h.visit("teach", "host")
    h.do("ann", c.ReplayProgress(position_ms=30_000, watched=[(0, 30_000)]))
    h.do("ann", c.ReplayProgress(position_ms=50_000, watched=[(20_000, 50_000)]))
    h.do("ann", c.ReplayProgress(position_ms=15_000, watched=[(10_000, 15_000)]))
    h.do("ben", c.ReplayProgress(position_ms=12_000, watched=[(0, 12_000)]))
    h.do("teach", c.ReplayProgress(position_ms=600_000, watched=[(0, 600_000)]))
    h.do("ann", c.ReplayVote(poll_id="quiz", answer=[0]))
    h.do("ben", c.ReplayVote(poll_id="quiz", answer=[1]))
    h.do("ann", c.ReplayVote(poll_id="words", answer="light"))
    h.do("ben", c.ReplayVote(poll_id="rate", answer=4))
    h.do("ann", c.ReplayAsk(text="Why three?", at_ms=60_000))
    return h


def test_each_viewer_with_what_they_watched() -> None:
    h = scripted()
    made = report(h.stream, h.history)
    ann = next(v for v in made.viewers if v.user_id == "ann")
    assert (ann.watched_ms, ann.coverage, ann.position_ms) == (50_000, 0.0833, 15_000)
    assert (ann.polls_answered, ann.quiz_correct, ann.questions) == (2, 1, 1)
    assert (made.duration_ms, made.questions, made.answered) == (600_000, 1, 0)


def test_coverage_shows_where_learners_rewatch_and_stop() -> None:
    h = scripted()
    cover = report(h.stream, h.history).coverage
    assert (cover.bucket_ms, cover.learners, len(cover.buckets)) == (5000, 2, 120)
    full = [CoverageBucket(at, 1, 5000, 0, 0) for at in range(15_000, 50_000, 5000)]
    full[0].stopped = 1  # Ann's last position, 0:15
    full[1].again_ms = full[2].again_ms = 5000  # Ann went back over 0:20 to 0:30
    assert cover.buckets[:10] == [
        CoverageBucket(0, 2, 10_000, 0, 0),
        CoverageBucket(5000, 2, 10_000, 0, 0),
        CoverageBucket(10_000, 2, 7000, 5000, 1),  # Ben stopped at 0:12; Ann came back
        *full,
    ]
    # Nobody past 0:50; the host's preview of the whole recording is not counted.
    assert all(b == CoverageBucket(b.at_ms, 0, 0, 0, 0) for b in cover.buckets[10:])


def test_both_cohorts_of_each_poll_side_by_side() -> None:
    h = scripted()
    rows = {p.poll_id: p for p in report(h.stream, h.history).polls}
    quiz = rows["quiz"]
    assert (quiz.live_voters, quiz.async_voters, quiz.async_correct) == (10, 2, 1)
    assert quiz.live_correct == 7
    assert (quiz.kind, quiz.options, quiz.correct) == ("single", ["Triangle", "Square"], [0])
    assert quiz.live_results == e.PollResults(kind="single", counts=[7, 3], total=10, voters=10)
    assert quiz.async_results == e.PollResults(kind="single", counts=[1, 1], total=2, voters=2)
    words = rows["words"]
    assert words.anonymous and words.async_results.words == [("light", 1)]
    assert words.live_results is not None and words.live_results.words == [("wave", 2)]
    rate = rows["rate"]
    assert rate.live_results is None and rate.async_results.mean == 4.0
    assert rate.async_results.counts == [0, 0, 0, 1, 0]
    unpublished = rows["unpub"]
    assert (unpublished.live_correct, words.live_correct, rate.live_correct) == (None,) * 3
    assert (unpublished.async_voters, unpublished.async_correct, unpublished.correct) == (
        0,
        None,
        None,
    )


def test_anonymous_ballots_name_nobody_in_the_report() -> None:
    h = scripted()
    body = msgspec.json.encode(report(h.stream, h.history)).decode()
    words = msgspec.json.decode(body)["polls"][2]
    assert words["poll_id"] == "words" and "ann" not in msgspec.json.encode(words).decode()


def test_buckets_are_whole_seconds_and_at_most_120() -> None:
    assert [bucket_ms(d) for d in (0, 5000, 600_000, 121_000, 5_400_000)] == [
        1000,
        1000,
        5000,
        2000,
        45_000,
    ]
    short = StreamHarness(Recording("r", "c", "Short", 2500, []))
    short.visit("ann")
    short.do("ann", c.ReplayProgress(position_ms=2500, watched=[(0, 2500)]))
    cover = report(short.stream, short.history).coverage
    # The last bucket is what is left of the recording: half a second.
    assert [(b.at_ms, b.watched_ms, b.stopped) for b in cover.buckets] == [
        (0, 1000, 0),
        (1000, 1000, 0),
        (2000, 500, 1),
    ]
    empty = StreamHarness(Recording("r", "c", "Empty", 0, []))
    assert report(empty.stream, empty.history).coverage.buckets == []


def test_a_digest_counts_what_happened_since() -> None:
    h = scripted()
    since = h.clock.now
    h.clock.advance(60_000)
    h.visit("cat")
    h.do("cat", c.ReplayVote(poll_id="quiz", answer=[1]))
    h.do("cat", c.ReplayAsk(text="And four?", at_ms=90_000))
    fold = RecordingFold.of(h.stream.recording, h.history)
    made = digest(fold.stream, fold.happenings, since, since + 1)
    assert (made.viewers, made.anonymous_views, made.ballots, made.waiting) == (1, 0, 1, 2)
    assert [(q.text, q.new) for q in made.questions] == [("And four?", True)]
    everything = digest(fold.stream, fold.happenings, 0, since + 1)
    assert (everything.viewers, everything.ballots, len(everything.questions)) == (4, 5, 2)
