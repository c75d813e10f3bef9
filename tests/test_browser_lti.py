"""LTI launches in Chromium: from the course's link, through the platform's login, into the class;
and the deep-linking page, whose choice is posted back to the platform."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from playwright.async_api import async_playwright

from tests.browser import (  # noqa: F401  (the env fixture)
    CHROMIUM,
    CHROMIUM_ARGS,
    BrowserEnv,
    Person,
    env,
    reported,
)
from tests.conftest import Server
from tests.lti_platform import LEARNER, Platform
from tests.lti_platform import Person as LmsPerson
from tests.test_lti import lti_settings

pytestmark = pytest.mark.asyncio(loop_scope="module")

TEACHER = LmsPerson("t-9", "Grace Hopper", ["Instructor"])
ADA = LmsPerson("s-9", "Ada Lovelace", LEARNER)


@dataclass
class LtiBrowserEnv(BrowserEnv):
    platform: Platform = field(default_factory=Platform)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser_env(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[BrowserEnv]:
    """A platform, a server it is registered on, and Chromium."""
    platform = Platform()
    await platform.start()
    server = Server(
        lti_settings(
            tmp_path_factory.mktemp("lti-browser"),
            media_host=("127.0.0.1",),
            media_allow_private=True,
        )
    )
    await server.start()
    platform.tool_url = server.url
    status, body = await server.http("POST", "/api/lti/platforms", platform.registration())
    assert status == 201, body
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        lti_env = LtiBrowserEnv(server, browser, platform=platform)
        try:
            yield lti_env
        finally:
            await lti_env.close_people()
            await browser.close()
            await server.stop()
            await platform.stop()


async def from_the_course(where: LtiBrowserEnv, person: LmsPerson, **options: object) -> Person:
    """Follow the course's link to the tool, as the LMS's page does."""
    hint = where.platform.message(person, **options)
    return await where.open(f"{where.platform.url}/course/{hint}")


async def in_class(who: Person) -> None:
    await who.page.wait_for_selector("#join:not([hidden])")
    await who.page.click("#join")
    await who.page.wait_for_selector("#class:not([hidden])")


@reported
async def test_learners_land_in_the_class_from_the_course(env: LtiBrowserEnv) -> None:  # noqa: F811
    teacher = await from_the_course(env, TEACHER)
    await in_class(teacher)
    class_path = teacher.page.url.split("#")[0]
    assert "/c/lti-" in class_path
    learner = await from_the_course(env, ADA)
    await in_class(learner)
    assert learner.page.url.split("#")[0] == class_path
    # Both are in, under the names the LMS gave.
    await teacher.wait_text("#participants li", "Ada Lovelace")
    await learner.wait_text("#participants li", "Grace Hopper")


@reported
async def test_an_instructor_places_a_class_with_deep_linking(env: LtiBrowserEnv) -> None:  # noqa: F811
    before = len(env.platform.deep_links)
    teacher = await from_the_course(env, TEACHER, kind="LtiDeepLinkingRequest")
    page = teacher.page
    await page.wait_for_selector("#new-class:not([hidden])")
    await teacher.wait_text("#course", "Physics 101")
    await page.fill("#new-title", "Lab session")
    await page.click("#new-class button[type=submit]")
    # The signed answer is posted to the platform, which shows its own page.
    await page.wait_for_url(f"{env.platform.url}/deep-link-return")
    await teacher.wait_text("p", "Placed.")
    assert len(env.platform.deep_links) == before + 1
    items = env.platform.deep_links[-1][
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
    ]
    assert [item["title"] for item in items] == ["Lab session"]
