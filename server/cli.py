"""The `classroom` command: serve classes, mint join tokens.

This is the composition root: the one place that reads flags and the
environment and wires the layers together.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import secrets
import signal
import sys
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any

from lti import cli as lti_cli
from web.settings import Settings

DEMO_CLASS = "demo"
CLASS_ROLES = ("host", "moderator", "participant")
log = logging.getLogger("classroom.serve")
ENV = "CLASSROOM_"


def _env(name: str, default: str = "") -> str:
    return os.environ.get(ENV + name, default)


def _flag(value: str) -> bool:
    return value.lower() in ("1", "true", "yes", "on")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="classroom", description="A real-time classroom server.")
    sub = top.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the server (every flag is also CLASSROOM_<FLAG>)")
    serve.add_argument("--host", default=_env("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(_env("PORT", "8080")))
    serve.add_argument("--data-dir", type=Path, default=Path(_env("DATA_DIR", "data")))
    serve.add_argument("--secret", default=_env("SECRET"), help="token signing secret")
    serve.add_argument("--admin-key", default=_env("ADMIN_KEY"), help="bearer key of the REST API")
    serve.add_argument("--wire", choices=["msgpack", "json"], default=_env("WIRE", "msgpack"))
    serve.add_argument("--redis-url", default=_env("REDIS_URL"), help="cluster mode on Redis")
    serve.add_argument("--public-url", default=_env("PUBLIC_URL"), help="base URL of links")
    serve.add_argument(
        "--media-host",
        default=_env("MEDIA_HOST"),
        help="comma-separated local addresses the SFU gathers ICE candidates on (default: all)",
    )
    serve.add_argument(
        "--media-announce",
        default=_env("MEDIA_ANNOUNCE"),
        help="address the SFU announces in its candidates instead (behind 1:1 NAT)",
    )
    _switch(serve, "--media-allow-private", "accept client ICE candidates on private addresses")
    _number(
        serve,
        "--media-workers",
        os.cpu_count() or 1,
        "processes that send media to subscribers (default: one per core; 0: this one)",
    )
    serve.add_argument(
        "--ice-servers",
        default=_env("ICE_SERVERS", "[]"),
        help='STUN/TURN servers for clients, JSON: [{"urls": "stun:host:3478"}]',
    )
    serve.add_argument(
        "--node-url", default=_env("NODE_URL"), help="this node's URL for clients (cluster)"
    )
    _seconds(
        serve,
        "--class-idle-s",
        900.0,
        "unload a class, or a replay stream, nobody has been connected to for this long",
    )
    _seconds(serve, "--class-ended-s", 60.0, "unload an ended class after this long")
    serve.add_argument(
        "--lease-ttl-ms",
        type=int,
        default=int(_env("LEASE_TTL_MS", "10000")),
        help="how long a dead node keeps its classes (cluster)",
    )
    _number(
        serve, "--max-participants", 1000, "participants in one class at once (staff not counted)"
    )
    _number(serve, "--invite-identities", 1000, "people one class invite link may admit")
    _number(
        serve,
        "--max-replay-viewers",
        1000,
        "viewers of one recording's replay at once (staff not counted)",
    )
    _number(serve, "--slides-max-mb", 50, "the largest PDF a host or presenter may upload (MB)")
    _number(serve, "--slides-max-pages", 300, "the most pages an uploaded PDF may have")
    serve.add_argument(
        "--trusted-proxy",
        default=_env("TRUSTED_PROXY", "127.0.0.0/8,::1"),
        help="comma-separated proxies (addresses or networks) whose X-Forwarded-For is "
        "believed; default: loopback",
    )
    _switch(serve, "--ws-compression", "accept permessage-deflate (more CPU and memory)")
    serve.add_argument(
        "--redis-unsafe",
        action="store_true",
        default=_flag(_env("REDIS_UNSAFE", "")),
        help="serve even if Redis is not configured with appendonly yes and appendfsync always"
        " (acknowledged actions may then be lost when Redis crashes)",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        default=_flag(_env("DEMO", "")),
        help="keep a secret in the data dir, open a demo class, print join links",
    )
    serve.add_argument(
        "--captions",
        choices=["on", "off"],
        default=_env("CAPTIONS", "on"),
        help="transcribe recordings into captions when publishing them (default: on)",
    )
    serve.add_argument(
        "--captions-model",
        default=_env("CAPTIONS_MODEL"),
        help="a local CTranslate2 Whisper model directory (default: the bundled English tiny.en)",
    )
    serve.add_argument(
        "--captions-language",
        default=_env("CAPTIONS_LANGUAGE"),
        help="language code spoken, for a multilingual model (default: detected)",
    )
    serve.add_argument(
        "--captions-threads",
        type=int,
        default=int(_env("CAPTIONS_THREADS", "1")),
        help="CPU threads transcription may use (default: 1)",
    )
    serve.add_argument("--log-level", default=_env("LOG_LEVEL", "INFO"))
    _webhook_flags(serve)
    webhook = sub.add_parser("webhook", help="webhooks: send a signed test event, make a secret")
    action = webhook.add_subparsers(dest="webhook_command", required=True)
    _webhook_flags(action.add_parser("test", help="send a signed webhook.test to each URL"))
    action.add_parser("secret", help="print a new signing secret (whsec_...)")
    token = sub.add_parser(
        "token", help="print a join (--class), replay (--recording) or --organizer token"
    )
    target = token.add_mutually_exclusive_group(required=True)
    target.add_argument("--class", dest="class_id")
    target.add_argument("--recording", dest="recording_id")
    target.add_argument(
        "--organizer",
        action="store_true",
        help="may create classes and manage those they created, in the console (/console)",
    )
    token.add_argument("--user", required=True)
    token.add_argument("--name", required=True)
    token.add_argument(
        "--role",
        choices=[*CLASS_ROLES, "viewer"],
        help="class: host, moderator or participant; recording: viewer (default), moderator, host",
    )
    token.add_argument(
        "--ttl", type=int, help="seconds (default 6 hours; replay 7 days; organizer 30 days)"
    )
    token.add_argument("--secret", default=_env("SECRET"))
    token.add_argument("--data-dir", type=Path, default=Path(_env("DATA_DIR", "data")))
    lti_cli.add_parser(sub)
    return top


def _webhook_flags(command: argparse.ArgumentParser) -> None:
    command.add_argument(
        "--webhook",
        action="append",
        dest="webhooks",
        help="POST events to this URL (repeatable; CLASSROOM_WEBHOOK: URLs separated by spaces)",
    )
    command.add_argument(
        "--webhook-secret",
        default=_env("WEBHOOK_SECRET"),
        help="the Standard Webhooks signing secret, whsec_<base64> (classroom webhook secret)",
    )
    command.add_argument(
        "--webhook-retry-delays",
        default=_env("WEBHOOK_RETRY_DELAYS"),
        help="seconds to wait before each retry, comma-separated"
        " (default 5,300,1800,7200,18000,36000,36000: 27.6 hours)",
    )


def _webhooks(args: argparse.Namespace) -> tuple[str, ...]:
    """The webhook URLs, checked, with a usable secret; exits with the reason otherwise."""
    from hooks.sender import ConfigError, endpoint, signer

    urls = tuple(args.webhooks or _env("WEBHOOK").split())
    try:
        for url in urls:
            endpoint(url)
        if urls:
            signer(args.webhook_secret)
    except ConfigError as exc:
        raise SystemExit(f"classroom: {exc}") from exc
    return urls


def _delays(text: str) -> tuple[float, ...]:
    try:
        delays = tuple(float(d) for d in text.split(",") if d.strip())
    except ValueError as exc:
        raise SystemExit(f"classroom serve: --webhook-retry-delays: {exc}") from exc
    if any(d <= 0 for d in delays):
        raise SystemExit("classroom serve: --webhook-retry-delays are seconds, above 0")
    return delays


def webhook(args: argparse.Namespace) -> None:
    from hooks.sender import new_secret

    if args.webhook_command == "secret":
        print(new_secret())
        return
    from hooks.check import send_test

    urls = _webhooks(args)
    if not urls:
        raise SystemExit("classroom webhook test: give --webhook URL (or CLASSROOM_WEBHOOK)")
    if not asyncio.run(send_test(urls, args.webhook_secret)):
        raise SystemExit(1)


def _variable(flag: str) -> str:
    return flag.removeprefix("--").replace("-", "_").upper()


def _number(parser: argparse.ArgumentParser, flag: str, default: int, help: str) -> None:
    parser.add_argument(flag, type=int, default=int(_env(_variable(flag), str(default))), help=help)


def _seconds(parser: argparse.ArgumentParser, flag: str, default: float, help: str) -> None:
    value = float(_env(_variable(flag), str(default)))
    parser.add_argument(flag, type=float, default=value, help=help)


def _switch(parser: argparse.ArgumentParser, flag: str, help: str) -> None:
    default = _flag(_env(_variable(flag), ""))
    parser.add_argument(flag, action="store_true", default=default, help=help)


def _kept_secret(data_dir: Path, name: str) -> str:
    """A random secret kept in the data dir, so demo links survive a restart."""
    path = data_dir / name
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(value + "\n")
    return value


def settings_from(args: argparse.Namespace) -> Settings:
    from signaling.addresses import networks
    from signaling.auth import check_secret

    secret, admin_key = args.secret, args.admin_key
    if args.demo:
        secret = secret or _kept_secret(args.data_dir, "secret")
        admin_key = admin_key or _kept_secret(args.data_dir, "admin-key")
    if not secret:
        raise SystemExit(
            "classroom serve: no token secret. Pass --secret or set CLASSROOM_SECRET "
            "(a long random string), or run with --demo to keep one in the data directory."
        )
    try:
        check_secret(secret)
        proxies = _list(args.trusted_proxy)
        networks(proxies)
    except ValueError as exc:
        raise SystemExit(f"classroom serve: {exc}") from exc
    return Settings(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        secret=secret,
        admin_key=admin_key,
        wire=args.wire,
        redis_url=args.redis_url,
        public_url=args.public_url,
        node_url=args.node_url,
        lease_ttl_ms=args.lease_ttl_ms,
        class_idle_s=args.class_idle_s,
        class_ended_s=args.class_ended_s,
        redis_unsafe=args.redis_unsafe,
        demo=args.demo,
        media_host=_list(args.media_host),
        media_announce=args.media_announce,
        media_workers=max(0, args.media_workers),
        media_allow_private=args.media_allow_private,
        ice_servers=_ice_servers(args.ice_servers),
        captions=args.captions == "on",
        captions_model=_captions_model(args.captions_model),
        captions_language=args.captions_language,
        captions_threads=max(1, args.captions_threads),
        ws_compression=args.ws_compression,
        max_participants=args.max_participants,
        invite_identities=args.invite_identities,
        max_replay_viewers=args.max_replay_viewers,
        slides_max_mb=max(1, args.slides_max_mb),
        slides_max_pages=max(1, args.slides_max_pages),
        trusted_proxies=proxies,
        webhook_urls=_webhooks(args),
        webhook_secret=args.webhook_secret,
        webhook_retry_delays_s=_delays(args.webhook_retry_delays),
    )


def _captions_model(path: str) -> Path | None:
    if not path:
        return None
    model = Path(path)
    if not all((model / name).is_file() for name in ("model.bin", "config.json", "tokenizer.json")):
        raise SystemExit(
            f"classroom serve: --captions-model {path} is not a CTranslate2 Whisper model "
            "directory (model.bin, config.json, tokenizer.json)"
        )
    return model


def _list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _ice_servers(text: str) -> list[dict[str, Any]]:
    try:
        servers = json.loads(text or "[]")
    except json.JSONDecodeError as exc:
        raise SystemExit(f"classroom serve: --ice-servers is not JSON: {exc}") from exc
    if not isinstance(servers, list) or not all(
        isinstance(s, dict) and "urls" in s for s in servers
    ):
        raise SystemExit('classroom serve: --ice-servers takes a list of {"urls": ...}')
    return servers


async def serve(settings: Settings) -> None:
    from aiohttp import web

    from journal import JournalError
    from server.app import create_app
    from web.api import links
    from web.keys import REGISTRY

    app = create_app(settings)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
    try:
        await runner.setup()
    except JournalError as exc:
        raise SystemExit(f"classroom serve: {exc}") from exc
    site = web.TCPSite(runner, settings.host, settings.port)
    await site.start()
    _tune_gc()
    print(f"Classroom server on {settings.base_url} (wire: {settings.wire})", flush=True)
    if settings.demo:
        registry = app[REGISTRY]
        if not await registry.exists(DEMO_CLASS):
            await registry.create("Demo class", "sfu", class_id=DEMO_CLASS)
        join = links(settings, DEMO_CLASS, "Teacher")
        print(f"  host link:        {join['host']}", flush=True)
        print(f"  participant link: {join['participant']}", flush=True)
        print(f"  admin key:        {settings.admin_key}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print("Shutting down", flush=True)
    watch = asyncio.create_task(_report_slow_shutdown(SLOW_SHUTDOWN_S))
    try:
        stopped = await stop_within(runner.cleanup(), SHUTDOWN_LIMIT_S)
    finally:
        watch.cancel()
    if not stopped:
        # What hangs was logged at SLOW_SHUTDOWN_S. Exit as a crash would: what was
        # acknowledged is durable already, and leases expire (asyncio.run would wait on
        # the hung task again while it cancels what is left).
        log.error("not stopped after %.0f s: exiting without finishing", SHUTDOWN_LIMIT_S)
        logging.shutdown()
        os._exit(1)


SLOW_SHUTDOWN_S = 10.0
"""After this long stopping, the tasks still waiting are logged, with where they wait."""
SHUTDOWN_LIMIT_S = 25.0
"""Stopping takes at most this long (a service manager kills at 90 s by default)."""


async def stop_within(cleanup: Awaitable[None], limit_s: float) -> bool:
    """Await `cleanup` for at most `limit_s`; False if it had to be abandoned."""
    try:
        async with asyncio.timeout(limit_s):
            await cleanup
    except TimeoutError:
        return False
    return True


async def _report_slow_shutdown(after_s: float) -> None:
    """Log what the server still waits on when stopping takes long: the hang is in a task."""
    await asyncio.sleep(after_s)
    me = asyncio.current_task()
    waiting = [t for t in asyncio.all_tasks() if t is not me and not t.done()]
    log.warning("still stopping after %.0f s; %d tasks are waiting:", after_s, len(waiting))
    for task in waiting:
        log.warning("  %s: %s", task.get_name(), " -> ".join(_awaiting(task)))


def _awaiting(task: asyncio.Task[Any]) -> list[str]:
    """Where a task waits, outermost first: each coroutine it awaits down to the innermost,
    and what that one awaits (a task's own stack shows its outermost frame only)."""
    found: list[str] = []
    awaited: Any = task.get_coro()
    while awaited is not None and len(found) < 24:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is None:
            found.append(repr(awaited)[:120])  # a future, or a coroutine that has ended
            break
        found.append(f"{frame.f_code.co_name} ({frame.f_code.co_filename}:{frame.f_lineno})")
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return found


def _tune_gc() -> None:
    """Keep the cyclic garbage collector's full collections rare and short.

    With a thousand participants connected, a full collection walks well over
    a million objects and stalls every socket for 100 to 170 ms: that was the
    fan-out's p99 (docs/benchmarks.md). What is alive once the server is up
    (modules, the app, rebuilt classes) is frozen out of collections, and
    young collections wait for 10,000 new objects instead of 700, so fewer
    of a broadcast's short-lived packets and futures survive into the older
    generations whose growth triggers full collections.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 10, 10)


def token(args: argparse.Namespace) -> None:
    from classroom.roles import REPLAY_ROLES
    from signaling.auth import (
        DEFAULT_TTL_S,
        ORGANIZER_TTL_S,
        REPLAY_TTL_S,
        check_secret,
        mint,
        mint_organizer,
        mint_replay,
    )

    secret = args.secret or _existing_secret(args.data_dir)
    try:
        check_secret(secret)
    except ValueError as exc:
        raise SystemExit(f"classroom token: {exc}") from exc
    if args.organizer:
        print(mint_organizer(secret, args.user, args.name, args.ttl or ORGANIZER_TTL_S))
        return
    if args.recording_id:
        role = next((r for r in REPLAY_ROLES if r == (args.role or "viewer")), None)
        if role is None:
            raise SystemExit("classroom token: a recording's roles are viewer, moderator and host")
        ttl = args.ttl or REPLAY_TTL_S
        print(mint_replay(secret, args.recording_id, args.user, args.name, role, ttl))
        return
    if args.role not in CLASS_ROLES:
        raise SystemExit("classroom token: --role host, moderator or participant is required")
    print(mint(secret, args.class_id, args.user, args.name, args.role, args.ttl or DEFAULT_TTL_S))


def _existing_secret(data_dir: Path) -> str:
    path = data_dir / "secret"
    if not path.exists():
        raise SystemExit("classroom token: no secret. Pass --secret or set CLASSROOM_SECRET.")
    return path.read_text().strip()


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "token":
        token(args)
        return
    if args.command == "webhook":
        webhook(args)
        return
    if args.command == "lti":
        lti_cli.run(args)
        return
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = settings_from(args)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings))


if __name__ == "__main__":
    main(sys.argv[1:])
