"""A class report's attendance as CSV: one row per person, with their participation counts.

Times are ISO 8601 in UTC; spans read `start/end; start/end` (an open span
ends in nothing). Every cell that holds people's text is neutralised so a
spreadsheet shows it and never runs it as a formula.
"""

from __future__ import annotations

import csv
import io

from classroom.polls_export import cell, iso
from classroom.reports import ClassReport

COLUMNS = [
    "user_id",
    "name",
    "role",
    "first_joined_at",
    "last_left_at",
    "present_ms",
    "present_min",
    "joins",
    "late_ms",
    "late",
    "left_early_ms",
    "left_early",
    "spans",
    "chat",
    "hands",
    "reactions",
    "polls_answered",
    "quiz_correct",
    "questions",
    "speaking_ms",
]


def _when(ts: int | None) -> str:
    return iso(ts) if ts is not None else ""


def attendance_csv(report: ClassReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    did = {p.user_id: p for p in report.participation}
    for a in report.attendance:
        p = did[a.user_id]
        spans = "; ".join(f"{iso(start)}/{_when(end)}" for start, end in a.spans)
        writer.writerow(
            [
                cell(a.user_id),
                cell(a.name),
                a.role,
                iso(a.first_joined_at),
                _when(a.last_left_at),
                a.present_ms,
                f"{a.present_ms / 60_000:.1f}",
                a.joins,
                a.late_ms,
                "yes" if a.late else "no",
                "" if a.left_early_ms is None else a.left_early_ms,
                "yes" if a.left_early else "no",
                spans,
                p.chat,
                p.hands,
                p.reactions,
                p.polls_answered,
                p.quiz_correct,
                p.questions,
                p.speaking_ms,
            ]
        )
    return buffer.getvalue()
