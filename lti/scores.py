"""Quiz results as LTI scores: a class's, one per learner who came, and a replay's.

`scoreMaximum` is the number of quiz questions the class closed (anonymous
ones never count: they would say who answered), `scoreGiven` how many the
learner answered right. Hosts and moderators get no score, nor does a
class without a quiz question. A learner who never came gets none either:
the gradebook shows them as not attempted.

In a replay (the async cohort) the questions are the recording's quiz
questions whose answer key the host published in class (an unrevealed one
cannot be marked); a learner's score counts their ballots on them, and is
`InProgress` until they answered every one.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from classroom.replay import RecordedPoll, Replay
from classroom.reports import ClassReport

COHORT_LIVE = "live"
COHORT_REPLAY = "replay"


class Score(msgspec.Struct, frozen=True):
    user_id: str
    given: float
    maximum: float
    at: int
    """When it was earned (epoch ms): the class's end for the live cohort."""
    comment: str = ""
    completed: bool = True
    """The learner answered every question (else the activity is still in progress)."""

    def same_result(self, other: Score) -> bool:
        """The same marks, whenever they were earned."""
        return (self.given, self.maximum, self.completed) == (
            other.given,
            other.maximum,
            other.completed,
        )


def quiz_scores(report: ClassReport) -> list[Score]:
    questions = [
        p
        for p in report.polls
        if p.quiz and not p.anonymous and p.status in ("closed", "published")
    ]
    if not questions:
        return []
    at = report.ended_at or report.as_of
    learners = {a.user_id for a in report.attendance if a.role == "participant"}
    return [
        Score(p.user_id, p.quiz_correct, len(questions), at, f"{p.quiz_correct}/{len(questions)}")
        for p in report.participation
        if p.user_id in learners
    ]


def marked(recorded: RecordedPoll) -> bool:
    """A recorded poll that counts in a replay's score."""
    return recorded.quiz and not recorded.anonymous and recorded.correct is not None


def replay_score(stream: Replay, user_id: str) -> Score | None:
    """A viewer's score in the recording's stream; None for staff and for no ballot yet."""
    viewer = stream.viewers.get(user_id)
    if viewer is None or viewer.staff:
        return None
    questions = [stream.polls[p.poll_id] for p in stream.recorded.values() if marked(p)]
    ballots = [(poll, poll.ballots[user_id]) for poll in questions if user_id in poll.ballots]
    if not ballots:
        return None
    right = sum(poll.is_correct(ballot.answer) for poll, ballot in ballots)
    at = max(ballot.ts for _, ballot in ballots)
    comment = f"{right}/{len(questions)} in the replay"
    return Score(user_id, right, len(questions), at, comment, len(ballots) == len(questions))


def ags_score(score: Score, subject: str) -> dict[str, object]:
    """The AGS score document (application/vnd.ims.lis.v1.score+json)."""
    body: dict[str, object] = {
        "userId": subject,
        "scoreGiven": score.given,
        "scoreMaximum": score.maximum,
        "activityProgress": "Completed" if score.completed else "InProgress",
        "gradingProgress": "FullyGraded",
        "timestamp": datetime.fromtimestamp(score.at / 1000, UTC).isoformat(
            timespec="milliseconds"
        ),
    }
    if score.comment:
        body["comment"] = score.comment
    return body
