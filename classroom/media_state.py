"""Media as the class sees it: published tracks, muted sources, the publish lock, speakers.

Peer connections are not here (they live in `media/` on the node that hosts
the class); this is what the journal remembers and the replay shows: when
each track started and stopped, who was muted, who spoke.

A track belongs to its publisher, so it is in whatever room its publisher is
in: a room move needs no media event.

A video track may have a second, low layer: the same picture, smaller, sent
by its publisher on an m-line of its own for small tiles. It is a layer of
that track, not a track: it has the track's id, no event of its own, and the
SFU forwards whichever layer each subscriber shows.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from classroom import commands as c
from classroom import events as e
from classroom.dispatch import handles
from classroom.errors import DomainError
from classroom.live import Context, Live, Member
from classroom.roles import is_staff

if TYPE_CHECKING:
    from classroom.aggregate import Classroom

MAX_TRACKS_PER_USER = 4
SOURCE_KINDS: dict[e.TrackSource, frozenset[e.TrackKind]] = {
    "camera": frozenset({"video"}),
    "mic": frozenset({"audio"}),
    "screen": frozenset({"video", "audio"}),
}


@dataclass(frozen=True)
class Track:
    track_id: str
    user_id: str
    kind: e.TrackKind
    source: e.TrackSource


@dataclass(frozen=True)
class NewTrack:
    """A track a publisher offers; `key` is how the SFU names it (the SDP mid).

    With `layer="low"` it is the low layer of the same source's video track,
    published with it or before it."""

    key: str
    kind: e.TrackKind
    source: e.TrackSource
    layer: c.Layer = "high"


@dataclass
class MediaState:
    tracks: dict[str, Track] = field(default_factory=dict)
    """track id -> track, in publication order."""
    muted: set[tuple[str, e.TrackSource]] = field(default_factory=set)
    publish_open: bool = True
    speakers: dict[str, str] = field(default_factory=dict)
    """room -> the user speaking there now."""

    # -- queries ---------------------------------------------------------

    def may_publish(self, member: Member) -> bool:
        return self.publish_open or is_staff(member.role)

    def is_muted(self, user_id: str, source: e.TrackSource) -> bool:
        return (user_id, source) in self.muted

    def of_user(self, user_id: str) -> list[Track]:
        return [t for t in self.tracks.values() if t.user_id == user_id]

    def in_room(self, live: Live, room: str) -> list[Track]:
        """The tracks published in `room`: those whose publisher is there now."""
        return [
            t
            for t in self.tracks.values()
            if (m := live.members.get(t.user_id)) is not None and m.present and m.room == room
        ]

    # -- commands --------------------------------------------------------

    def check_publish(
        self,
        actor: Member,
        offered: list[NewTrack],
        layered: Collection[e.TrackSource] = (),
    ) -> None:
        """Refuse tracks the actor may not publish now (checked again when they are);
        `layered`: the actor's sources that already have a low layer."""
        if not self.may_publish(actor):
            raise DomainError("forbidden", "the host has not allowed participants to publish")
        mine = self.of_user(actor.user_id)
        taken = {(t.source, t.kind) for t in mine}
        tracks = [t for t in offered if t.layer == "high"]
        for new in tracks:
            if new.kind not in SOURCE_KINDS[new.source]:
                raise DomainError("bad_request", f"a {new.source} track cannot be {new.kind}")
            if (new.source, new.kind) in taken:
                raise DomainError("conflict", f"you already publish {new.kind} from {new.source}")
            taken.add((new.source, new.kind))
        if len(mine) + len(tracks) > MAX_TRACKS_PER_USER:
            raise DomainError("conflict", f"at most {MAX_TRACKS_PER_USER} tracks per user")
        low = set(layered)
        for new in offered:
            if new.layer == "high":
                continue
            if new.kind != "video" or (new.source, "video") not in taken:
                needs = f"a low layer needs its {new.source} video, sent with it or before"
                raise DomainError("bad_request", needs)
            if new.source in low:
                raise DomainError("conflict", f"your {new.source} video already has a low layer")
            low.add(new.source)

    def publish(
        self,
        actor: Member,
        offered: list[NewTrack],
        new_id: Callable[[], str],
        layered: Collection[e.TrackSource] = (),
    ) -> tuple[list[e.Event], dict[str, str]]:
        """Events for newly published tracks, and each offered key's track id (a low
        layer's is the id of the track it is a layer of)."""
        self.check_publish(actor, offered, layered)
        events: list[e.Event] = []
        ids: dict[str, str] = {}
        for new in offered:
            if new.layer != "high":
                continue
            ids[new.key] = track_id = new_id()
            events.append(
                e.TrackPublished(
                    actor=actor.user_id,
                    track_id=track_id,
                    user_id=actor.user_id,
                    kind=new.kind,
                    source=new.source,
                    room=actor.room,
                    muted=self.is_muted(actor.user_id, new.source),
                )
            )
        videos = {t.source: t.track_id for t in self.of_user(actor.user_id) if t.kind == "video"}
        videos |= {t.source: ids[t.key] for t in offered if t.layer == "high" and t.kind == "video"}
        for new in offered:
            if new.layer != "high":
                ids[new.key] = videos[new.source]
        return events, ids

    def unpublish(
        self, live: Live, track_ids: list[str], reason: str, actor: str = ""
    ) -> list[e.Event]:
        out: list[e.Event] = []
        for track_id in track_ids:
            track = self.tracks.get(track_id)
            if track is None:
                continue
            member = live.members.get(track.user_id)
            room = member.room if member is not None else e.MAIN_ROOM
            out.append(
                e.TrackUnpublished(
                    actor=actor or track.user_id,
                    track_id=track_id,
                    user_id=track.user_id,
                    room=room,
                    reason=reason,
                )
            )
        return out

    def leave(self, live: Live, user_id: str) -> list[e.Event]:
        return self.unpublish(live, [t.track_id for t in self.of_user(user_id)], "left")

    def mute(
        self, actor: Member, target: Member, source: e.TrackSource, muted: bool
    ) -> list[e.Event]:
        if self.is_muted(target.user_id, source) == muted:
            return []
        return [
            e.MediaMuted(
                actor=actor.user_id,
                user_id=target.user_id,
                source=source,
                muted=muted,
                room=target.room,
            )
        ]

    def lock(self, live: Live, actor: Member, publish: bool) -> list[e.Event]:
        """Set the publish lock; closing it unpublishes every participant's tracks."""
        if publish == self.publish_open:
            return []
        out: list[e.Event] = [e.PublishLockSet(actor=actor.user_id, publish=publish)]
        if not publish:
            stopped = [
                t.track_id
                for t in self.tracks.values()
                if (m := live.members.get(t.user_id)) is None or not is_staff(m.role)
            ]
            out += self.unpublish(live, stopped, "locked", actor.user_id)
        return out

    def speaker(self, live: Live, room: str, user_id: str | None) -> list[e.Event]:
        if self.speakers.get(room) == user_id:
            return []
        if user_id is not None:
            member = live.members.get(user_id)
            if member is None or not member.present or member.room != room:
                return []
        return [e.SpeakerChanged(room=room, user_id=user_id)]

    # -- events ----------------------------------------------------------

    def apply(self, ev: e.Event) -> None:
        match ev:
            case e.TrackPublished():
                self.tracks[ev.track_id] = Track(ev.track_id, ev.user_id, ev.kind, ev.source)
            case e.TrackUnpublished():
                self.tracks.pop(ev.track_id, None)
            case e.MediaMuted(muted=True):
                self.muted.add((ev.user_id, ev.source))
            case e.MediaMuted():
                self.muted.discard((ev.user_id, ev.source))
            case e.PublishLockSet():
                self.publish_open = ev.publish
            case e.SpeakerChanged(user_id=None):
                self.speakers.pop(ev.room, None)
            case e.SpeakerChanged():
                self.speakers[ev.room] = ev.user_id or ""
            case e.ParticipantLeft():
                # Journals written before tracks were unpublished on leave.
                for track in self.of_user(ev.user_id):
                    del self.tracks[track.track_id]
                self._forget_speaker(ev.user_id)
            case e.ClassEnded():
                self.tracks.clear()
                self.speakers.clear()

    def _forget_speaker(self, user_id: str) -> None:
        for room in [r for r, u in self.speakers.items() if u == user_id]:
            del self.speakers[room]


@handles(c.MediaMute)
def _mute(room: Classroom, actor: Member, cmd: c.MediaMute, ctx: Context) -> list[e.Event]:
    return room.media.mute(actor, actor, cmd.source, cmd.muted)


@handles(c.MediaMuteUser)
def _mute_user(room: Classroom, actor: Member, cmd: c.MediaMuteUser, ctx: Context) -> list[e.Event]:
    return room.media.mute(actor, room.live.member(cmd.user_id), cmd.source, True)


@handles(c.ClassLock)
def _lock(room: Classroom, actor: Member, cmd: c.ClassLock, ctx: Context) -> list[e.Event]:
    return room.media.lock(room.live, actor, cmd.publish)
