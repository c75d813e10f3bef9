"""The `class:state` snapshot a client receives when it joins."""

from __future__ import annotations

from typing import Any

from classroom.aggregate import Classroom
from classroom.breakouts_wire import breakouts_view
from classroom.media_wire import tracks_view
from classroom.polls_wire import polls_view
from classroom.qa_wire import questions_view
from classroom.roles import is_staff
from classroom.slides_wire import slides_view
from classroom.visibility import Viewer, audience
from classroom.wire import Payload, chat_view, member_view


def snapshot(room: Classroom, viewer: Viewer, media: Payload) -> Payload:
    """Everything `viewer` may see right now; `media` comes from the SFU's config."""
    live = room.live
    me = live.members[viewer.user_id]
    chat = [chat_view(ev) for ev in live.recent_chat(viewer.room) if audience(ev).includes(viewer)]
    hands = [
        {"user_id": uid, "raised_at": ts}
        for uid, ts in live.hands.items()
        if live.members[uid].room == viewer.room
    ]
    participants = [member_view(m, live.hands.get(m.user_id)) for m in live.present()]
    out: dict[str, Any] = {
        "seq": room.seq,
        "class": {"id": live.class_id, "title": live.title},
        "you": {"user_id": me.user_id, "name": me.name, "role": me.role, "room": me.room},
        "participants": participants,
        "room": viewer.room,
        "chat": chat,
        "hands": hands,
        "polls": polls_view(room.polls, viewer),
        "questions": questions_view(room.qa, viewer),
        "qa": {"moderation": room.qa.moderation},
        "breakouts": breakouts_view(room.breakouts, live, viewer),
        "recording": room.recording.view(is_staff(viewer.role)),
        "media": media | {"mode": live.media},
        "tracks": tracks_view(room.media, live, viewer.room),
        "locks": {"publish": room.media.publish_open},
        "speaker": room.media.speakers.get(viewer.room),
        "slides": slides_view(room.slides, room.boards.of(viewer.room), viewer),
    }
    return out
