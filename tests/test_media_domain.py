"""Pure tests of media as the class remembers it: tracks, mutes, the publish lock, speakers."""

from __future__ import annotations

import pytest

from classroom import commands as c
from classroom import events as e
from classroom.aggregate import Classroom
from classroom.errors import DomainError
from classroom.media_state import NewTrack
from classroom.media_wire import tracks_view
from classroom.snapshot import snapshot
from classroom.visibility import Viewer, audience
from classroom.wire import to_wire
from tests.domain import Harness


@pytest.fixture
def h() -> Harness:
    h = Harness()
    h.join("teach", "host")
    h.join("ann")
    h.join("ben")
    return h


def publish(h: Harness, user: str, *tracks: tuple[str, e.TrackKind, e.TrackSource]) -> list[str]:
    member = h.room.live.members[user]
    offered = [NewTrack(key, kind, source) for key, kind, source in tracks]
    events, ids = h.room.media.publish(member, offered, h.ctx().new_id)
    h.commit(events)
    return [ids[key] for key, _, _ in tracks]


def test_publish_and_the_room_list(h: Harness) -> None:
    cam, mic = publish(h, "ann", ("0", "video", "camera"), ("1", "audio", "mic"))
    assert [t["track_id"] for t in tracks_view(h.room.media, h.room.live, "main")] == [cam, mic]
    name, payload = to_wire(h.history[-2]) or ("", {})
    assert name == "rtc:track_published"
    assert payload | {"seq": 0, "ts": 0} == {
        "seq": 0,
        "ts": 0,
        "room": "main",
        "track_id": cam,
        "user_id": "ann",
        "kind": "video",
        "source": "camera",
        "muted": False,
    }
    assert audience(h.history[-1]).includes(Viewer("ben", "participant", "main"))
    assert not audience(h.history[-1]).includes(Viewer("ben", "participant", "b-1"))


@pytest.mark.parametrize(
    ("tracks", "code"),
    [
        ([("0", "audio", "camera")], "bad_request"),
        ([("0", "video", "mic")], "bad_request"),
        ([("0", "video", "camera"), ("1", "video", "camera")], "conflict"),
        ([(str(i), "video", "screen") for i in range(2)], "conflict"),
    ],
)
def test_refused_publications(h: Harness, tracks: list[tuple[str, str, str]], code: str) -> None:
    with pytest.raises(DomainError) as refused:
        publish(h, "ann", *tracks)  # type: ignore[arg-type]
    assert refused.value.code == code
    assert h.room.media.tracks == {}


def test_a_low_layer_is_a_layer_of_its_video_not_a_track(h: Harness) -> None:
    ann = h.room.live.members["ann"]
    offered = [
        NewTrack("0", "video", "camera"),
        NewTrack("1", "video", "camera", "low"),
        NewTrack("2", "audio", "mic"),
        NewTrack("3", "video", "screen"),
        NewTrack("4", "audio", "screen"),
    ]
    events, ids = h.room.media.publish(ann, offered, h.ctx().new_id)
    h.commit(events)
    assert ids["1"] == ids["0"] and len(h.room.media.tracks) == 4  # at most 4, and not counted
    # A later low layer of a video published before: the id of that video.
    _, later = h.room.media.publish(ann, [NewTrack("5", "video", "screen", "low")], h.ctx().new_id)
    assert later == {"5": ids["3"]}


@pytest.mark.parametrize(
    ("tracks", "layered", "code"),
    [
        ([NewTrack("0", "video", "camera", "low")], (), "bad_request"),
        ([NewTrack("0", "audio", "mic"), NewTrack("1", "audio", "mic", "low")], (), "bad_request"),
        (
            [
                NewTrack("0", "video", "camera"),
                *[NewTrack(k, "video", "camera", "low") for k in "12"],
            ],
            (),
            "conflict",
        ),
        (
            [NewTrack("0", "video", "camera"), NewTrack("1", "video", "camera", "low")],
            ("camera",),
            "conflict",
        ),
    ],
)
def test_refused_layers(
    h: Harness, tracks: list[NewTrack], layered: tuple[e.TrackSource, ...], code: str
) -> None:
    with pytest.raises(DomainError) as refused:
        h.room.media.publish(h.room.live.members["ann"], tracks, h.ctx().new_id, layered)
    assert refused.value.code == code


def test_leaving_unpublishes_before_the_leave(h: Harness) -> None:
    (cam,) = publish(h, "ann", ("0", "video", "camera"))
    events = h.commit(h.room.leave("ann", "disconnected"))
    assert [type(ev) for ev in events] == [e.TrackUnpublished, e.ParticipantLeft]
    assert h.room.media.tracks == {}
    assert isinstance(events[0], e.TrackUnpublished) and events[0].track_id == cam
    assert events[0].reason == "left"


def test_mutes_are_idempotent_and_only_staff_mute_others(h: Harness) -> None:
    (mic,) = publish(h, "ann", ("0", "audio", "mic"))
    assert len(h.do("ann", c.MediaMute(source="mic", muted=True))) == 1
    assert h.do("ann", c.MediaMute(source="mic", muted=True)) == []
    assert tracks_view(h.room.media, h.room.live, "main")[0]["muted"]
    with pytest.raises(DomainError) as refused:
        h.do("ben", c.MediaMuteUser(user_id="ann", source="mic"))
    assert refused.value.code == "forbidden"
    h.do("ann", c.MediaMute(source="mic", muted=False))
    (muted,) = h.do("teach", c.MediaMuteUser(user_id="ann", source="mic"))
    assert isinstance(muted, e.MediaMuted) and muted.actor == "teach" and muted.muted
    # A mute outlives the track: the next mic is published muted.
    h.commit(h.room.media.unpublish(h.room.live, [mic], "stopped"))
    publish(h, "ann", ("0", "audio", "mic"))
    assert tracks_view(h.room.media, h.room.live, "main")[0]["muted"]


def test_the_publish_lock(h: Harness) -> None:
    publish(h, "ann", ("0", "video", "camera"))
    (host_cam,) = publish(h, "teach", ("0", "video", "camera"))
    with pytest.raises(DomainError):
        h.do("ann", c.ClassLock(publish=False))
    events = h.do("teach", c.ClassLock(publish=False))
    assert [type(ev) for ev in events] == [e.PublishLockSet, e.TrackUnpublished]
    assert list(h.room.media.tracks) == [host_cam]
    with pytest.raises(DomainError) as refused:
        publish(h, "ann", ("0", "video", "camera"))
    assert refused.value.code == "forbidden"
    assert h.do("teach", c.ClassLock(publish=False)) == []
    snap = snapshot(h.room, Viewer("ann", "participant"), {"mode": "sfu", "ice_servers": []})
    assert snap["locks"] == {"publish": False}
    assert [t["track_id"] for t in snap["tracks"]] == [host_cam]
    h.do("teach", c.ClassLock(publish=True))
    publish(h, "ann", ("0", "video", "camera"))


def test_speakers(h: Harness) -> None:
    assert h.room.media.speaker(h.room.live, "main", "ghost") == []
    h.commit(h.room.media.speaker(h.room.live, "main", "ann"))
    assert h.room.media.speaker(h.room.live, "main", "ann") == []
    snap = snapshot(h.room, Viewer("ben", "participant"), {"mode": "sfu", "ice_servers": []})
    assert snap["speaker"] == "ann"
    h.commit(h.room.leave("ann", "left"))
    assert "main" not in h.room.media.speakers


def test_media_state_is_the_fold_of_the_journal(h: Harness) -> None:
    publish(h, "ann", ("0", "video", "camera"), ("1", "audio", "mic"))
    h.do("ann", c.MediaMute(source="mic", muted=True))
    h.do("teach", c.ClassLock(publish=False))
    rebuilt = Classroom.replay(e.decode(e.encode(ev)) for ev in h.history)
    assert rebuilt.media == h.room.media
