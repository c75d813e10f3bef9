"""Server settings: one dataclass, filled from flags and CLASSROOM_* environment variables."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Wire = Literal["msgpack", "json"]


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = Path("data")
    secret: str = ""
    admin_key: str = ""
    wire: Wire = "msgpack"
    redis_url: str = ""
    public_url: str = ""
    """The base URL people reach this server at, used in printed and returned links."""
    demo: bool = False
    ice_servers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"
