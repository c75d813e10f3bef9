"""Who is asking about a recording over HTTP, and the signed URLs its files are served by.

What each credential may see is classroom/sharing.py's to say. Credentials
come as `Authorization: Bearer` (the admin key, or a replay token of this
recording) or, for the package's files, as the signed and expiring URLs the
manifest hands out, which a `<video>` element can load; the staff's Atom
digest has signed URLs of its own, for feed readers that send no header.
Credentials are checked before the store is read: a request without them
learns nothing about a recording, not even whether it exists.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from classroom.roles import Role, is_staff
from classroom.sharing import ADMIN, Access, access_for, permits
from signaling.auth import Claims, ReplayClaims, TokenError, verify, verify_replay
from web.api import ApiError
from web.keys import SETTINGS

FILE_URL_TTL_S = 4 * 3600
"""Signed file URLs last this long (at most as long as the token they were made for)."""


def bearer(request: web.Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return (value.strip() or None) if scheme.lower() == "bearer" else None


def is_admin(request: web.Request, given: str | None) -> bool:
    key = request.app[SETTINGS].admin_key
    return bool(key and given and hmac.compare_digest(given.encode(), key.encode()))


def unauthorized(message: str) -> ApiError:
    error = ApiError(401, "unauthorized", message)
    error.response.headers["WWW-Authenticate"] = 'Bearer realm="recordings"'
    return error


@dataclass(frozen=True)
class Caller:
    """Who sent a request about a recording, from its bearer credential."""

    admin: bool = False
    replay: ReplayClaims | None = None
    """A replay token of this recording."""
    joined: Claims | None = None
    """A class's join token (of any class: compare it with the recording's)."""

    @property
    def access(self) -> Access | None:
        """What the caller may see; None for a join token, which opens no recording."""
        if self.admin:
            return ADMIN
        claims = self.replay
        if claims is None:
            return None
        return access_for(claims.role, claims.expires, claims.link, claims.guest)

    def staff_role(self, meta: dict[str, Any]) -> Role | None:
        """ "host" or "moderator" when the caller is staff of this recording's class."""
        if self.admin:
            return "host"
        if self.replay is not None and self.replay.role != "viewer":
            return self.replay.role
        if self.joined is not None and self.joined.class_id == meta.get("class_id"):
            return self.joined.role if is_staff(self.joined.role) else None
        return None


def caller(request: web.Request, recording_id: str) -> Caller:
    """The admin key, a replay token of this recording or a join token; 401 for anything else."""
    given = bearer(request)
    if given is None:
        raise unauthorized("send Authorization: Bearer <replay token>")
    if is_admin(request, given):
        return Caller(admin=True)
    secret = request.app[SETTINGS].secret
    try:
        return Caller(replay=verify_replay(secret, given, recording_id))
    except TokenError as not_replay:
        try:
            return Caller(joined=verify(secret, given))
        except TokenError:
            raise unauthorized(str(not_replay)) from not_replay


def require_permitted(meta: dict[str, Any], access: Access) -> None:
    if not permits(meta, access):
        raise ApiError(403, "forbidden", "this recording is not shared with you (yet)")


# -- signed file URLs ----------------------------------------------------------


def _mac(secret: str, purpose: bytes, message: str) -> str:
    """A URL's signature, under a key of its own per purpose, derived from the server secret."""
    key = hmac.new(secret.encode(), purpose, hashlib.sha256).digest()
    digest = hmac.new(key, message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _grant_tag(access: Access) -> str:
    if access.grant != "link":
        return access.grant
    return f"{'guest' if access.guest else 'link'}-{access.link}"


def _signature(secret: str, recording_id: str, name: str, expires: int, tag: str) -> str:
    message = f"{recording_id}\n{name}\n{expires}\n{tag}"
    return _mac(secret, b"classroom: replay file URLs", message)


def file_url(secret: str, recording_id: str, name: str, access: Access, expires: int) -> str:
    """The path and query of a package file that whoever holds it may load until `expires`."""
    tag = _grant_tag(access)
    query = {"exp": expires, "g": tag, "sig": _signature(secret, recording_id, name, expires, tag)}
    return f"/api/recordings/{quote(recording_id)}/files/{quote(name)}?{urlencode(query)}"


def url_expiry(access: Access, now: float | None = None) -> int:
    expires = int(now if now is not None else time.time()) + FILE_URL_TTL_S
    return expires if access.expires is None else min(expires, access.expires)


def signed_access(request: web.Request, recording_id: str, name: str) -> Access:
    """The access a signed file URL carries; 401 when it is forged or has expired."""
    query = request.query
    tag, sig = query.get("g", ""), query.get("sig", "")
    try:
        expires = int(query.get("exp", ""))
    except ValueError as exc:
        raise unauthorized("this file link is not valid") from exc
    expected = _signature(request.app[SETTINGS].secret, recording_id, name, expires, tag)
    if not hmac.compare_digest(sig.encode(), expected.encode()):
        raise unauthorized("this file link is not valid")
    if expires < time.time():
        raise unauthorized("this file link has expired: reload the replay")
    kind, _, generation = tag.partition("-")
    if kind in ("link", "guest") and generation.isdigit():
        return Access("link", expires, int(generation), guest=kind == "guest")
    return Access("staff" if tag == "staff" else "learner", expires)


# -- signed digest feed URLs ---------------------------------------------------


def feed_signature(secret: str, recording_id: str, expires: int) -> str:
    """Opens the Atom digest of this recording, and nothing else, until `expires`."""
    return _mac(secret, b"classroom: digest feed URLs", f"{recording_id}\n{expires}")


def check_feed(request: web.Request, recording_id: str, expires: int, sig: str) -> None:
    """401 unless `sig` is this recording's feed signature and has not expired."""
    expected = feed_signature(request.app[SETTINGS].secret, recording_id, expires)
    if not hmac.compare_digest(sig.encode(), expected.encode()):
        raise unauthorized("this feed link is not valid")
    if expires < time.time():
        raise unauthorized("this feed link has expired: ask the replay for a new one")
