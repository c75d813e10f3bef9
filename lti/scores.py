"""A class's quiz results as LTI scores: one per learner who came, over the class's quiz questions.

`scoreMaximum` is the number of quiz questions the class closed (anonymous
ones never count: they would say who answered), `scoreGiven` how many the
learner answered right. Hosts and moderators get no score, nor does a
class without a quiz question. A learner who never came gets none either:
the gradebook shows them as not attempted.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

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


def ags_score(score: Score, subject: str) -> dict[str, object]:
    """The AGS score document (application/vnd.ims.lis.v1.score+json)."""
    body: dict[str, object] = {
        "userId": subject,
        "scoreGiven": score.given,
        "scoreMaximum": score.maximum,
        "activityProgress": "Completed",
        "gradingProgress": "FullyGraded",
        "timestamp": datetime.fromtimestamp(score.at / 1000, UTC).isoformat(
            timespec="milliseconds"
        ),
    }
    if score.comment:
        body["comment"] = score.comment
    return body
