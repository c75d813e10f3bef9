"""`classroom lti ...`: register platforms, list and remove them, rotate the tool's key.

They work on the store a server reads (the data directory, or Redis with
--redis-url), while it runs: a server reads registrations at each launch.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

import msgspec

from lti.platforms import DEFAULT_GRACE_S, NewPlatform, Platform, PlatformError, Tool
from lti.service import JWKS_PATH, LAUNCH_PATH, LOGIN_PATH
from lti.store import StoreError, open_store
from signaling.runtime import now_ms


def _env(name: str, default: str = "") -> str:
    return os.environ.get("CLASSROOM_" + name, default)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lti = sub.add_parser("lti", help="the LTI 1.3 tool: platforms (LMSs) and the tool's key")
    action = lti.add_subparsers(dest="lti_command", required=True)
    add = action.add_parser("add-platform", help="register a platform (again: update it)")
    add.add_argument("--issuer", required=True, help="the platform's issuer (iss)")
    add.add_argument("--client-id", required=True, help="the client id it gave this tool")
    add.add_argument(
        "--deployment", action="append", required=True, help="a deployment id (repeatable)"
    )
    add.add_argument("--auth-url", required=True, help="its OIDC authorization endpoint")
    add.add_argument("--token-url", required=True, help="its OAuth 2 token endpoint")
    add.add_argument("--jwks-url", required=True, help="its public key set URL")
    add.add_argument("--name", default="", help="a name to know it by")
    add.add_argument("--audience", default="", help="client assertions' aud (default: token URL)")
    add.add_argument(
        "--public-url", default=_env("PUBLIC_URL"), help="this server's URL, to print the tool's"
    )
    action.add_parser("list", help="list the platforms and the tool's keys")
    remove = action.add_parser("remove", help="remove a platform")
    remove.add_argument("platform_id")
    rotate = action.add_parser("rotate-key", help="make a new signing key; keep the old published")
    rotate.add_argument(
        "--keep-old-hours",
        type=float,
        default=DEFAULT_GRACE_S / 3600,
        help=f"hours the old key stays published (default {DEFAULT_GRACE_S // 3600})",
    )
    for command in action.choices.values():
        command.add_argument("--data-dir", type=Path, default=Path(_env("DATA_DIR", "data")))
        command.add_argument(
            "--redis-url", default=_env("REDIS_URL"), help="a cluster's Redis (its registrations)"
        )


def run(args: argparse.Namespace) -> None:
    try:
        asyncio.run(_run(args))
    except (PlatformError, StoreError) as exc:
        raise SystemExit(f"classroom lti: {exc}") from exc


async def _run(args: argparse.Namespace) -> None:
    store = open_store(args.data_dir, args.redis_url)
    tool = Tool(store)
    try:
        match args.lti_command:
            case "add-platform":
                await _add(tool, args)
            case "list":
                await _list(tool)
            case "remove":
                if not await tool.remove_platform(args.platform_id):
                    raise SystemExit(f"classroom lti: no platform {args.platform_id}")
                print(f"removed {args.platform_id}")
            case "rotate-key":
                key = await tool.rotate(now_ms(), int(args.keep_old_hours * 3600))
                print(
                    f"new signing key {key.kid}; older keys stay published for "
                    f"{args.keep_old_hours:g} hours"
                )
    finally:
        await store.close()


async def _add(tool: Tool, args: argparse.Namespace) -> None:
    try:
        spec = msgspec.convert(
            {
                "issuer": args.issuer,
                "client_id": args.client_id,
                "deployments": args.deployment,
                "auth_url": args.auth_url,
                "token_url": args.token_url,
                "jwks_url": args.jwks_url,
                "name": args.name,
                "audience": args.audience,
            },
            NewPlatform,
        )
    except msgspec.ValidationError as exc:
        raise PlatformError(str(exc)) from exc
    platform = await tool.add_platform(spec, now_ms())
    key = await tool.signing_key(now_ms())
    print(f"platform {platform.id}: {platform.issuer} (client {platform.client_id})")
    base = args.public_url.rstrip("/")
    if base:
        print(f"  give the platform: login URL {base}{LOGIN_PATH}")
        print(f"                     launch, redirect and deep linking URL {base}{LAUNCH_PATH}")
        print(f"                     public key set {base}{JWKS_PATH} (key {key.kid})")


def _describe(platform: Platform) -> str:
    named = f" ({platform.name})" if platform.name else ""
    return (
        f"{platform.id}{named}\n  issuer {platform.issuer}\n  client {platform.client_id}\n"
        f"  deployments {', '.join(platform.deployments)}\n  auth {platform.auth_url}\n"
        f"  token {platform.token_url}\n  jwks {platform.jwks_url}"
    )


async def _list(tool: Tool) -> None:
    platforms = await tool.platforms()
    if not platforms:
        print("no platforms registered")
    for platform in platforms:
        print(_describe(platform))
    for key in await tool.keys():
        state = "signs" if key.published_until is None else "retired"
        print(f"key {key.kid}: {state}")
