"""Media workers with real browsers: a worker killed mid-class, its pages' video comes back."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from media.node import MediaNode
from media.workers import RemoteDownlink
from tests.browser import BrowserEnv, browser_env, env, reported  # noqa: F401  (fixtures)
from web.keys import MEDIA

pytestmark = pytest.mark.asyncio(loop_scope="module")
SERVER_OPTIONS = {"media_workers": 2}
NEW_SUB = "() => Boolean(window.__classroom.sub) && window.__classroom.sub !== window.__oldSub"


@reported
async def test_a_killed_media_worker_and_the_video_comes_back(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Physics")
    people = dict(
        zip(
            ("teacher", "ana", "ben"),
            await asyncio.gather(
                env.join(cid, "teacher", "host", "Mr Okoye"),
                env.join(cid, "ana", name="Ana Lima"),
                env.join(cid, "ben", name="Ben Cho"),
            ),
            strict=True,
        )
    )
    await asyncio.gather(*(p.wait_videos(2) for p in people.values()))
    node: MediaNode = env.server.app[MEDIA]
    assert node.pool is not None
    sfu = node.sfus[cid]
    placed = {user: sfu.people[user].sub for user in people}
    assert all(isinstance(d, RemoteDownlink) for d in placed.values())
    victim = next(w for w in node.pool.workers if w.downlinks)
    assert {d.worker for d in placed.values()} == set(node.pool.workers)  # spread over both
    hit = [
        user for user, d in placed.items() if isinstance(d, RemoteDownlink) and d.worker is victim
    ]
    for user in hit:
        await people[user].page.evaluate("() => { window.__oldSub = window.__classroom.sub; }")
    assert victim.pid is not None
    os.kill(victim.pid, signal.SIGKILL)
    for user in hit:  # a new sub connection, made by the page itself, and video again
        await people[user].page.wait_for_function(NEW_SUB)
        await people[user].wait_videos(2)
    for person in people.values():
        assert person.errors == []
