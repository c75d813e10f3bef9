"""OIDC third-party login initiation, and the launch's id_token checked (1EdTech Security).

1. The platform sends the browser to the tool's login URL with its issuer
   and a login hint. The tool keeps a login under way: a random `state`, a
   random `nonce`, and a random value that only this browser receives, in a
   cookie. It sends the browser to the platform's authorization endpoint.
2. The platform posts an id_token and the `state` back to the launch URL.
   The cookie must hold the login's browser value, the login is then taken
   (once: a second post of the same state finds nothing), and the id_token
   must be signed by a key of the platform's set (RS256 only), be for this
   tool (`aud`, and `azp` when several audiences or any `azp`), come from the
   registered issuer, be current (`exp`, `iat`, within `LEEWAY_S`), carry
   the login's `nonce`, and name a registered deployment.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any
from urllib.parse import urlencode

import jwt
import msgspec

from lti.claims import ClaimError, Launch, read_launch
from lti.jwks import NoKey, PlatformKeys
from lti.platforms import Platform

LOGIN_TTL_S = 600
"""How long a login may take between the redirect and the launch."""
LEEWAY_S = 60
"""Clock skew allowed between the platform and us."""
MAX_TOKEN = 64 * 1024


class LaunchError(Exception):
    """A launch refused; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Pending(msgspec.Struct, frozen=True):
    """A login under way, kept until its launch."""

    platform_id: str
    nonce: str
    browser: str
    """What the browser's cookie must hold."""


def cookie_name(state: str) -> str:
    """One cookie per login, so two tabs launching at once do not clobber each other."""
    return "lti_" + hashlib.sha256(state.encode()).hexdigest()[:16]


def start_login(
    platform: Platform, launch_url: str, login_hint: str, message_hint: str | None
) -> tuple[str, Pending, str]:
    """A new login: its state, what to keep, and the authorization URL to send the browser to."""
    state = secrets.token_urlsafe(32)
    pending = Pending(platform.id, secrets.token_urlsafe(32), secrets.token_urlsafe(32))
    query = {
        "scope": "openid",
        "response_type": "id_token",
        "response_mode": "form_post",
        "prompt": "none",
        "client_id": platform.client_id,
        "redirect_uri": launch_url,
        "login_hint": login_hint,
        "state": state,
        "nonce": pending.nonce,
    }
    if message_hint is not None:
        query["lti_message_hint"] = message_hint
    joiner = "&" if "?" in platform.auth_url else "?"
    return state, pending, platform.auth_url + joiner + urlencode(query)


def check_browser(pending: Pending, cookie: str | None) -> None:
    if cookie is None or not hmac.compare_digest(cookie.encode(), pending.browser.encode()):
        raise LaunchError(
            "this launch did not start in this browser (its login cookie is missing or "
            "different): launch again from the course",
            403,
        )


async def verify_id_token(
    id_token: str, pending: Pending, platform: Platform, keys: PlatformKeys
) -> Launch:
    if len(id_token) > MAX_TOKEN:
        raise LaunchError("the id_token is too large")
    try:
        header = jwt.get_unverified_header(id_token)
    except jwt.InvalidTokenError as exc:
        raise LaunchError(f"the id_token is not a JWT: {exc}") from exc
    kid = header.get("kid")
    if header.get("alg") != "RS256" or not isinstance(kid, str):
        raise LaunchError("the id_token must be signed with RS256 and name its key (kid)")
    try:
        key = await keys.key(platform.jwks_url, kid)
    except NoKey as exc:
        raise LaunchError(f"the id_token's signature cannot be checked: {exc}", 401) from exc
    claims = _decoded(id_token, key, platform)
    if claims.get("nonce") != pending.nonce:
        raise LaunchError("the id_token's nonce is not this login's (a replayed launch?)", 401)
    try:
        launch = read_launch(claims)
    except ClaimError as exc:
        raise LaunchError(str(exc)) from exc
    if launch.deployment_id not in platform.deployments:
        raise LaunchError("this deployment is not registered for this platform", 403)
    return launch


def _decoded(id_token: str, key: Any, platform: Platform) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key,
            algorithms=["RS256"],
            audience=platform.client_id,
            issuer=platform.issuer,
            leeway=LEEWAY_S,
            options={"require": ["exp", "iat", "iss", "aud", "sub", "nonce"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise LaunchError("the id_token has expired", 401) from exc
    except jwt.InvalidTokenError as exc:
        raise LaunchError(f"the id_token is not valid: {exc}", 401) from exc
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    azp = claims.get("azp")
    if (len(audiences) > 1 or azp is not None) and azp != platform.client_id:
        raise LaunchError("the id_token's authorized party (azp) is not this tool", 401)
    return claims
