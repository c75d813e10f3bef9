"""Who may watch a recording: its visibility, and what each kind of credential allows.

A recording's `visibility` says who may watch it besides its staff (the
admin, and the hosts and moderators of its class):

    private    nobody else (the default: a recording is private until shared)
    learners   holders of a personal replay token
    link       those too, and whoever redeemed a share link of the current
               generation (leaving `link` starts a new generation, so a share
               link that leaked stays dead when the recording is shared again)

With `link`, the host may also let a share link's holders watch without a
name (`anonymous_viewing`, off by default): such guests only watch, and they
lose access as soon as the host turns it off.

Pure rules on a recording's metadata (`visibility`, `share_generation`), used
by the HTTP routes and by anything else that admits replay viewers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

Visibility = Literal["private", "learners", "link"]
VISIBILITIES: tuple[Visibility, ...] = get_args(Visibility)
Grant = Literal["staff", "learner", "link"]
"""What a credential allows: everything, a personal viewer's access, a share link's."""


@dataclass(frozen=True)
class Access:
    grant: Grant
    expires: int | None = None
    """When the credential expires (epoch s); None for the admin key."""
    link: int | None = None
    """The share-link generation a `link` grant belongs to."""
    guest: bool = False
    """A `link` grant redeemed without a name: watching only, while the recording allows it."""


ADMIN = Access("staff")


def access_for(role: str, expires: int, link: int | None, guest: bool = False) -> Access:
    """The access of a replay token: its role, and the share link it came from if any."""
    if role != "viewer":
        return Access("staff", expires)
    if link is not None or guest:
        return Access("link", expires, link, guest)
    return Access("learner", expires)


def anonymous_viewing(meta: Mapping[str, Any]) -> bool:
    """Whether a share link's holders may watch without a name (the host's choice)."""
    return meta.get("visibility") == "link" and bool(meta.get("anonymous_viewing", False))


def generation(meta: Mapping[str, Any]) -> int:
    return int(meta.get("share_generation", 0))


def permits(meta: Mapping[str, Any], access: Access) -> bool:
    """Whether `access` may watch the recording as it is shared now."""
    visibility = meta.get("visibility", "private")
    match access.grant:
        case "staff":
            return True
        case "learner":
            return visibility in ("learners", "link")
        case "link":
            current = visibility == "link" and access.link == generation(meta)
            return current and (not access.guest or anonymous_viewing(meta))
    return False


def share(meta: Mapping[str, Any], visibility: Visibility) -> dict[str, Any]:
    """The metadata changes that share a recording as `visibility`."""
    leaving_link = meta.get("visibility") == "link" and visibility != "link"
    return {"visibility": visibility, "share_generation": generation(meta) + leaving_link}
