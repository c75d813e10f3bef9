"""The REST description's page in a real browser: rendered by the vendored viewer, CSP intact."""

from __future__ import annotations

import pytest

from tests.browser import BrowserEnv, browser_env, env, reported  # noqa: F401  (fixtures)

pytestmark = pytest.mark.asyncio(loop_scope="module")


@reported
async def test_api_docs_render_every_route_under_the_csp(env: BrowserEnv) -> None:  # noqa: F811
    viewer = await env.open(f"{env.server.url}/api/docs")
    await viewer.page.wait_for_selector(".opblock-summary-path", state="attached")
    paths = await viewer.page.eval_on_selector_all(
        ".opblock-summary-path", "els => els.map((el) => el.textContent)"
    )
    assert "/api/webhooks/deliveries" in "".join(paths)
    assert "/api/recordings/{recording_id}/publish" in "".join(paths)
    await viewer.page.click("#operations-Classes-postApiClasses .opblock-summary")
    await viewer.page.wait_for_selector("#operations-Classes-postApiClasses .model-example")
    assert viewer.csp_violations() == []
    assert viewer.errors == []
