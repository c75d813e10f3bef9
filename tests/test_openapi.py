"""The REST description: it covers every route, and a running server keeps to it (schemathesis)."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import aiohttp
import pytest

from server.app import create_app
from tests.conftest import ADMIN, running, settings_for
from tests.test_recording import published
from web.openapi_routes import ROUTES

NOT_REST = ("/", "/c/{class_id}", "/replay/{recording_id}", "/console", "/static", "/socket.io/")
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    ]
)


def test_every_rest_route_is_described(tmp_path: Path) -> None:
    app = create_app(settings_for(tmp_path))
    served = set()
    for resource in app.router.resources():
        path = resource.canonical
        if path in NOT_REST or path.startswith("/static"):
            continue
        for route in resource:
            if route.method not in ("HEAD", "*"):
                served.add((route.method.lower(), path))
    assert served == {(r.method, r.path) for r in ROUTES}


async def test_document_is_openapi_3_1_with_components(tmp_path: Path) -> None:
    async with (
        running(settings_for(tmp_path)) as srv,
        aiohttp.ClientSession() as http,
        http.get(srv.url + "/api/openapi.json") as resp,
    ):
        assert resp.status == 200
        doc = await resp.json()
    assert doc["openapi"] == "3.1.0"
    create = doc["paths"]["/api/classes"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/NewClass"}
    # The struct the handler decodes with, limits included.
    title = doc["components"]["schemas"]["NewClass"]["properties"]["title"]
    assert title == {"type": "string", "minLength": 1, "maxLength": 200}
    deliveries = doc["paths"]["/api/webhooks/deliveries"]["get"]
    assert deliveries["parameters"][0]["name"] == "limit"
    assert deliveries["security"] == [{"bearer": []}]


@pytest.mark.timeout(420)  # some thirty operations, on a machine that may be busy
async def test_a_running_server_keeps_to_its_description(tmp_path: Path) -> None:
    """Schemathesis, bounded: no 5xx, and every answer matches its status, type and schema."""
    async with running(settings_for(tmp_path / "server")) as srv:
        # A class with a published recording, so that its routes answer more than 404.
        cid = await srv.create_class("Schemathesis")
        host = await srv.join(cid, "teacher", "host")
        rid = (await host.call("recording:start"))["recording_id"]
        assert (await host.call("recording:stop"))["ok"]
        await published(srv.url, rid)
        config = tmp_path / "schemathesis.toml"
        config.write_text(
            f'[parameters]\nclass_id = "{cid}"\nrecording_id = "{rid}"\nname = "manifest.json"\n'
        )
        proc = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "schemathesis"),
            f"--config-file={config}",
            "run",
            f"{srv.url}/api/openapi.json",
            f"--checks={CHECKS}",
            "--max-examples=10",
            "--workers=1",
            "--seed=1",
            "--request-timeout=10",
            "--generation-database=none",
            "--no-color",
            f"--header=Authorization: Bearer {ADMIN}",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            cwd=tmp_path,
        )
        async with asyncio.timeout(400):
            out, _ = await proc.communicate()
    report = out.decode()
    assert proc.returncode == 0, report
    selected = re.search(r"Selected: (\d+)/(\d+)", report)
    assert selected is not None and selected[1] == selected[2], report
    assert f"Tested: {selected[1]}" in report, report
