"""Real clusters for tests: redis-server, several `classroom serve` processes, nginx."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import aiohttp

from tests.conftest import ADMIN
from tests.process import ServerProcess, free_port

RECIPE = Path(__file__).parent.parent / "deploy" / "nginx-classroom.conf"


def node(data_dir: Path, redis_url: str, lease_ttl_ms: int = 3000) -> ServerProcess:
    port = free_port()
    return ServerProcess(
        data_dir,
        "--redis-url", redis_url,
        "--node-url", f"http://127.0.0.1:{port}",
        "--lease-ttl-ms", str(lease_ttl_ms),
        port=port,
    )  # fmt: skip


async def create_class(url: str, title: str = "Cluster class") -> str:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with (
        aiohttp.ClientSession() as http,
        http.post(url + "/api/classes", json={"title": title}, headers=headers) as resp,
    ):
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["id"])


async def get_json(url: str) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, await resp.json()


async def wait_until(predicate_url: str, status: int, limit_s: float = 20) -> None:
    """Poll an HTTP route until it answers `status` (a condition, bounded in time)."""
    async with asyncio.timeout(limit_s):
        while True:
            try:
                got, _ = await get_json(predicate_url)
                if got == status:
                    return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)


class Nginx:
    """Debian's nginx running the documented recipe, pointed at our nodes."""

    def __init__(self, workdir: Path, upstreams: list[str]) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        recipe = RECIPE.read_text()
        servers = "".join(f"    server {u} max_fails=1 fail_timeout=5s;\n" for u in upstreams)
        head, _, rest = recipe.partition("    hash $classroom_class consistent;\n")
        rest = rest[rest.index("}") :]
        recipe = head + "    hash $classroom_class consistent;\n" + servers + rest
        recipe = recipe.replace("listen 8080;", f"listen 127.0.0.1:{self.port};")
        temp = " ".join(
            f"{kind}_temp_path {workdir}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        self.config = workdir / "nginx.conf"
        self.config.write_text(
            f"worker_processes 1;\ndaemon off;\npid {workdir}/nginx.pid;\n"
            f"error_log {workdir}/error.log;\nevents {{ worker_connections 1024; }}\n"
            f"http {{\naccess_log off;\n{temp}\n{recipe}\n}}\n"
        )
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        self.proc = await asyncio.create_subprocess_exec(
            binary, "-c", str(self.config), "-p", str(self.workdir)
        )
        await wait_until(self.url + "/healthz", 200)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            async with asyncio.timeout(10):
                await self.proc.wait()
