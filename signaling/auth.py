"""Join tokens: HS256 JWTs that carry who the user is, in which class, with which role.

Two kinds share one secret: personal tokens (`sub` names the user) and
invites (`inv: true`, no `sub`), which the join endpoint exchanges for a
personal token once the person has given a name.

Replay tokens are their recording's counterpart: `rec` (the recording id)
instead of `cls`, and a replay role. A class token is never a replay token
nor the reverse: each kind requires the claim the other lacks.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

import jwt
import msgspec

from classroom.commands import Name, UserId, readable
from classroom.roles import ReplayRole, Role

ALGORITHM = "HS256"
DEFAULT_TTL_S = 6 * 3600
LEEWAY_S = 30
MIN_SECRET_BYTES = 32
"""RFC 7518: an HS256 key is at least 256 bits. A shorter one can be brute-forced offline
from any token a participant holds, and a host token forged."""


def check_secret(secret: str) -> None:
    """Refuse a missing or short token secret (ValueError with the reason)."""
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ValueError(
            f"the token secret must be at least {MIN_SECRET_BYTES} bytes "
            f"(this one has {len(secret.encode())}); generate one with "
            "`openssl rand -base64 32`"
        )


REPLAY_TTL_S = 7 * 24 * 3600


class TokenError(Exception):
    """The token is missing, malformed, badly signed, expired or for another class."""


class _ClaimsSchema(msgspec.Struct):
    sub: UserId
    name: Name
    cls: str
    role: Role
    exp: int


class _InviteSchema(msgspec.Struct):
    cls: str
    role: Role
    exp: int
    inv: bool


class _ReplaySchema(msgspec.Struct):
    sub: UserId
    name: Name
    rec: str
    role: ReplayRole
    exp: int
    lnk: int | None = None
    gst: bool = False


class _ReplayInviteSchema(msgspec.Struct):
    rec: str
    exp: int
    inv: bool
    gen: int = 0


@dataclass(frozen=True)
class Invite:
    role: Role
    id: str
    """The same for every copy of one invite: a digest of its signed claims."""


@dataclass(frozen=True)
class Claims:
    user_id: str
    name: str
    class_id: str
    role: Role
    expires: int


def mint(
    secret: str, class_id: str, user_id: str, name: str, role: Role, ttl_s: int = DEFAULT_TTL_S
) -> str:
    now = int(time.time())
    claims = {"sub": user_id, "name": name, "cls": class_id, "role": role, "iat": now}
    claims["exp"] = now + ttl_s
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


INVITE_TTL_S = 7 * 24 * 3600


def mint_invite(secret: str, class_id: str, role: Role, ttl_s: int = INVITE_TTL_S) -> str:
    now = int(time.time())
    claims = {"cls": class_id, "role": role, "inv": True, "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def new_user_id() -> str:
    return "u-" + secrets.token_hex(6)


def _decode(
    secret: str,
    token: object,
    require: tuple[str, ...] = ("exp", "cls", "role"),
    kind: str = "join",
    verify_exp: bool = True,
) -> dict[str, Any]:
    if not isinstance(token, str) or not token or len(token) > 4096:
        raise TokenError(f"a {kind} token is required")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            leeway=LEEWAY_S,
            options={"require": list(require), "verify_exp": verify_exp},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenError(f"the {kind} token has expired") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"invalid {kind} token: {exc}") from exc
    return claims


def verify(
    secret: str, token: object, class_id: str | None = None, allow_expired: bool = False
) -> Claims:
    """Check a personal token; `class_id`, when given, must match its class.

    `allow_expired` accepts an expired token, to renew the identity it names.
    """
    try:
        claims = _decode(secret, token, verify_exp=not allow_expired)
        parsed = msgspec.convert(claims, _ClaimsSchema)
    except msgspec.ValidationError as exc:
        raise TokenError(f"invalid join token claims: {readable(str(exc))}") from exc
    if class_id is not None and parsed.cls != class_id:
        raise TokenError("the join token is for another class")
    return Claims(parsed.sub, parsed.name, parsed.cls, parsed.role, parsed.exp)


def verify_invite(secret: str, token: object, class_id: str) -> Role:
    return read_invite(secret, token, class_id).role


def read_invite(secret: str, token: object, class_id: str) -> Invite:
    claims = _decode(secret, token)
    try:
        parsed = msgspec.convert(claims, _InviteSchema)
    except msgspec.ValidationError as exc:
        raise TokenError(f"invalid invite: {exc}") from exc
    if not parsed.inv or parsed.cls != class_id:
        raise TokenError("the invite is for another class")
    canonical = json.dumps(claims, sort_keys=True, separators=(",", ":")).encode()
    return Invite(parsed.role, hashlib.sha256(canonical).hexdigest()[:8])


# -- replay tokens -----------------------------------------------------------


@dataclass(frozen=True)
class ReplayClaims:
    user_id: str
    name: str
    recording_id: str
    role: ReplayRole
    expires: int
    link: int | None = None
    """The share links' generation when redeemed from one (None: a personal token)."""
    guest: bool = False
    """Redeemed without a name, to watch only (where the recording allows it)."""


def mint_replay(
    secret: str,
    recording_id: str,
    user_id: str,
    name: str,
    role: ReplayRole = "viewer",
    ttl_s: int = REPLAY_TTL_S,
    link: int | None = None,
    guest: bool = False,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": user_id, "name": name, "rec": recording_id, "role": role}
    claims |= {"iat": now, "exp": now + ttl_s}
    if link is not None:
        claims["lnk"] = link
    if guest:
        claims["gst"] = True
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def mint_replay_invite(
    secret: str, recording_id: str, generation: int, ttl_s: int = 30 * 24 * 3600
) -> str:
    """A share link's key: anyone holding it may ask for a replay token while it is valid."""
    now = int(time.time())
    claims = {"rec": recording_id, "inv": True, "gen": generation, "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_replay(secret: str, token: object, recording_id: str | None = None) -> ReplayClaims:
    """Check a replay token; `recording_id`, when given, must match its recording."""
    raw = _decode(secret, token, ("exp", "rec", "role", "sub"), "replay")
    try:
        parsed = msgspec.convert(raw, _ReplaySchema)
    except msgspec.ValidationError as exc:
        raise TokenError(f"invalid replay token claims: {exc}") from exc
    if recording_id is not None and parsed.rec != recording_id:
        raise TokenError("the replay token is for another recording")
    return ReplayClaims(
        parsed.sub, parsed.name, parsed.rec, parsed.role, parsed.exp, parsed.lnk, parsed.gst
    )


def is_replay_token(token: object) -> bool:
    """Whether a token says it is a replay token. Unverified: it only chooses which check
    `verify_replay` or `verify` then makes in full."""
    if not isinstance(token, str):
        return False
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return isinstance(claims, dict) and "rec" in claims


def verify_replay_invite(secret: str, token: object, recording_id: str) -> int:
    """Check a share link's key; returns its generation."""
    raw = _decode(secret, token, ("exp", "rec", "inv"), "share link")
    try:
        parsed = msgspec.convert(raw, _ReplayInviteSchema)
    except msgspec.ValidationError as exc:
        raise TokenError(f"invalid share link: {exc}") from exc
    if not parsed.inv or parsed.rec != recording_id:
        raise TokenError("the share link is for another recording")
    return parsed.gen


# -- organizer tokens --------------------------------------------------------

ORGANIZER_TTL_S = 30 * 24 * 3600


class _OrganizerSchema(msgspec.Struct):
    sub: UserId
    name: Name
    org: Literal[True]
    exp: int


@dataclass(frozen=True)
class OrganizerClaims:
    """Someone who creates classes and manages those they created (not the operator)."""

    user_id: str
    name: str
    expires: int


def mint_organizer(secret: str, user_id: str, name: str, ttl_s: int = ORGANIZER_TTL_S) -> str:
    now = int(time.time())
    claims = {"sub": user_id, "name": name, "org": True, "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_organizer(secret: str, token: object) -> OrganizerClaims:
    """Check an organizer token: `org` and no class or recording (a join, replay or invite
    token is never an organizer's, nor the reverse: those require `cls` or `rec`)."""
    raw = _decode(secret, token, ("exp", "sub", "org"), "organizer")
    if "cls" in raw or "rec" in raw:
        raise TokenError("invalid organizer token: it names a class or recording")
    try:
        parsed = msgspec.convert(raw, _OrganizerSchema)
    except msgspec.ValidationError as exc:
        raise TokenError(f"invalid organizer token claims: {readable(str(exc))}") from exc
    return OrganizerClaims(parsed.sub, parsed.name, parsed.exp)
