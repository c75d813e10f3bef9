"""Every inbound event, every role: the role table is enforced over the wire.

The expected roles are written out here on purpose, independently of
classroom/roles.py, so a change to the grants table has to change this too.
"""

from __future__ import annotations

from typing import Any

import pytest

from signaling.schemas import INBOUND
from tests.conftest import Server
from web.keys import GATEWAY

ALL = frozenset({"host", "moderator", "participant"})
STAFF = frozenset({"host", "moderator"})
HOST = frozenset({"host"})

# event -> (a valid payload, the roles allowed to send it). "target" is a participant.
TABLE: dict[str, tuple[dict[str, Any], frozenset[str]]] = {
    "chat:send": ({"text": "hello"}, ALL),
    "hand:raise": ({}, ALL),
    "hand:lower": ({"user_id": "target"}, STAFF),
    "reaction:send": ({"emoji": "🎉"}, ALL),
    "participant:set_role": ({"user_id": "target", "role": "moderator"}, HOST),
    "class:end": ({}, HOST),
    "breakout:plan": ({"count": 2, "assignment": "random"}, STAFF),
    "breakout:discard": ({}, STAFF),
    "breakout:open": ({"count": 2, "assignment": "random"}, STAFF),
    "breakout:assign": ({"user_id": "target", "room_id": "main"}, STAFF),
    "breakout:choose": ({"room_id": "main"}, ALL),
    "breakout:visit": ({"room_id": "main"}, STAFF),
    "breakout:broadcast": ({"text": "hello rooms"}, STAFF),
    "breakout:help": ({}, ALL),
    "breakout:extend": ({"seconds": 60}, STAFF),
    "breakout:close": ({}, STAFF),
    "poll:create": ({"question": "Ready?", "kind": "truefalse"}, STAFF),
    "poll:open": ({"poll_id": "p1"}, STAFF),
    "poll:vote": ({"poll_id": "p1", "answer": [0]}, ALL),
    "poll:close": ({"poll_id": "p1"}, STAFF),
    "poll:show_results": ({"poll_id": "p1"}, STAFF),
    "poll:publish": ({"poll_id": "p1"}, STAFF),
    "poll:export": ({"poll_id": "p1"}, STAFF),
    "poll:leaderboard": ({}, STAFF),
    "qa:ask": ({"text": "Why?"}, ALL),
    "qa:upvote": ({"question_id": "q1"}, ALL),
    "qa:unvote": ({"question_id": "q1"}, ALL),
    "qa:approve": ({"question_id": "q1"}, STAFF),
    "qa:dismiss": ({"question_id": "q1"}, STAFF),
    "qa:pin": ({"question_id": "q1"}, STAFF),
    "qa:answer": ({"question_id": "q1", "text": "Because."}, STAFF),
    "qa:moderation": ({"on": True}, STAFF),
    "recording:start": ({}, HOST),
    "recording:pause": ({}, HOST),
    "recording:resume": ({}, HOST),
    "recording:marker": ({"title": "Chapter"}, HOST),
    "recording:stop": ({}, HOST),
    "rtc:publish": ({"sdp": "v=0", "type": "offer"}, ALL),
    "rtc:answer": ({"sdp": "v=0", "type": "answer"}, ALL),
    "rtc:candidate": ({"pc": "pub", "candidate": None}, ALL),
    "rtc:subscribe": ({"track_ids": []}, ALL),
    "rtc:unsubscribe": ({"track_ids": []}, ALL),
    "rtc:view": ({"tracks": [], "audio_only": True}, ALL),
    "rtc:signal": ({"to": "target", "data": {}}, ALL),
    "rtc:mute": ({"source": "mic", "muted": True}, ALL),
    "rtc:mute_user": ({"user_id": "target", "source": "mic"}, STAFF),
    "class:lock": ({"publish": True}, STAFF),
    "slides:show": ({"page": 2}, HOST),
    "slides:presenter": ({"user_id": "target"}, HOST),
    "slides:decks": ({}, HOST),
    "board:open": ({"everyone": True}, HOST),
    "board:draw": (
        {"stroke": "s-0001", "points": [1, 2, 3, 4], "tool": "pen", "color": "#aa0000", "width": 8},
        STAFF,
    ),
    "board:erase": ({"strokes": ["s-0001"]}, STAFF),
    "board:undo": ({}, STAFF),
    "board:clear": ({}, STAFF),
}


def test_the_table_covers_every_inbound_event(msgpack_server: Server) -> None:
    routed = set(msgpack_server.app[GATEWAY].routes)
    assert set(INBOUND) | routed <= set(TABLE)


@pytest.mark.parametrize("event", sorted(TABLE))
async def test_roles(msgpack_server: Server, event: str) -> None:
    payload, allowed = TABLE[event]
    cid = await msgpack_server.create_class()
    await msgpack_server.join(cid, "target")
    peers = {role: await msgpack_server.join(cid, f"a-{role}", role) for role in sorted(ALL)}
    # Refusals first: a refused command must leave the class as it was.
    order = sorted(ALL, key=lambda role: role in allowed)
    for role in order:
        ack = await peers[role].call(event, payload)
        if role in allowed:
            assert ack.get("error", {}).get("code") != "forbidden", (event, role, ack)
        else:
            assert ack["ok"] is False and ack["error"]["code"] == "forbidden", (event, role)
