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
    node_url: str = ""
    """This node's own URL, which other nodes send clients to (cluster mode)."""
    class_idle_s: float = 900.0
    """How long a class, or a recording's replay stream, nobody is connected to stays in
    memory (it reloads on first use)."""
    class_ended_s: float = 60.0
    """How long an ended class stays in memory."""
    lease_ttl_ms: int = 10_000
    """How long a class's lease outlives its node (cluster mode)."""
    redis_unsafe: bool = False
    """Serve even when Redis may lose acknowledged appends (no `appendfsync always`)."""
    demo: bool = False
    ice_servers: list[dict[str, Any]] = field(default_factory=list)
    """STUN/TURN servers handed to clients (RTCIceServer dicts)."""
    media_host: tuple[str, ...] = ()
    """Local addresses the SFU gathers ICE candidates on; empty: every interface."""
    media_announce: str = ""
    """The address put in the SFU's candidates instead of the gathered one (1:1 NAT)."""
    captions: bool = True
    """Transcribe recordings into captions when publishing them."""
    captions_model: Path | None = None
    """A local CTranslate2 Whisper model directory; None: the bundled English tiny.en."""
    captions_language: str = ""
    """The language spoken, for a multilingual model; empty: detected."""
    captions_threads: int = 1
    media_workers: int = 0
    """Processes that own subscribers' connections; 0: this process does."""
    media_allow_private: bool = False
    """Accept client ICE candidates on private, loopback and link-local addresses."""
    ws_compression: bool = False
    """Accept permessage-deflate on WebSockets (bandwidth for CPU and memory)."""
    max_participants: int = 1000
    """Participants connected to one class at once (hosts and moderators are not counted)."""
    invite_identities: int = 1000
    max_replay_viewers: int = 1000
    """Viewers connected to one recording's replay stream at once (staff are not counted)."""
    """Identities one invite link may make."""
    trusted_proxies: tuple[str, ...] = ("127.0.0.0/8", "::1")
    """Reverse proxies (addresses or networks) whose X-Forwarded-For is believed."""
    ping_interval_s: float = 25
    ping_timeout_s: float = 20
    send_queue_packets: int = 8192
    """Packets that may wait for one socket before it is dropped as not reading."""
    send_queue_bytes: int = 2 * 1024 * 1024
    """Bytes that may wait for one socket before it is dropped as not reading."""
    slides_max_mb: int = 50
    """The largest PDF a host or presenter may upload."""
    slides_max_pages: int = 300
    """The most pages an uploaded PDF may have."""
    webhook_urls: tuple[str, ...] = ()
    """Where webhook messages are posted (hooks/); none: no webhooks."""
    webhook_secret: str = ""
    """The Standard Webhooks signing secret, `whsec_<base64>`."""
    webhook_retry_delays_s: tuple[float, ...] = ()
    """Waits before each retry; empty: the standard schedule (hooks/records.py), 27.6 h."""
    lti_retry_delays_s: tuple[float, ...] = ()
    """Waits before each retry of an LTI score; empty: the webhooks' standard schedule."""

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"

    @property
    def node_base_url(self) -> str:
        return self.node_url.rstrip("/") if self.node_url else self.base_url
