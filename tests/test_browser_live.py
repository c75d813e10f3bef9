"""The classroom page in a real browser: three people join, see each other, and take part."""

from __future__ import annotations

import asyncio

import pytest

from tests.browser import BrowserEnv, browser_env, env  # noqa: F401  (fixtures)

pytestmark = pytest.mark.asyncio(loop_scope="module")
TILES = "#grid .tile, #spotlight .tile"


async def test_three_people_see_and_hear_each_other(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Biology")
    host, ana, ben = await asyncio.gather(
        env.join(cid, "teacher", "host", "Ms Rivera"),
        env.join(cid, "ana", name="Ana Souza"),
        env.join(cid, "ben", name="Ben Okafor"),
    )
    for person in (host, ana, ben):
        await person.page.wait_for_function(f"document.querySelectorAll('{TILES}').length === 3")
    # Each sees the other two's video playing (frames decoded on the sub connection).
    await asyncio.gather(*(p.wait_videos(2) for p in (host, ana, ben)))

    await ana.page.fill("#chat-input", "Hello everyone")
    await ana.page.press("#chat-input", "Enter")
    for person in (host, ana, ben):
        await person.wait_text("#chat .text", "Hello everyone")
    for person in (host, ana, ben):
        assert person.csp_violations() == []
        assert person.errors == []
