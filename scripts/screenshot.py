"""Take the README screenshot: a demo class with a few people chatting.

Usage: .venv/bin/python scripts/screenshot.py docs/screenshot.png
Starts a demo server on a free loopback port in a temporary data dir.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from playwright.async_api import async_playwright

from signaling.auth import mint
from tests.peer import Peer
from tests.process import ServerProcess

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--disable-background-networking",
    "--disable-component-update",
]


async def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(Path(tmp))
        await server.start("--demo")
        host_link = (await server.read_line()).split("host link:")[1].strip()
        secret = (Path(tmp) / "secret").read_text().strip()
        peers = [Peer(server.url, mint(secret, "demo", u, n, "participant"))
                 for u, n in (("ana", "Ana Souza"), ("li", "Li Wei"))]
        for peer in peers:
            await peer.connect()
        await peers[0].call("chat:send", {"text": "Good morning! Is the recording on?"})
        await peers[1].call("hand:raise", {})
        await peers[1].call("chat:send", {"text": "Can we go over exercise 3 again?"})
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1100, "height": 640})
            await page.goto(host_link)
            await page.wait_for_selector("#chat li >> nth=1")
            await page.screenshot(path=str(out))
            await browser.close()
        for peer in peers:
            await peer.close()
        await server.stop()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshot.png")))
