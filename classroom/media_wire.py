"""How media state and events look to clients.

`rtc:tracks {room, seq, tracks}` is the full list of what is published in one
room; the SFU sends it whenever that list changes (a track starts or stops, a
source is muted, someone moves room) and the snapshot holds the same list.
The per-event messages below (`rtc:track_published` ...) are what the journal
remembers, as reconnect catch-up and the replay timeline show it.
"""

from __future__ import annotations

from typing import Any

from classroom import events as e
from classroom.live import Live
from classroom.media_state import MediaState, Track

Payload = dict[str, Any]

MEDIA_EVENTS = (
    e.TrackPublished,
    e.TrackUnpublished,
    e.MediaMuted,
    e.PublishLockSet,
    e.SpeakerChanged,
)


def track_view(track: Track, muted: bool) -> Payload:
    return {
        "track_id": track.track_id,
        "user_id": track.user_id,
        "kind": track.kind,
        "source": track.source,
        "muted": muted,
    }


def tracks_view(media: MediaState, live: Live, room: str) -> list[Payload]:
    return [track_view(t, media.is_muted(t.user_id, t.source)) for t in media.in_room(live, room)]


def tracks_message(media: MediaState, live: Live, room: str, seq: int) -> Payload:
    return {"room": room, "seq": seq, "tracks": tracks_view(media, live, room)}


def media_wire(ev: e.Event) -> tuple[str, Payload] | None:
    head: Payload = {"seq": ev.seq, "ts": ev.ts}
    match ev:
        case e.TrackPublished():
            track = Track(ev.track_id, ev.user_id, ev.kind, ev.source)
            return "rtc:track_published", head | {"room": ev.room, **track_view(track, ev.muted)}
        case e.TrackUnpublished():
            body: Payload = {"track_id": ev.track_id, "user_id": ev.user_id, "reason": ev.reason}
            return "rtc:track_unpublished", head | body
        case e.MediaMuted():
            muted: Payload = {"user_id": ev.user_id, "source": ev.source, "muted": ev.muted}
            return "rtc:muted", head | muted | {"by": ev.actor}
        case e.PublishLockSet():
            return "class:locked", head | {"publish": ev.publish}
        case e.SpeakerChanged():
            return "rtc:speaker", head | {"room": ev.room, "user_id": ev.user_id}
    return None
