"""A class roster pasted or uploaded as CSV: people's names and ids (or e-mail addresses).

Each row is a name and an id; the id becomes the person's user id in the
class, so the report's `user_id` column matches the roster. An e-mail
address is an id (kept in lower case). A first row that names a `name`
column is a header, and its id column is the first of `ID_HEADERS` found;
otherwise the first column is the name and the second the id. Commas,
semicolons (what spreadsheets use where the comma is the decimal sign) or
tabs separate the cells. Every problem is reported with its row number, and
nothing is minted unless every row is right.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import msgspec

from classroom.commands import Name, UserId
from classroom.polls_export import cell

MAX_PEOPLE = 2000
MAX_ERRORS = 5
ID_HEADERS = ("id", "user_id", "user id", "email", "e-mail", "mail", "student_id", "student id")
NAME_HEADERS = ("name", "full name", "display name")


class Person(msgspec.Struct, forbid_unknown_fields=True):
    name: Name
    user_id: UserId


class RosterError(ValueError):
    """The roster cannot be read; the message says which rows are wrong and why."""


def _delimiter(first_line: str) -> str:
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _columns(header: list[str]) -> tuple[int, int] | None:
    """The name and id columns a header row names; None if it is not a header."""
    names = [c.strip().lower() for c in header]
    name = next((names.index(h) for h in NAME_HEADERS if h in names), None)
    if name is None:
        return None
    ident = next((names.index(h) for h in ID_HEADERS if h in names), None)
    if ident is None:
        raise RosterError(f"row 1: the header names no id column ({', '.join(ID_HEADERS)})")
    return name, ident


def person(name: str, ident: str) -> Person:
    """A roster entry, checked; raises msgspec.ValidationError."""
    ident = ident.strip()
    if "@" in ident:
        ident = ident.lower()
    return msgspec.convert({"name": name.strip(), "user_id": ident}, Person)


def parse(text: str) -> list[Person]:
    """The people of a roster's text, in order; RosterError lists what is wrong."""
    lines = text.lstrip("\ufeff").splitlines()
    first = next((line for line in lines if line.strip()), "")
    rows = list(csv.reader(io.StringIO("\n".join(lines)), delimiter=_delimiter(first)))
    numbered = [(n, row) for n, row in enumerate(rows, 1) if any(c.strip() for c in row)]
    if not numbered:
        raise RosterError("the roster is empty")
    columns = _columns(numbered[0][1])
    if columns is not None:
        numbered = numbered[1:]
    name_at, id_at = columns or (0, 1)
    if len(numbered) > MAX_PEOPLE:
        raise RosterError(f"a roster has at most {MAX_PEOPLE} people (this one {len(numbered)})")
    people: list[tuple[int, Person]] = []
    errors: list[str] = []
    for n, row in numbered:
        if len(row) <= max(name_at, id_at):
            errors.append(f"row {n}: give a name and an id or e-mail address")
            continue
        try:
            people.append((n, person(row[name_at], row[id_at])))
        except msgspec.ValidationError as exc:
            errors.append(f"row {n}: {_said(exc)}")
    _refuse(errors + _duplicates(people))
    return [who for _, who in people]


def distinct(people: list[Person]) -> list[Person]:
    """People given as a list: checked already, unless someone is there twice."""
    if not people:
        raise RosterError("the roster is empty")
    _refuse(_duplicates(list(enumerate(people, 1))))
    return people


def _refuse(errors: list[str]) -> None:
    if errors:
        more = f" (and {len(errors) - MAX_ERRORS} more)" if len(errors) > MAX_ERRORS else ""
        raise RosterError("; ".join(errors[:MAX_ERRORS]) + more)


def _said(exc: msgspec.ValidationError) -> str:
    text = str(exc)
    if "$.user_id" in text:
        return "the id must be 1 to 64 letters, digits or . _ @ - (an e-mail address will do)"
    if "$.name" in text:
        return "the name must be 1 to 100 characters of text"
    return text


def _duplicates(people: list[tuple[int, Person]]) -> list[str]:
    seen: dict[str, int] = {}
    errors = []
    for n, who in people:
        if who.user_id in seen:
            errors.append(f"row {n}: {who.user_id} is also on row {seen[who.user_id]}")
        seen.setdefault(who.user_id, n)
    return errors


def links_csv(rows: Iterable[tuple[str, str, str]]) -> str:
    """`name, user_id, link` rows as CSV that a spreadsheet shows and never runs."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["name", "user_id", "link"])
    for name, user_id, link in rows:
        writer.writerow([cell(name), cell(user_id), link])
    return buffer.getvalue()
