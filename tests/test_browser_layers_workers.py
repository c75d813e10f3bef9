"""The page's gallery and layers again, with its `sub` connection in a media worker process
(what `classroom serve` does by default: one worker per core)."""

from __future__ import annotations

import pytest

from media.workers import RemoteDownlink
from tests.browser import BrowserEnv, browser_env, env, reported  # noqa: F401  (fixtures)
from tests.test_browser_layers import (  # noqa: F401  (collected here too, with these options)
    sfu_of,
    test_the_gallery_receives_its_page_and_what_is_on_screen,
    until,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")
SERVER_OPTIONS = {"media_workers": 2}


@reported
async def test_the_pages_here_are_served_by_media_workers(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class("Workers")
    await env.join(cid, "teacher", "host", "Mr Okoye")
    await env.join(cid, "ana", name="Ana Lima")
    sfu = sfu_of(env, cid)
    in_workers = ("teacher", "ana")
    await until(
        lambda: all(
            isinstance(getattr(sfu.people.get(u), "sub", None), RemoteDownlink) for u in in_workers
        ),
        "both sub connections in workers",
    )
