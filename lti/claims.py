"""The claims of an LTI 1.3 launch (1EdTech LTI Core, Deep Linking, AGS, NRPS), read into structs.

Only claims the tool uses are read; a launch whose required claims are
missing or of the wrong shape is refused with the reason. Roles map onto the
classroom's: Instructor is a host, TeachingAssistant a moderator, Learner
(and anyone else in the course) a participant.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

import msgspec

from classroom.commands import NAME_MAX, Name
from classroom.roles import Role

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
VERSION = "1.3.0"

SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READ = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_ROSTER = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership#"
INSTRUCTOR = MEMBERSHIP + "Instructor"
TEACHING_ASSISTANT = (
    "http://purl.imsglobal.org/vocab/lis/v2/membership/Instructor#TeachingAssistant"
)
LEARNER = MEMBERSHIP + "Learner"

MessageType = Literal["LtiResourceLinkRequest", "LtiDeepLinkingRequest"]
Short = Annotated[str, msgspec.Meta(max_length=255)]
Long = Annotated[str, msgspec.Meta(max_length=2048)]


class ClaimError(ValueError):
    """A launch whose claims are missing or wrong (with the reason)."""


class ResourceLink(msgspec.Struct):
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    title: Long | None = None


class Context(msgspec.Struct):
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
    title: Long | None = None
    label: Long | None = None


class AgsEndpoint(msgspec.Struct):
    scope: list[Long] = []
    lineitems: Long | None = None
    lineitem: Long | None = None


class NrpsEndpoint(msgspec.Struct):
    context_memberships_url: Long


class DeepLinkingSettings(msgspec.Struct):
    deep_link_return_url: Long
    accept_types: list[Short]
    accept_presentation_document_targets: list[Short] = []
    accept_multiple: bool | None = None
    title: Long | None = None
    data: Annotated[str, msgspec.Meta(max_length=4096)] | None = None


class Launch(msgspec.Struct):
    """A verified launch's claims, as the tool uses them."""

    issuer: str
    subject: str
    message_type: MessageType
    deployment_id: str
    roles: list[str]
    name: str
    target_link_uri: str | None = None
    resource_link: ResourceLink | None = None
    context: Context | None = None
    custom: dict[str, Any] = {}
    ags: AgsEndpoint | None = None
    nrps: NrpsEndpoint | None = None
    deep_linking: DeepLinkingSettings | None = None

    @property
    def role(self) -> Role:
        return classroom_role(self.roles)


def _field(claims: dict[str, Any], name: str, kind: type[Any], what: str) -> Any:
    value = claims.get(name)
    if value is None:
        return None
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as exc:
        raise ClaimError(f"the {what} claim is not valid: {exc}") from exc


def read_launch(claims: dict[str, Any]) -> Launch:
    """The launch's claims, after its signature, issuer, audience and times were checked."""
    version = claims.get(LTI + "version")
    if version != VERSION:
        raise ClaimError(f"an LTI {VERSION} launch is expected (version is {version!r})")
    kind = claims.get(LTI + "message_type")
    if kind not in ("LtiResourceLinkRequest", "LtiDeepLinkingRequest"):
        raise ClaimError(f"this tool takes no {kind!r} message")
    deployment = claims.get(LTI + "deployment_id")
    if not isinstance(deployment, str) or not deployment:
        raise ClaimError("the deployment_id claim is missing")
    roles = claims.get(LTI + "roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise ClaimError("the roles claim must be a list of role URIs")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 255:
        raise ClaimError("the sub claim (who launches) is missing")
    launch = Launch(
        issuer=str(claims["iss"]),
        subject=subject,
        message_type=kind,
        deployment_id=deployment,
        roles=roles,
        name=display_name(claims),
        target_link_uri=_field(claims, LTI + "target_link_uri", str, "target_link_uri"),
        resource_link=_field(claims, LTI + "resource_link", ResourceLink, "resource_link"),
        context=_field(claims, LTI + "context", Context, "context"),
        custom=_field(claims, LTI + "custom", dict[str, Any], "custom") or {},
        ags=_field(claims, AGS, AgsEndpoint, "AGS endpoint"),
        nrps=_field(claims, NRPS, NrpsEndpoint, "names and roles service"),
        deep_linking=_field(
            claims, DL + "deep_linking_settings", DeepLinkingSettings, "deep linking"
        ),
    )
    if kind == "LtiResourceLinkRequest" and launch.resource_link is None:
        raise ClaimError("a resource link launch needs the resource_link claim")
    if kind == "LtiDeepLinkingRequest" and launch.deep_linking is None:
        raise ClaimError("a deep linking launch needs the deep_linking_settings claim")
    return launch


def classroom_role(roles: list[str]) -> Role:
    """The most trusted classroom role that the LTI context roles give."""
    names = {_context_role(r) for r in roles}
    if "TeachingAssistant" in names:
        return "moderator"  # an Instructor sub-role: never more than a moderator
    if "Instructor" in names:
        return "host"
    return "participant"


def _context_role(uri: str) -> str:
    """`Instructor`, `TeachingAssistant`, `Learner`...: LIS context roles, long or short."""
    if uri == TEACHING_ASSISTANT or uri.endswith("Instructor#TeachingAssistant"):
        return "TeachingAssistant"
    if uri.startswith(MEMBERSHIP):
        return uri.removeprefix(MEMBERSHIP)
    return uri if "/" not in uri and "#" not in uri else ""


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def display_name(claims: dict[str, Any]) -> str:
    """The person's name from the claims (name, or given and family names), made displayable."""
    name = claims.get("name")
    if not isinstance(name, str) or not name.strip():
        parts = [claims.get("given_name"), claims.get("family_name")]
        name = " ".join(p for p in parts if isinstance(p, str) and p.strip())
    cleaned = " ".join(_CONTROL.sub(" ", name or "").split())[:NAME_MAX]
    try:
        return msgspec.convert(cleaned, Name)
    except msgspec.ValidationError:
        return "Anonymous"  # nothing visible in it
