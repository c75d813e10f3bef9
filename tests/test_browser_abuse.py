"""In a real browser: an invite keeps one identity per browser, names are checked, and the
page's Content Security Policy lets it reach its own server only."""

from __future__ import annotations

import pytest

from tests.browser import BrowserEnv, Person, browser_env, env, reported  # noqa: F401  (fixtures)
from web.keys import GATEWAY, REGISTRY

pytestmark = pytest.mark.asyncio(loop_scope="module")

ME = "() => window.__classroom?.state.you?.user_id"


async def invited_class(env: BrowserEnv) -> tuple[str, str]:  # noqa: F811
    status, body = await env.server.http("POST", "/api/classes", {"title": "Open day"})
    assert status == 201
    invite = body["links"]["participant"].split("#", 1)[1]  # the link names the configured port
    return body["id"], f"{env.server.url}/c/{body['id']}#{invite}&test=1"


async def give_name(person: Person, name: str) -> None:
    await person.page.fill("#name-input", name)
    await person.page.click("#name-form button[type=submit]")


def names(env: BrowserEnv, cid: str) -> list[str]:  # noqa: F811
    """The names of everyone who ever joined the class."""
    return [m.name for m in env.server.app[REGISTRY].runtimes[cid].room.live.members.values()]


async def enter(person: Person) -> str:
    """Pass the device check and wait to be in; the user id the page joined as."""
    await person.page.click("#join")
    await person.page.wait_for_selector("#class:not([hidden])")
    await person.page.wait_for_function(ME)
    user: str = await person.page.evaluate(ME)
    return user


@reported
async def test_opening_the_invite_again_keeps_the_identity(env: BrowserEnv) -> None:  # noqa: F811
    cid, link = await invited_class(env)
    person = await env.open(link)
    await give_name(person, "Zoë Visitor")
    first = await enter(person)
    await person.page.reload()  # the address now holds the personal token
    await person.page.wait_for_selector("#join:not([hidden])")
    assert await enter(person) == first
    # Opening the invite link again (a new page load) asks nothing and is the same person.
    await person.page.goto("about:blank")
    await person.page.goto(link)
    await person.page.wait_for_selector("#join:not([hidden])")
    assert await person.page.is_hidden("#name-form")
    assert await enter(person) == first
    assert names(env, cid) == ["Zoë Visitor"]


@reported
async def test_a_name_with_direction_overrides_is_refused(env: BrowserEnv) -> None:  # noqa: F811
    cid, link = await invited_class(env)
    person = await env.open(link)
    await give_name(person, "\u202eevil")
    await person.wait_text("#status", "choose another name")
    await give_name(person, "Ada")
    await enter(person)
    assert names(env, cid) == ["Ada"]


@reported
async def test_the_page_may_connect_to_its_own_server_only(env: BrowserEnv) -> None:  # noqa: F811
    cid = await env.server.create_class()
    person = await env.join(cid, "ada")
    transport = "() => window.__classroom.conn.socket.io.engine.transport.name"
    assert await person.page.evaluate(transport) == "websocket"
    assert env.server.app[GATEWAY].sessions  # the socket got through
    response = await person.page.request.get(person.page.url)
    assert "connect-src 'self';" in response.headers["content-security-policy"]
    # A WebSocket to another host (here another loopback address) is refused by the browser.
    elsewhere = env.server.url.replace("127.0.0.1", "127.0.0.2").replace("http", "ws")
    blocked = await person.page.evaluate(
        """(url) => new Promise((resolve) => {
            document.addEventListener("securitypolicyviolation",
                (e) => resolve(e.violatedDirective), { once: true });
            try { new WebSocket(url); } catch (err) { resolve(`threw ${err.name}`); }
            setTimeout(() => resolve("allowed"), 3000);
        })""",
        elsewhere + "/socket.io/?EIO=4&transport=websocket",
    )
    assert blocked in ("connect-src", "threw SecurityError"), blocked
    person.console.clear()  # the refusal above is the only violation, and a wanted one
