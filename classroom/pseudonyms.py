"""Pseudonyms in a published recording: one mapping of every user reference.

A replay package published with pseudonyms names nobody but the hosts, who
teach in their own name: every other user id becomes `pN` and every other
name "Participant N", the same N everywhere in the package. Each kind of
message the package can hold says where its user references are (`REFS`);
a kind without an entry is left out of a pseudonymised package altogether,
so a new kind of message cannot leak a name by being forgotten here. Free
text (chat, questions, answers, the words of a transcript) is the speakers'
own and is not rewritten.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

Payload = dict[str, Any]
Path = tuple[str, ...]


@dataclass(frozen=True)
class Refs:
    """Where a message holds user references."""

    ids: tuple[Path, ...] = ()
    """Paths to user ids."""
    names: tuple[tuple[Path, Path], ...] = ()
    """Paths to display names, each with the path to its owner's user id."""


NOBODY = Refs()
USER = Refs(ids=(("user_id",),))
PERSON = Refs(ids=(("user_id",),), names=((("name",), ("user_id",)),))
SENDER = Refs(ids=(("from", "user_id"),), names=((("from", "name"), ("from", "user_id")),))
AUTHOR = Refs(
    ids=(("question", "author", "user_id"),),
    names=((("question", "author", "name"), ("question", "author", "user_id")),),
)

REFS: dict[str, Refs] = {
    # live messages, as the timeline keeps them
    "chat:message": Refs(ids=(*SENDER.ids, ("to_user",)), names=SENDER.names),
    "participant:joined": Refs(
        ids=(*PERSON.ids, ("participant", "user_id")),
        names=(*PERSON.names, (("participant", "name"), ("participant", "user_id"))),
    ),
    "participant:left": USER,
    "participant:updated": USER,
    "hand:changed": USER,
    "reaction": USER,
    "class:ended": NOBODY,
    "class:locked": NOBODY,
    "recording:state": NOBODY,
    "recording:marker": NOBODY,
    "breakout:opened": NOBODY,
    "breakout:message": SENDER,
    "breakout:extended": NOBODY,
    "breakout:warning": NOBODY,
    "breakout:closing": NOBODY,
    "breakout:closed": NOBODY,
    "poll:opened": NOBODY,
    "poll:results_shown": NOBODY,
    "poll:closed": NOBODY,
    "poll:published": NOBODY,
    "poll:results": NOBODY,
    "qa:question": AUTHOR,
    "qa:updated": AUTHOR,
    "qa:votes": NOBODY,
    "qa:moderation": NOBODY,
    "rtc:track_published": USER,
    "rtc:track_unpublished": USER,
    "rtc:muted": Refs(ids=(("user_id",), ("by",))),
    "rtc:speaker": USER,
    "slides:view": NOBODY,
    "slides:state": NOBODY,  # its strokes do not say who drew them
    "slides:presenter": USER,
    "board:opened": NOBODY,
    "board:ink": USER,
    "board:erased": NOBODY,
    "board:cleared": NOBODY,
    # the timeline's own entries and the manifest's records
    "marker": NOBODY,
    "manifest:participant": PERSON,
    "manifest:track": USER,
    "transcript:cue": Refs(ids=(("user_id",),), names=((("speaker",), ("user_id",)),)),
}


class Pseudonyms:
    """The aliases of one package: the same person has the same pseudonym throughout."""

    def __init__(self, keep: frozenset[str] = frozenset()) -> None:
        self.keep = keep
        """User ids that stay as they are (the hosts)."""
        self.aliases: dict[str, str] = {}

    def user_id(self, real: str) -> str:
        if real in self.keep:
            return real
        if real not in self.aliases:
            self.aliases[real] = f"p{len(self.aliases) + 1}"
        return self.aliases[real]

    def name(self, owner: object, real: object) -> object:
        if isinstance(owner, str) and owner in self.keep:
            return real
        if not isinstance(owner, str):
            return "Someone"
        return f"Participant {self.user_id(owner)[1:]}"

    def message(self, kind: str, payload: Payload) -> Payload | None:
        """`payload` with every user reference replaced; None for a kind with no known refs."""
        refs = REFS.get(kind)
        if refs is None:
            return None
        out = copy.deepcopy(payload)
        for name_path, owner_path in refs.names:  # names first: they read their owner's real id
            owner = _get(payload, owner_path)
            _update(out, name_path, lambda real, owner=owner: self.name(owner, real))
        for path in refs.ids:
            _update(out, path, lambda real: self.user_id(real) if isinstance(real, str) else real)
        return out

    def record(self, kind: str, payload: Payload) -> Payload:
        """Like `message`, for the package's own records, whose kinds are always known."""
        out = self.message(kind, payload)
        if out is None:
            raise KeyError(kind)
        return out


def _get(payload: Payload, path: Path) -> object:
    value: object = payload
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _update(payload: Payload, path: Path, change: Any) -> None:
    """Replace the value at `path`, if there is one."""
    parent = _get(payload, path[:-1])
    if isinstance(parent, dict) and parent.get(path[-1]) is not None:
        parent[path[-1]] = change(parent[path[-1]])
