"""The poll queries: `poll:export` (a poll's ballots as CSV) and `poll:leaderboard`.

Queries pass the same gate as commands (`Classroom.admit`) and answer in the
ack; they make no events and change nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from classroom import commands as c
from classroom.dispatch import answers
from classroom.live import Member
from classroom.polls_export import polls_csv

if TYPE_CHECKING:
    from classroom.aggregate import Classroom


@answers(c.PollExport)
def export(room: Classroom, actor: Member, cmd: c.PollExport) -> dict[str, Any]:
    """`{poll_id, filename, csv}`."""
    poll = room.polls.get(cmd.poll_id)
    body = polls_csv([poll], room.live.members)
    return {"poll_id": poll.id, "filename": f"poll-{poll.id}.csv", "csv": body}


@answers(c.PollLeaderboard)
def leaderboard(room: Classroom, actor: Member, cmd: c.PollLeaderboard) -> dict[str, Any]:
    """`{quizzes, leaderboard: [{rank, user_id, name, correct, answered}]}`.

    Counts the class's closed and published quiz questions that are not
    anonymous (a name next to a score would tell what an anonymous voter chose).
    """
    rows = [
        {
            "rank": s.rank,
            "user_id": s.user_id,
            "name": s.name,
            "correct": s.correct,
            "answered": s.answered,
        }
        for s in room.polls.leaderboard(room.live.members)
    ]
    return {"quizzes": len(room.polls.scored()), "leaderboard": rows}
