"""The aiohttp application: Socket.IO, the REST API and the pages, built but not run."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import redis.asyncio as redis
import socketio
from aiohttp import web

from classroom.events import Event
from journal import Journal, JournalError, open_journal
from journal.hosted import HostedSet
from journal.streams import durability_problems
from media import routes as media_routes
from media.ice import IceConfig
from media.metrics import MediaCollector
from media.node import MediaNode
from recorder.publish import Publisher
from recorder.service import Recorder
from recorder.speech import ModelChoice
from recorder.store import RecordingStore
from recorder.transcribe import Captions
from signaling import eio_writer
from signaling.addresses import networks
from signaling.auth import check_secret
from signaling.breakout_timer import BreakoutTimer
from signaling.cluster import LeaseOwnership, LocalOwnership
from signaling.coalesce import attach_polls
from signaling.fanout import FanoutManager
from signaling.frames import JsonFrame, MsgPackFrame
from signaling.gateway import Admission, Gateway
from signaling.metrics import Metrics
from signaling.registry import Registry
from signaling.replay_host import ReplayHost, is_stream
from signaling.runtime import ClassRuntime
from slides.store import DeckStore
from web import (
    api,
    console_api,
    hooks_api,
    lti_api,
    openapi,
    pages,
    polls_api,
    recordings_api,
    replay_api,
    reports_api,
    slides_api,
)
from web.keys import (
    GATEWAY,
    MEDIA,
    METRICS,
    RECORDER,
    RECORDING_REPORTS,
    REGISTRY,
    REPLAYS,
    SETTINGS,
)
from web.replay_reports import RecordingReports
from web.replay_source import StoredRecordings
from web.settings import Settings

log = logging.getLogger(__name__)

MAX_FRAME = 64 * 1024
REPLAY_KEYS = "classroom:replay"
"""The Redis key prefix of the recordings' streams (the classes' is "classroom")."""
"""Largest Socket.IO frame accepted; bigger frames close that socket."""


def ice_config(settings: Settings) -> IceConfig:
    """Where the SFU gathers and what it announces, and the servers clients are told of."""
    return IceConfig(
        settings.media_host,
        settings.media_announce,
        list(settings.ice_servers),
        settings.media_allow_private,
    )


def media_config(settings: Settings) -> dict[str, object]:
    return {"mode": "sfu", "ice_servers": list(settings.ice_servers)}


JournalLayer = Callable[[Journal], Journal]
"""Wraps the configured journal (a fault-injecting one in tests, say)."""


def create_app(settings: Settings, journal_layer: JournalLayer | None = None) -> web.Application:
    check_secret(settings.secret)
    app = web.Application(middlewares=[pages.security_headers])
    sio = socketio.AsyncServer(
        client_manager=FanoutManager(),
        async_mode="aiohttp",
        serializer=MsgPackFrame if settings.wire == "msgpack" else JsonFrame,
        max_http_buffer_size=MAX_FRAME,
        ping_interval=settings.ping_interval_s,
        ping_timeout=settings.ping_timeout_s,
        logger=False,
        engineio_logger=False,
    )
    sio.attach(app)

    def dropped(eio_sid: str, reason: str, detail: str) -> None:
        gateway = app.get(GATEWAY)
        if gateway is not None:
            gateway.dropped(eio_sid, reason, detail)

    output = eio_writer.OutputPolicy(
        settings.send_queue_packets, settings.send_queue_bytes, settings.ws_compression, dropped
    )
    eio_writer.install(sio, output)
    metrics = Metrics()
    app[SETTINGS] = settings
    app[METRICS] = metrics
    app.cleanup_ctx.append(_classes(sio, journal_layer or (lambda journal: journal)))
    app.on_shutdown.append(_disconnect_everyone(sio))
    api.add_routes(app)
    console_api.add_routes(app)
    pages.add_routes(app)
    polls_api.add_routes(app)
    recordings_api.add_routes(app)
    reports_api.add_routes(app)
    replay_api.add_routes(app)
    hooks_api.add_routes(app)
    slides_api.add_routes(app)
    lti_api.add_routes(app)
    openapi.add_routes(app)
    return app


def _disconnect_everyone(sio: socketio.AsyncServer) -> Callable[[web.Application], Awaitable[None]]:
    """Close every socket before the web server stops, so leaves are journaled."""

    async def shutdown(app: web.Application) -> None:
        gateway = app.get(GATEWAY)
        if gateway is not None:
            for sid in list(gateway.sessions):
                await sio.disconnect(sid)
        await sio.shutdown()

    return shutdown


def _count_events(metrics: Metrics) -> Callable[[ClassRuntime], None]:
    def attach(runtime: ClassRuntime) -> None:
        async def count(_: Event) -> None:
            metrics.journal_records.inc()

        runtime.listen(count)

    return attach


async def _lease_client(settings: Settings) -> redis.Redis:
    """The leases' Redis client, once Redis is known to keep what we acknowledge.

    Lease calls time out well inside the lease's margin, so a hung Redis is
    seen as down in time (the lease's own timer stops us regardless).
    """
    timeout = max(0.25, settings.lease_ttl_ms / 4000)
    client = redis.Redis.from_url(
        settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        await _require_durable_redis(client, settings.redis_unsafe)
    except BaseException:
        await client.aclose()
        raise
    return client


async def _require_durable_redis(client: redis.Redis, unsafe: bool) -> None:
    """Refuse to serve on a Redis that may lose what we acknowledge, unless told to."""
    problems = await durability_problems(client)
    if problems is None:
        log.warning(
            "cannot read Redis's configuration: make sure it has appendonly yes and"
            " appendfsync always, or a crash of Redis can lose acknowledged actions"
        )
    elif problems and unsafe:
        log.warning("Redis can lose acknowledged actions: %s (--redis-unsafe)", "; ".join(problems))
    elif problems:
        raise JournalError(
            f"Redis can lose acknowledged actions: {'; '.join(problems)}. Configure it with"
            " appendonly yes and appendfsync always (docs/operations.md), or pass"
            " --redis-unsafe to serve anyway"
        )


def _classes(
    sio: socketio.AsyncServer, journal_layer: JournalLayer
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        settings = app[SETTINGS]
        leases_client = await _lease_client(settings) if settings.redis_url else None
        journal = journal_layer(
            open_journal(settings.data_dir / "journal", settings.redis_url or None)
        )
        # Without a cluster, the classes hosted now are noted for a restart after a crash.
        hosted = None if settings.redis_url else HostedSet(settings.data_dir / "journal" / "hosted")
        registry = Registry(
            journal,
            sio,
            media_config(settings),
            metrics=app[METRICS],
            hosted=hosted,
            idle_s=settings.class_idle_s,
            ended_s=settings.class_ended_s,
        )
        # The recordings' streams: a journal of their own, leases beside the classes'.
        replay_journal = journal_layer(
            open_journal(settings.data_dir / "replays", settings.redis_url or None, REPLAY_KEYS)
        )
        app[MEDIA] = MediaNode(ice_config(settings), settings.media_workers)
        await app[MEDIA].start()
        app[METRICS].registry.register(MediaCollector(app[MEDIA]))
        store = RecordingStore(settings.data_dir / "recordings")
        recorder = Recorder(
            store,
            Publisher(store, journal, _captions(settings), DeckStore(settings.data_dir / "slides")),
        )
        recorder.media = app[MEDIA]
        replays_hosted = (
            None if settings.redis_url else HostedSet(settings.data_dir / "replays" / "hosted")
        )
        replays = ReplayHost(
            replay_journal, registry, StoredRecordings(store), settings.class_idle_s, replays_hosted
        )
        # Each recording's report is kept folded, from each stream as it loads (those
        # rebuilt below included) and as it commits.
        app[RECORDING_REPORTS] = RecordingReports(replay_journal)
        replays.on_loaded.append(app[RECORDING_REPORTS].attach)

        async def lost(name: str) -> None:
            await (replays.unload(name) if is_stream(name) else registry.unload(name))

        app[RECORDER] = recorder
        # The class's services, attached to every runtime, including those rebuilt below.
        registry.on_runtime += [
            BreakoutTimer.attach,
            attach_polls,
            app[MEDIA].attach,
            recorder.attach,
            _count_events(app[METRICS]),
        ]
        if leases_client is not None:
            # Cluster: classes are claimed one by one, by the first node asked for each.
            leases = LeaseOwnership(
                leases_client,
                settings.node_base_url,
                lost,
                settings.lease_ttl_ms,
            )
            registry.ownership = leases
            leases.start()
        else:
            registry.ownership = LocalOwnership(settings.node_base_url)
            log.info("rebuilt %d hosted classes from the journal", await registry.load_hosted())
            log.info("rebuilt %d hosted replay streams", await replays.load_hosted())
        registry.start()
        replays.start()
        await recorder.resume_unfinished()
        app[REGISTRY] = registry
        app[REPLAYS] = replays
        admission = Admission(
            settings.max_participants,
            settings.invite_identities,
            networks(settings.trusted_proxies),
            settings.max_replay_viewers,
        )
        app[GATEWAY] = Gateway(
            sio, registry, settings.secret, app[METRICS], admission=admission, replays=replays
        )
        media_routes.register(app[GATEWAY], app[MEDIA])
        yield
        await recorder.close()
        await app[MEDIA].close()
        await replays.close()
        await app[RECORDING_REPORTS].close()
        await registry.close()
        await registry.ownership.close()
        await replay_journal.close()
        await journal.close()

    return lifecycle


def _captions(settings: Settings) -> Captions:
    language = settings.captions_language or None
    model = ModelChoice(settings.captions_model, language, settings.captions_threads)
    return Captions(settings.captions, model)
