"""Checks that xAPI statements are valid xAPI 1.0.3 and follow the Virtual Classroom profile.

The statement rules of xAPI 1.0.3 are checked by ralph's statement model
(ralph-malph, the Learning Record Store by France Université Numérique): one
inverse functional identifier per agent, UUIDs, IRIs, language maps,
interaction components, no empty values, and so on. Ralph also models the
profile's statements, but after an earlier draft of it (dedicated verbs for
muting and hands, a required planned duration, polls without interaction
fields): only its models of the templates that did not change (left,
posted-public-message) are used. The templates of the profile as published
(https://w3id.org/xapi/virtual-classroom/v/1) are checked by `check_profile`,
written from its JSON-LD document.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from ralph.models.xapi.base.statements import BaseXapiStatement
from ralph.models.xapi.virtual_classroom.statements import (
    VirtualClassroomLeft,
    VirtualClassroomPostedPublicMessage,
)

PROFILE = "https://w3id.org/xapi/virtual-classroom"
CLASS_TYPE = f"{PROFILE}/activity-types/virtual-classroom"
INTERACTION = "http://adlnet.gov/expapi/activities/cmi.interaction"
MESSAGE = "https://w3id.org/xapi/acrossx/activities/message"
SESSION_ID = "https://w3id.org/xapi/cmi5/context/extensions/sessionid"
INTERACTED_EXTENSIONS = {
    f"{PROFILE}/extensions/hand-raised",
    f"{PROFILE}/extensions/micro-activated",
    f"{PROFILE}/extensions/camera-activated",
    f"{PROFILE}/extensions/screen-shared",
}

# verb -> (object's activity type, whether the parent must be the class, required paths)
TEMPLATES: dict[str, tuple[str, bool, tuple[str, ...]]] = {
    "http://adlnet.gov/expapi/verbs/initialized": (CLASS_TYPE, False, ()),
    "http://adlnet.gov/expapi/verbs/terminated": (CLASS_TYPE, False, ("result.duration",)),
    "http://activitystrea.ms/join": (CLASS_TYPE, False, ()),
    "http://activitystrea.ms/leave": (CLASS_TYPE, False, ()),
    "http://adlnet.gov/expapi/verbs/asked": (
        INTERACTION,
        True,
        ("object.definition.interactionType",),
    ),
    "http://adlnet.gov/expapi/verbs/answered": (
        INTERACTION,
        True,
        ("object.definition.interactionType", "result.response"),
    ),
    "https://w3id.org/xapi/acrossx/verbs/posted": (MESSAGE, True, ()),
    "http://adlnet.gov/expapi/verbs/interacted": (CLASS_TYPE, False, ()),
}

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
DURATION = re.compile(r"^PT\d+(\.\d{1,2})?S$")


def path(statement: dict[str, Any], dotted: str) -> Any:
    node: Any = statement
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def check_statement(statement: dict[str, Any]) -> None:
    """xAPI 1.0.3 statement rules, by ralph's model and by what it leaves to us."""
    BaseXapiStatement(**statement)
    assert uuid.UUID(statement["id"]).version == 5
    assert ISO_UTC.match(statement["timestamp"]), statement["timestamp"]
    assert datetime.fromisoformat(statement["timestamp"]).tzinfo is not None
    assert statement["version"] == "1.0.3"
    actor = statement["actor"]
    assert actor["objectType"] == "Agent" and set(actor) <= {"objectType", "name", "account"}
    assert set(actor["account"]) == {"homePage", "name"}
    assert statement["verb"]["display"]["en-US"]
    assert statement["object"]["objectType"] == "Activity"


def check_profile(statement: dict[str, Any], class_iri: str) -> None:
    """The template of the Virtual Classroom profile (v/1) the statement's verb names."""
    verb = statement["verb"]["id"]
    assert verb in TEMPLATES, verb
    object_type, with_parent, required = TEMPLATES[verb]
    assert path(statement, "object.definition.type") == object_type
    context = statement["context"]
    uuid.UUID(context["registration"])
    uuid.UUID(context["extensions"][SESSION_ID])
    category = [a["id"] for a in context["contextActivities"]["category"]]
    assert PROFILE in category
    if with_parent:
        parent = context["contextActivities"]["parent"]
        assert [(a["id"], a["definition"]["type"]) for a in parent] == [(class_iri, CLASS_TYPE)]
    for dotted in required:
        assert path(statement, dotted) is not None, dotted
    if verb.endswith("/terminated"):
        assert DURATION.match(statement["result"]["duration"])
    if verb.endswith("/interacted"):
        flags = set(context["extensions"]) & INTERACTED_EXTENSIONS
        assert len(flags) == 1 and isinstance(context["extensions"][flags.pop()], bool)
    if verb == "http://activitystrea.ms/leave":
        VirtualClassroomLeft(**statement)
    if verb == "https://w3id.org/xapi/acrossx/verbs/posted":
        VirtualClassroomPostedPublicMessage(**statement)


def check_all(statements: list[dict[str, Any]], class_iri: str) -> None:
    ids = [s["id"] for s in statements]
    assert len(set(ids)) == len(ids), "statement ids are unique"
    for statement in statements:
        check_statement(statement)
        check_profile(statement, class_iri)
    times = [s["timestamp"] for s in statements]
    assert times == sorted(times), "statements come in time order"
