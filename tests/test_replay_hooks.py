"""A recording's stream and the webhook outbox: a question asked is posted once, even when the
server dies after the stream's journal write and before the outbox's."""

from __future__ import annotations

import time
from pathlib import Path

from classroom.replay import encode_polls
from hooks.outbox import DAY_MS, segment
from journal.files import SUFFIX
from signaling.auth import mint_replay
from tests.conftest import SECRET
from tests.peer import Peer
from tests.process import ServerProcess
from tests.replay_domain import QUIZ
from tests.replay_package import published_for_replay
from tests.test_webhooks import receiving
from tests.webhook_receiver import SECRET as HOOK_SECRET


def break_the_outbox(data_dir: Path) -> list[Path]:
    """A failing disk for the outbox only: its files for today and tomorrow are directories,
    so every append to it fails (the server runs as any user, root included)."""
    now = int(time.time() * 1000)
    paths = [data_dir / "webhooks" / f"{segment(now + d * DAY_MS)}{SUFFIX}" for d in (0, 1)]
    for path in paths:
        path.mkdir(parents=True)
    return paths


async def test_a_question_survives_a_crash_before_the_outbox(tmp_path: Path) -> None:
    published_for_replay(tmp_path, "r-crash", encode_polls([QUIZ]))
    async with receiving() as receiver:
        server = ServerProcess(tmp_path, "--webhook", receiver.url, "--webhook-secret", HOOK_SECRET)
        await server.start()
        try:
            broken = break_the_outbox(tmp_path)
            ann = Peer(server.url, mint_replay(SECRET, "r-crash", "ann", "Ann", "viewer"))
            await ann.connect(expect="replay:state")
            asked = await ann.call("replay:ask", {"text": "Why?", "at_ms": 61_000})
            assert asked["ok"]
            # The question is in the stream's journal (it was acknowledged); the outbox
            # refuses it: the server dies right there.
            while "r-crash: cannot enqueue yet" not in "".join(server.lines):
                await server.read_line()
            await ann.close()
            await server.kill()
            assert receiver.tries == []
            for path in broken:
                path.rmdir()
            await server.start()  # rebuilds the stream it hosted, whose follower catches up
            await receiver.wait_types("replay.question_asked")
            bob = Peer(server.url, mint_replay(SECRET, "r-crash", "bob", "Bob", "viewer"))
            await bob.connect(expect="replay:state")
            assert (await bob.call("replay:ask", {"text": "And?", "at_ms": 0}))["ok"]
            await receiver.wait_until(lambda: len(receiver.accepted()) == 2)
            await bob.close()
        finally:
            await server.stop()
    assert all(n == 1 for n in receiver.accepted().values()), receiver.accepted()
    texts = [d.body["data"]["question"]["text"] for d in receiver.tries if d.answered == 200]
    assert texts == ["Why?", "And?"]
    first = next(d.body for d in receiver.tries if d.answered == 200)
    assert first["data"]["question"]["id"] == asked["question_id"]
    assert first["id"] == f"msg_replay_r-crash_{first['data']['seq']}"
