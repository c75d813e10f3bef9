"""A browser sent to a node that does not host its class follows `moved` to the one that does."""

from __future__ import annotations

from playwright.async_api import async_playwright

from tests.browser import CHROMIUM, CHROMIUM_ARGS
from tests.cluster import create_class
from tests.peer import Peer
from tests.process import ServerProcess
from tests.test_cluster import nodes, redis_server, token  # noqa: F401  (fixtures)

WAIT_MS = 30_000


async def test_the_page_follows_moved_to_the_hosting_node(nodes: list[ServerProcess]) -> None:  # noqa: F811
    hosting, other = nodes
    cid = await create_class(hosting.url)
    teacher = Peer(hosting.url, token(cid, "teacher", "host"))
    await teacher.connect()  # the first node asked hosts the class
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(permissions=["camera", "microphone"])
            page = await context.new_page()
            page.set_default_timeout(WAIT_MS)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            await page.goto(f"{other.url}/c/{cid}#token={token(cid, 'ana')}")
            await page.click("#join")
            # Moved: the page reloads from the hosting node, whose origin asks for devices anew.
            await page.wait_for_url(f"{hosting.url}/c/{cid}#token=*")
            await page.click("#join")
            await page.wait_for_selector("#class:not([hidden])")
            await teacher.wait_for("participant:joined", lambda d: d["user_id"] == "ana")
            assert errors == []
        finally:
            await browser.close()
            await teacher.close()
