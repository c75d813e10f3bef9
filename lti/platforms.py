"""Platforms (the LMSs the operator registered) and the tool's own signing keys.

A platform is known by its issuer and the client id it gave this tool; its
`id` is a digest of the two, so registering the same pair again updates it.
The tool signs with RSA keys of its own (its client assertions to a
platform's token endpoint, its deep-linking responses): the newest key
signs, and a key that rotation retired stays published at
`/.well-known/jwks.json` until `published_until`, so a platform that cached
the key set still verifies what was signed just before the rotation.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import time
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from lti.store import Store

PLATFORMS = "platforms"
KEYS = "keys"
TOOL = "tool"
KEY_BITS = 2048
DEFAULT_GRACE_S = 72 * 3600
"""How long a retired key stays published after a rotation, by default."""

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]
Url = Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]


class PlatformError(ValueError):
    """A registration that cannot be used (with the reason)."""


class NewPlatform(msgspec.Struct, forbid_unknown_fields=True):
    """What the operator gives to register a platform (the command and the REST route)."""

    issuer: Text
    client_id: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    deployments: Annotated[
        list[Annotated[str, msgspec.Meta(min_length=1, max_length=255)]],
        msgspec.Meta(min_length=1, max_length=100),
    ]
    auth_url: Url
    """The platform's OIDC authorization endpoint (where logins are sent)."""
    token_url: Url
    """Its OAuth 2 token endpoint (for grades and rosters)."""
    jwks_url: Url
    """Its public key set."""
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    audience: Annotated[str, msgspec.Meta(max_length=2048)] = ""
    """The `aud` of client assertions, where the platform wants other than its token URL."""


class Platform(NewPlatform, kw_only=True):
    id: str
    added_at: int

    @property
    def token_audience(self) -> str:
        return self.audience or self.token_url


def platform_id(issuer: str, client_id: str) -> str:
    return hashlib.sha256(f"{issuer}\n{client_id}".encode()).hexdigest()[:12]


def check_url(url: str, what: str) -> None:
    """https, or http on a loopback host (a platform on the same machine, in tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname and _loopback(parts.hostname):
        return
    raise PlatformError(f"{what} must be an https:// URL (http:// only on loopback): {url!r}")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def registered(spec: NewPlatform, now_ms: int) -> Platform:
    for url, what in (
        (spec.auth_url, "the auth URL"),
        (spec.token_url, "the token URL"),
        (spec.jwks_url, "the JWKS URL"),
    ):
        check_url(url, what)
    fields = msgspec.structs.asdict(spec)
    fields["deployments"] = list(dict.fromkeys(spec.deployments))
    return Platform(**fields, id=platform_id(spec.issuer, spec.client_id), added_at=now_ms)


class ToolKey(msgspec.Struct, frozen=True):
    kid: str
    private_pem: str
    created_at: int
    published_until: int | None = None
    """None while the key signs; once retired, when it stops being published (epoch ms)."""

    def private_key(self) -> rsa.RSAPrivateKey:
        key = serialization.load_pem_private_key(self.private_pem.encode(), password=None)
        assert isinstance(key, rsa.RSAPrivateKey)
        return key

    def public_jwk(self) -> dict[str, str]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.private_key().public_key(), as_dict=True)
        # `use` says what the key is for; `key_ops` beside it is discouraged (RFC 7517, 4.3).
        public = {"kty": "RSA", "n": jwk["n"], "e": jwk["e"]}
        return public | {"kid": self.kid, "alg": "RS256", "use": "sig"}


def new_key(now_ms: int) -> ToolKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    stamp = time.strftime("%Y%m%d", time.gmtime(now_ms / 1000))
    return ToolKey(f"{stamp}-{secrets.token_hex(4)}", pem, now_ms)


class Tool:
    """The registrations and keys in the store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- platforms ---------------------------------------------------------

    async def add_platform(self, spec: NewPlatform, now_ms: int) -> Platform:
        platform = registered(spec, now_ms)
        earlier = await self.platform(platform.id)
        if earlier is not None:
            platform = msgspec.structs.replace(platform, added_at=earlier.added_at)
        await self.store.put(PLATFORMS, platform.id, msgspec.json.encode(platform))
        return platform

    async def platforms(self) -> list[Platform]:
        found = await self.store.all(PLATFORMS)
        return [msgspec.json.decode(v, type=Platform) for v in found.values()]

    async def platform(self, pid: str) -> Platform | None:
        if not pid.isalnum():
            return None
        raw = await self.store.get(PLATFORMS, pid)
        return None if raw is None else msgspec.json.decode(raw, type=Platform)

    async def find(self, issuer: str, client_id: str | None) -> Platform:
        """The platform of a login: by issuer, and by client id when the issuer has several."""
        if client_id:
            found = await self.platform(platform_id(issuer, client_id))
            if found is None:
                raise PlatformError("this platform (issuer and client id) is not registered")
            return found
        matches = [p for p in await self.platforms() if p.issuer == issuer]
        if not matches:
            raise PlatformError("this platform (issuer) is not registered")
        if len(matches) > 1:
            raise PlatformError("several registrations share this issuer: send client_id")
        return matches[0]

    async def remove_platform(self, pid: str) -> bool:
        return pid.isalnum() and await self.store.delete(PLATFORMS, pid)

    # -- keys --------------------------------------------------------------

    async def keys(self) -> list[ToolKey]:
        found = await self.store.all(KEYS)
        keys = [msgspec.json.decode(v, type=ToolKey) for v in found.values()]
        return sorted(keys, key=lambda k: (k.created_at, k.kid))

    async def signing_key(self, now_ms: int) -> ToolKey:
        """The newest key that is not retired, made on first use."""
        active = [k for k in await self.keys() if k.published_until is None]
        if active:
            return active[-1]
        key = new_key(now_ms)
        await self.store.put_new(KEYS, key.kid, msgspec.json.encode(key))
        return key

    async def rotate(self, now_ms: int, grace_s: int = DEFAULT_GRACE_S) -> ToolKey:
        """A new signing key; the old ones stay published for `grace_s`, expired ones go."""
        fresh = new_key(now_ms)
        await self.store.put(KEYS, fresh.kid, msgspec.json.encode(fresh))
        for key in await self.keys():
            if key.kid == fresh.kid:
                continue
            if key.published_until is None:
                retired = msgspec.structs.replace(key, published_until=now_ms + grace_s * 1000)
                await self.store.put(KEYS, key.kid, msgspec.json.encode(retired))
            elif key.published_until <= now_ms:
                await self.store.delete(KEYS, key.kid)
        return fresh

    async def jwks(self, now_ms: int) -> dict[str, list[dict[str, str]]]:
        """The public keys a platform may verify our signatures with."""
        await self.signing_key(now_ms)
        published = [
            k for k in await self.keys() if k.published_until is None or k.published_until > now_ms
        ]
        return {"keys": [k.public_jwk() for k in published]}

    async def salt(self) -> bytes:
        """A random key of this installation, made once: derived ids and placements use it."""
        fresh = secrets.token_hex(32).encode()
        await self.store.put_new(TOOL, "salt", fresh)
        kept = await self.store.get(TOOL, "salt")
        assert kept is not None
        return kept
