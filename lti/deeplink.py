"""Deep Linking 2.0: an instructor places a class, or a replay, in a course.

The platform's LtiDeepLinkingRequest opens a choice kept for `CHOICE_TTL_S`
(`Choice`); the instructor picks a class of the course, a new class or a
published replay of one, and the tool answers with an LtiDeepLinkingResponse
signed by its own key: one `ltiResourceLink` item whose custom parameters
hold the signed placement (lti/links.py), auto-posted to the platform's
return URL. A class placement asks the platform for a line item, so its
launches carry one and scores need no line item of the tool's making; so
does a replay placement, for a column of its own ("<title> (replay)").
"""

from __future__ import annotations

import secrets
from typing import Any

import jwt
import msgspec

from lti.claims import DL, LTI, VERSION, DeepLinkingSettings
from lti.links import PLACEMENT_CLAIM, Placement
from lti.platforms import Platform, ToolKey

CHOICE_TTL_S = 3600
RESPONSE_TTL_S = 600
LINE_ITEM_MAXIMUM = 100


class Choice(msgspec.Struct, frozen=True):
    """A deep-linking request waiting for the instructor's choice."""

    platform_id: str
    deployment_id: str
    settings: DeepLinkingSettings
    context_id: str | None
    context_title: str | None
    user_id: str
    name: str

    @property
    def accepts_links(self) -> bool:
        return "ltiResourceLink" in self.settings.accept_types


def content_item(
    target: Placement, title: str, launch_url: str, token: str, with_line_item: bool
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "type": "ltiResourceLink",
        "title": title,
        "url": launch_url,
        "custom": {PLACEMENT_CLAIM: token},
    }
    if with_line_item:
        # A replay's column is apart from its class's: the async cohort's scores beside the
        # live ones, each the latest of its own, never one overwriting the other.
        label = title if target.kind == "class" else f"{title} (replay)"
        item["lineItem"] = {
            "scoreMaximum": LINE_ITEM_MAXIMUM,
            "label": label[:200],
            "tag": "classroom-quiz",
        }
    return item


def response_token(
    platform: Platform, choice: Choice, items: list[dict[str, Any]], key: ToolKey, now_s: int
) -> str:
    """The signed LtiDeepLinkingResponse: from the tool (its client id) to the platform."""
    claims: dict[str, Any] = {
        "iss": platform.client_id,
        "aud": platform.issuer,
        "iat": now_s,
        "exp": now_s + RESPONSE_TTL_S,
        "nonce": secrets.token_urlsafe(16),
        LTI + "deployment_id": choice.deployment_id,
        LTI + "message_type": "LtiDeepLinkingResponse",
        LTI + "version": VERSION,
        DL + "content_items": items,
    }
    if choice.settings.data is not None:
        claims[DL + "data"] = choice.settings.data
    return jwt.encode(claims, key.private_key(), algorithm="RS256", headers={"kid": key.kid})
