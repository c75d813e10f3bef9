"""Who may watch a recording, for every visibility and kind of credential."""

from __future__ import annotations

import pytest

from classroom.sharing import ADMIN, Access, access_for, permits, share

STAFF, LEARNER = access_for("host", 0, None), access_for("viewer", 0, None)
LINK, OLD_LINK = access_for("viewer", 0, 1), access_for("viewer", 0, 0)


@pytest.mark.parametrize(
    ("visibility", "admitted"),
    [
        ("private", {"admin", "staff"}),
        ("learners", {"admin", "staff", "learner"}),
        ("link", {"admin", "staff", "learner", "link"}),
    ],
)
def test_who_may_watch(visibility: str, admitted: set[str]) -> None:
    meta = {"visibility": visibility, "share_generation": 1}
    kinds = {"admin": ADMIN, "staff": STAFF, "learner": LEARNER, "link": LINK, "old": OLD_LINK}
    assert {name for name, access in kinds.items() if permits(meta, access)} == admitted


def test_private_is_the_default_and_moderators_are_staff() -> None:
    assert not permits({}, LEARNER) and permits({}, STAFF)
    assert access_for("moderator", 5, None) == Access("staff", 5)


def test_leaving_link_retires_its_share_links_for_good() -> None:
    meta: dict[str, object] = {}
    for visibility, generation in [
        ("link", 0), ("link", 0), ("learners", 1), ("private", 1), ("link", 1), ("private", 2),
    ]:  # fmt: skip
        meta |= share(meta, visibility)
        assert meta == {"visibility": visibility, "share_generation": generation}
