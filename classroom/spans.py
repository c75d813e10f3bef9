"""Watched stretches of a recording as merged spans: what a viewer has seen, counted once.

A span is `(from_ms, to_ms)` with `from_ms < to_ms`; a list of spans is kept
sorted and disjoint. Spans that touch or overlap merge, so watching a part
twice counts once, and the share watched is the length of the union over the
recording's length.
"""

from __future__ import annotations

from collections.abc import Iterable

Span = tuple[int, int]

MAX_SPANS = 500
"""Spans kept per viewer: past it, the two closest are joined (a gap of seconds at most
in practice), so a viewer who skips about cannot grow the state without bound."""


def clamp(spans: Iterable[Span], length: int) -> list[Span]:
    """The spans within [0, length], empty ones dropped."""
    out = []
    for start, end in spans:
        start, end = max(0, start), min(end, length)
        if start < end:
            out.append((start, end))
    return out


def merge(spans: Iterable[Span]) -> list[Span]:
    """The union of `spans`, sorted and disjoint."""
    out: list[Span] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def missing(have: list[Span], new: Iterable[Span]) -> list[Span]:
    """The parts of `new` that `have` (sorted, disjoint) does not cover yet."""
    out: list[Span] = []
    for start, end in merge(new):
        cursor = start
        for a, b in have:
            if b <= cursor:
                continue
            if a >= end:
                break
            if a > cursor:
                out.append((cursor, a))
            cursor = max(cursor, b)
            if cursor >= end:
                break
        if cursor < end:
            out.append((cursor, end))
    return out


def add(have: list[Span], new: Iterable[Span], limit: int = MAX_SPANS) -> list[Span]:
    """`have` with `new` merged in, at most `limit` spans long."""
    merged = merge([*have, *new])
    while len(merged) > limit:
        gaps = [merged[i + 1][0] - merged[i][1] for i in range(len(merged) - 1)]
        i = gaps.index(min(gaps))
        merged[i : i + 2] = [(merged[i][0], merged[i + 1][1])]
    return merged


def total(spans: Iterable[Span]) -> int:
    return sum(end - start for start, end in spans)
