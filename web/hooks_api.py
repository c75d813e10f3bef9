"""Webhooks in the application: started with the classes, and their delivery log over REST.

`GET /api/webhooks/deliveries[?limit=N]` (admin key): the outbox's messages,
newest first, each with its deliveries and their last tries.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import msgspec
from aiohttp import web

from hooks.service import DeliveryLog, HooksConfig, Webhooks
from web.api import query_of, require_admin
from web.keys import RECORDER, REGISTRY, REPLAYS, SETTINGS

WEBHOOKS = web.AppKey("webhooks", Webhooks)


class DeliveriesQuery(msgspec.Struct):
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100


async def webhooks(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context, after the classes': follow every class, deliver, stop."""
    settings = app[SETTINGS]
    if not settings.webhook_urls:
        yield
        return
    registry = app[REGISTRY]
    config = HooksConfig(
        settings.webhook_urls,
        settings.webhook_secret,
        settings.data_dir / "webhooks",
        settings.redis_url,
        settings.node_base_url,
        settings.lease_ttl_ms,
        settings.webhook_retry_delays_s,
    )
    hooks = Webhooks(config, registry.journal)
    await hooks.start()
    app[WEBHOOKS] = hooks
    registry.on_runtime.append(hooks.attach)
    # Classes loaded before now are followed too; their catch-up reads what they missed.
    for runtime in list(registry.runtimes.values()):
        hooks.attach(runtime)
    app[RECORDER].publisher.on_published.append(hooks.published)
    app[REPLAYS].on_runtime.append(hooks.attach_replay)
    for stream in list(app[REPLAYS].runtimes.values()):
        hooks.attach_replay(stream)
    yield
    await hooks.close()


async def deliveries(request: web.Request) -> web.Response:
    require_admin(request)
    query = query_of(request, DeliveriesQuery)
    hooks = request.app.get(WEBHOOKS)
    log = DeliveryLog([], []) if hooks is None else await hooks.deliveries(query.limit)
    return web.Response(body=msgspec.json.encode(log), content_type="application/json")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/webhooks/deliveries", deliveries)
    app.cleanup_ctx.append(webhooks)
