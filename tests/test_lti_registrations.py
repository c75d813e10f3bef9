"""LTI registrations: the `classroom lti` command, the store on files and on Redis, the tool's
keys and their rotation, and a cluster where a login starts on one node and lands on another."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import msgspec
import pytest

from lti.claims import classroom_role, display_name
from lti.ephemeral import MemoryEphemeral, RedisEphemeral
from lti.platforms import Tool
from lti.store import FileStore, RedisStore, Store
from server.cli import main
from tests.cluster import node
from tests.lti_platform import (
    INSTRUCTOR,
    LEARNER,
    TEACHING_ASSISTANT,
    Browser,
    Person,
    Platform,
    browser_session,
)
from tests.process import ServerProcess, run_cli
from tests.redis_server import RedisServer

TEACHER = Person("t-1", "Grace Hopper", INSTRUCTOR)
ADA = Person("s-1", "Ada Lovelace", LEARNER)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture(params=["files", "redis"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "files":
        yield FileStore(tmp_path / "lti")
        return
    with RedisServer() as server:
        redis_store = RedisStore.from_url(server.url)
        yield redis_store
        await redis_store.close()


async def test_the_store_keeps_values_by_space_and_key(store: Store) -> None:
    assert await store.get("links", "c1") is None
    await store.put("links", "c1", b"one")
    await store.put("links", "c1", b"two")
    assert await store.get("links", "c1") == b"two"
    assert await store.put_new("links", "c1", b"three") is False
    assert await store.put_new("members/c1", "u@x.org", b"m") is True
    assert await store.all("members/c1") == {"u@x.org": b"m"}
    assert await store.all("nothing-here") == {}
    assert await store.delete("links", "c1") is True
    assert await store.delete("links", "c1") is False
    for bad in ("../etc", "a/../b", ".hidden", "x" * 200, ""):
        with pytest.raises(ValueError):
            await store.get("links", bad)
        with pytest.raises(ValueError):
            await store.put(bad, "k", b"v")


async def test_the_tool_key_rotates_and_the_old_one_stays_published(store: Store) -> None:
    tool = Tool(store)
    first = await tool.signing_key(1_000)
    assert await tool.signing_key(2_000) == first
    second = await tool.rotate(3_000, grace_s=60)
    assert (await tool.signing_key(4_000)).kid == second.kid
    published = [k["kid"] for k in (await tool.jwks(4_000))["keys"]]
    assert sorted(published) == sorted([first.kid, second.kid])
    # After the grace period, only the new key is published; the next rotation drops the old.
    assert [k["kid"] for k in (await tool.jwks(63_001))["keys"]] == [second.kid]
    third = await tool.rotate(70_000, grace_s=60)
    assert {k.kid for k in await tool.keys()} == {second.kid, third.kid}
    assert await tool.salt() == await tool.salt()


async def test_logins_under_way_are_taken_once(redis_server: RedisServer) -> None:
    now = [0.0]
    memory = MemoryEphemeral(clock=lambda: now[0], limit=2)
    redis_eph = RedisEphemeral.from_url(redis_server.url)
    try:
        for held in (memory, redis_eph):
            await held.put("login:a", b"nonce", 600)
            assert await held.get("login:a") == b"nonce"
            assert await held.take("login:a") == b"nonce"
            assert await held.take("login:a") is None
    finally:
        await redis_eph.close()
    await memory.put("x", b"1", 10)
    now[0] = 11
    assert await memory.get("x") is None  # expired
    for key in ("a", "b", "c"):
        await memory.put(key, b"v", 10)
    assert await memory.get("a") is None  # the oldest went first


def test_roles_and_names_from_the_claims() -> None:
    assert classroom_role(INSTRUCTOR) == "host"
    assert classroom_role(TEACHING_ASSISTANT) == "moderator"
    assert classroom_role(["Instructor"]) == "host"  # the short, deprecated form
    assert classroom_role(LEARNER) == "participant"
    admin = "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"
    assert classroom_role([admin]) == "participant"  # institution roles open nothing
    assert display_name({"name": "  Ada\u202e  Lovelace\n"}) == "Ada Lovelace"
    assert display_name({"given_name": "Ada", "family_name": "Lovelace"}) == "Ada Lovelace"
    assert display_name({"name": "\u200b"}) == "Anonymous"
    assert display_name({}) == "Anonymous"


def test_the_command_registers_lists_rotates_and_removes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flags = ["--data-dir", str(tmp_path)]
    main(
        [
            "lti", "add-platform", *flags,
            "--issuer", "https://moodle.example.edu",
            "--client-id", "abc123",
            "--deployment", "1", "--deployment", "2",
            "--auth-url", "https://moodle.example.edu/mod/lti/auth.php",
            "--token-url", "https://moodle.example.edu/mod/lti/token.php",
            "--jwks-url", "https://moodle.example.edu/mod/lti/certs.php",
            "--name", "Moodle",
            "--public-url", "https://classroom.example.edu",
        ]
    )  # fmt: skip
    added = capsys.readouterr().out
    assert "https://classroom.example.edu/lti/login" in added
    assert "https://classroom.example.edu/.well-known/jwks.json" in added
    platform_id = added.split()[1].rstrip(":")
    main(["lti", "list", *flags])
    listed = capsys.readouterr().out
    assert f"{platform_id} (Moodle)" in listed and "deployments 1, 2" in listed
    assert listed.count("signs") == 1
    main(["lti", "rotate-key", *flags, "--keep-old-hours", "24"])
    main(["lti", "list", *flags])
    listed = capsys.readouterr().out
    assert listed.count("signs") == 1 and listed.count("retired") == 1
    main(["lti", "remove", *flags, platform_id])
    with pytest.raises(SystemExit, match="no platform"):
        main(["lti", "remove", *flags, platform_id])
    with pytest.raises(SystemExit, match="https://"):
        main(
            [
                "lti", "add-platform", *flags, "--issuer", "i", "--client-id", "c",
                "--deployment", "1", "--auth-url", "http://lms.example.edu/auth",
                "--token-url", "https://x/t", "--jwks-url", "https://x/j",
            ]
        )  # fmt: skip


async def classroom(*args: str) -> str:
    """`classroom ...` as its own process (the operator's command beside running servers)."""
    status, out = await run_cli(*args)
    assert status == 0, out
    return out


async def test_a_cluster_shares_registrations_and_logins(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    a, b = node(tmp_path / "a", redis_server.url), node(tmp_path / "b", redis_server.url)
    platform = Platform()
    await platform.start()
    try:
        await asyncio.gather(a.start(), b.start())
        registration = platform.registration()
        await classroom(
            "lti", "add-platform", "--redis-url", redis_server.url,
            "--data-dir", str(tmp_path / "cli"),
            "--issuer", registration["issuer"], "--client-id", registration["client_id"],
            "--deployment", registration["deployments"][0],
            "--auth-url", registration["auth_url"], "--token-url", registration["token_url"],
            "--jwks-url", registration["jwks_url"],
        )  # fmt: skip
        async with browser_session() as http:
            browser = Browser(http)
            # The login starts on node a; the platform's post reaches node b.
            platform.tool_url = a.url
            login = await browser.get(platform.login_url(platform.message(TEACHER)))
            assert login.status == 302, login.text
            action, form = await browser.authorize(login.location)
            landed = await browser.post(action.replace(a.url, b.url), form)
            assert landed.status == 303, landed.text
            class_path = landed.location.split("#")[0]
            # A learner's whole launch on node a finds the class node b made.
            learner = await browser.launch(platform, platform.message(ADA))
            assert learner.status == 303 and learner.location.split("#")[0] == class_path
            # Both nodes publish the same key set.
            keys_a, keys_b = await _keys(http, a), await _keys(http, b)
            assert keys_a == keys_b and keys_a
    finally:
        await platform.stop()
        await asyncio.gather(a.stop(signal.SIGKILL), b.stop(signal.SIGKILL))


async def _keys(http: aiohttp.ClientSession, server: ServerProcess) -> list[str]:
    async with http.get(server.url + "/.well-known/jwks.json") as resp:
        body = msgspec.json.decode(await resp.read())
    return [k["kid"] for k in body["keys"]]
