"""`classroom webhook test`: one signed `webhook.test` to each URL, now, without the outbox."""

from __future__ import annotations

import time

from hooks import sender
from hooks.payloads import test_message


async def send_test(urls: tuple[str, ...], secret: str) -> bool:
    """Post to each URL and print what it answered; True if every one answered 2xx."""
    sign = sender.signer(secret)
    msg = test_message(int(time.time() * 1000))
    ok = True
    async with sender.session() as http:
        for url in urls:
            to = sender.endpoint(url)
            result = await sender.post(http, sign, to, msg)
            said = f"HTTP {result.status}" if result.status is not None else result.error
            print(f"{to.shown}: {'delivered' if result.ok else 'failed'} ({said}) id {msg.id}")
            ok = ok and result.ok
    return ok
