"""Word frequencies of open-text answers, for a word cloud."""

from __future__ import annotations

import re
from collections import Counter

WORDS_PER_ANSWER = 30
"""Words of one answer that count: a long answer cannot drown the others."""
WORDS_SHOWN = 50

_WORD = re.compile(r"[^\W\d_](?:[\w'\u2019-]*\w)?")
"""A word: starts with a letter, may hold apostrophes (straight or curly) and hyphens."""

_STOPWORDS = """
    a about after all also am an and any are as at be because been but by can could
    did do does for from had has have he her him his how i if in into is it its just
    me more my no not of on or our out she so than that the their them then there these
    they this to too up us very was we were what when which who why will with would you
    your
"""
STOPWORDS = frozenset(_STOPWORDS.split())


def words_of(text: str) -> list[str]:
    """The distinct words of one answer that a word cloud shows, lowercased, in order."""
    seen: dict[str, None] = {}
    for match in _WORD.finditer(text.lower()):
        word = match.group()
        if len(word) > 1 and word not in STOPWORDS and not word.isdigit():
            seen.setdefault(word)
        if len(seen) >= WORDS_PER_ANSWER:
            break
    return list(seen)


def top_words(counts: Counter[str], limit: int = WORDS_SHOWN) -> list[tuple[str, int]]:
    """Most frequent first; ties in alphabetical order, so the cloud is stable."""
    ranked = sorted((item for item in counts.items() if item[1] > 0), key=lambda w: (-w[1], w[0]))
    return ranked[:limit]
