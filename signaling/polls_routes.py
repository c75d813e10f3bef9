"""Poll queries over Socket.IO: CSV export and the quiz leaderboard.

These are reads, not domain commands: they are answered in the ack and
change nothing. The role check is the same grants table as for commands.
"""

from __future__ import annotations

from typing import Any

from classroom import commands as c
from classroom.errors import DomainError
from classroom.polls_export import polls_csv
from classroom.roles import require
from signaling.gateway import Gateway
from signaling.runtime import ClassRuntime, Session

Reply = dict[str, Any]


def authorize(session: Session, runtime: ClassRuntime, cmd: c.Command) -> None:
    member = runtime.room.live.members.get(session.user_id)
    if member is None or not member.present:
        raise DomainError("forbidden", "join the class first")
    require(member.role, cmd.action)


async def export(session: Session, runtime: ClassRuntime, cmd: c.Command) -> Reply:
    """`poll:export {poll_id}` -> `{ok, poll_id, filename, csv}`."""
    assert isinstance(cmd, c.PollExport)
    authorize(session, runtime, cmd)
    poll = runtime.room.polls.get(cmd.poll_id)
    body = polls_csv([poll], runtime.room.live.members)
    return {"ok": True, "poll_id": poll.id, "filename": f"poll-{poll.id}.csv", "csv": body}


async def leaderboard(session: Session, runtime: ClassRuntime, cmd: c.Command) -> Reply:
    """`poll:leaderboard {}` -> `{ok, quizzes, leaderboard: [{rank, user_id, name, ...}]}`.

    Counts the class's closed and published quiz questions that are not
    anonymous (a name next to a score would tell what an anonymous voter chose).
    """
    assert isinstance(cmd, c.PollLeaderboard)
    authorize(session, runtime, cmd)
    polls = runtime.room.polls
    rows = [
        {
            "rank": s.rank,
            "user_id": s.user_id,
            "name": s.name,
            "correct": s.correct,
            "answered": s.answered,
        }
        for s in polls.leaderboard(runtime.room.live.members)
    ]
    return {"ok": True, "quizzes": len(polls.scored()), "leaderboard": rows}


def add_routes(gateway: Gateway) -> None:
    gateway.route("poll:export", c.PollExport, "poll", export)
    gateway.route("poll:leaderboard", c.PollLeaderboard, "poll", leaderboard)
