"""The console's LTI section in a real browser: the admin sees the tool's URLs, registers a
platform, edits it and removes it; an organizer never sees the section, and its routes
refuse them. Every page keeps to the CSP (the `env` fixture)."""

from __future__ import annotations

from typing import Any

import pytest

from signaling.auth import mint_organizer
from tests.browser import BrowserEnv, Person, browser_env, env, reported  # noqa: F401  (fixtures)
from tests.conftest import ADMIN, SECRET
from tests.test_browser_console import sign_in

pytestmark = pytest.mark.asyncio(loop_scope="module")
SERVER_OPTIONS = {"captions": False}
MOODLE = "https://moodle.example.edu"
FORM = {
    "#lti-name": "Moodle <b>Physics</b>",
    "#lti-issuer": MOODLE,
    "#lti-client": "tool-7",
    "#lti-deployments": "1, 2 2",
    "#lti-auth": f"{MOODLE}/mod/lti/auth.php",
    "#lti-token": f"{MOODLE}/mod/lti/token.php",
    "#lti-jwks": f"{MOODLE}/mod/lti/certs.php",
}


async def platforms(where: BrowserEnv) -> list[dict[str, Any]]:
    status, body = await where.server.http("GET", "/api/lti/platforms")
    assert status == 200, body
    return list(body["platforms"])


async def fill(person: Person, fields: dict[str, str]) -> None:
    page = person.page
    if not await page.locator("#lti-form-box").evaluate("(d) => d.open"):
        await page.click("#lti-form-title")
    for selector, value in fields.items():
        await page.fill(selector, value)
    await page.click("#lti-save")


@reported
async def test_the_admin_registers_a_platform_and_organizers_never_see_it(env: BrowserEnv) -> None:  # noqa: F811
    admin = await sign_in(env, ADMIN)
    page = admin.page
    await page.click("#tab-lti")
    # The server's public URL (here http://127.0.0.1:0, its port chosen at binding) names them.
    await page.wait_for_function("() => document.getElementById('lti-key-id').textContent")
    base = env.server.settings.base_url
    assert await page.inner_text("#lti-login-url") == f"{base}/lti/login"
    assert await page.inner_text("#lti-launch-url") == f"{base}/lti/launch"
    assert await page.inner_text("#lti-jwks-url") == f"{base}/.well-known/jwks.json"
    assert await page.is_visible("#lti-empty")

    await fill(admin, FORM)
    card = page.locator("#lti-platforms li", has_text=MOODLE)
    await card.wait_for()
    assert await card.locator("strong").inner_text() == "Moodle <b>Physics</b>"  # text, not markup
    [platform] = await platforms(env)
    assert (platform["issuer"], platform["client_id"]) == (MOODLE, "tool-7")
    assert platform["deployments"] == ["1", "2"]
    assert await page.is_hidden("#lti-empty")

    # Editing keeps the registration (its issuer and client id are fixed) and changes the rest.
    await card.locator("button", has_text="Edit").click()
    assert await page.locator("#lti-issuer").get_attribute("readonly") is not None
    await fill(admin, {"#lti-name": "Moodle", "#lti-deployments": "1 2 3"})
    await page.locator("#lti-platforms li strong", has_text="Moodle").first.wait_for()
    await admin.wait_text("#status", "Moodle saved.")
    [edited] = await platforms(env)
    assert edited["id"] == platform["id"] and edited["deployments"] == ["1", "2", "3"]
    assert edited["added_at"] == platform["added_at"]

    # A registration the server refuses says why, and changes nothing.
    await fill(admin, FORM | {"#lti-client": "tool-8", "#lti-jwks": "http://moodle.example.edu/k"})
    await admin.wait_text("#status", "must be an https:// URL")
    assert len(await platforms(env)) == 1

    # Removing takes two clicks.
    remove = card.locator("button", has_text="Remove")
    await remove.click()
    await card.locator("button", has_text="Remove: sure?").click()
    await page.wait_for_selector("#lti-empty:not([hidden])")
    assert await platforms(env) == []

    ben = await sign_in(env, mint_organizer(SECRET, "ben", "Ben"))
    assert await ben.page.is_hidden("#tab-lti")
    refused = await ben.page.evaluate(
        """async () => {
            const key = sessionStorage.getItem('console-credential');
            const auth = { Authorization: `Bearer ${key}` };
            const statuses = [];
            for (const [path, method] of [['/api/lti/platforms', 'GET'], ['/api/lti/tool', 'GET'],
                                          ['/api/lti/platforms/abc', 'DELETE']]) {
                statuses.push((await fetch(path, { method, headers: auth })).status);
            }
            return statuses;
        }"""
    )
    assert refused == [401, 401, 401]  # the admin key only, as every admin route
