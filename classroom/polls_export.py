"""Poll ballots as CSV: one row per ballot, for `poll:export` and the HTTP export.

Anonymous polls export no voter: the user id, name and time columns stay
empty and their rows are sorted by answer, so not even the order in which
people voted is given away.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from classroom.live import Member
from classroom.polls import Answer, Poll

COLUMNS = [
    "poll_id",
    "question",
    "kind",
    "status",
    "anonymous",
    "user_id",
    "name",
    "answer",
    "correct",
    "voted_at",
]

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(text: str) -> str:
    """User text as a spreadsheet shows it, never as a formula it would run."""
    return "'" + text if text.startswith(_FORMULA) else text


def answer_text(poll: Poll, answer: Answer) -> str:
    if isinstance(answer, tuple):
        return cell("; ".join(poll.options[i] for i in answer))
    if isinstance(answer, int):
        return str(answer)
    return cell(answer)


def iso(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).isoformat(timespec="seconds")


def rows(poll: Poll, members: Mapping[str, Member]) -> list[list[str]]:
    head = [poll.id, cell(poll.question), poll.kind, poll.status]
    out: list[list[str]] = []
    for voter, ballot in poll.ballots.items():
        graded = ("yes" if poll.is_correct(ballot.answer) else "no") if poll.quiz else ""
        answer = answer_text(poll, ballot.answer)
        if poll.anonymous:
            out.append([*head, "yes", "", "", answer, graded, ""])
        else:
            name = cell(members[voter].name) if voter in members else ""
            out.append([*head, "no", voter, name, answer, graded, iso(ballot.ts)])
    if poll.anonymous:
        out.sort(key=lambda row: (row[7], row[8]))
    return out


def polls_csv(polls: Iterable[Poll], members: Mapping[str, Member]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for poll in polls:
        writer.writerows(rows(poll, members))
    return buffer.getvalue()
