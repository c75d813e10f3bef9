"""A recording's report over HTTP: learners watch and vote on a real server, and the report
has their coverage along the recording and both cohorts of each poll; who may read it."""

from __future__ import annotations

from pathlib import Path

from classroom.replay import encode_polls
from tests.conftest import ADMIN, Server
from tests.replay_domain import QUIZ
from tests.replay_package import published_for_replay
from tests.test_console_api import ANA, BEN, call, create
from tests.test_replay import watch


async def test_an_organizer_reads_the_report_of_their_classs_recording(
    msgpack_server: Server, tmp_path: Path
) -> None:
    server = msgpack_server
    cid = await create(server, ANA)
    published_for_replay(tmp_path, "r-lesson", encode_polls([QUIZ]), class_id=cid)
    ann, ben = await watch(server, "r-lesson", "ann"), await watch(server, "r-lesson", "ben")
    await ann.call("replay:progress", {"position_ms": 60_000, "watched": [[0, 60_000]]})
    await ann.call("replay:progress", {"position_ms": 40_000, "watched": [[30_000, 40_000]]})
    await ben.call("replay:progress", {"position_ms": 20_000, "watched": [[0, 20_000]]})
    assert (await ann.call("replay:vote", {"poll_id": "quiz", "answer": [0]}))["ok"]
    assert (await ben.call("replay:vote", {"poll_id": "quiz", "answer": [1]}))["ok"]

    status, body = await call(server, "GET", "/api/recordings/r-lesson/report", ANA)
    assert status == 200, body
    cover = body["coverage"]
    assert (cover["bucket_ms"], cover["learners"]) == (5000, 2)
    viewers = [b["viewers"] for b in cover["buckets"][:13]]
    assert viewers == [2, 2, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1, 0]
    assert [b["again_ms"] for b in cover["buckets"][5:9]] == [0, 5000, 5000, 0]
    assert [b["at_ms"] for b in cover["buckets"] if b["stopped"]] == [20_000, 40_000]
    (quiz,) = body["polls"]
    assert quiz["live_results"]["counts"] == [7, 3]
    assert quiz["async_results"]["counts"] == [1, 1]
    assert (quiz["live_voters"], quiz["async_voters"], quiz["async_correct"]) == (10, 2, 1)

    # The admin and the class's hosts may; another organizer, a learner or nobody may not.
    host = await server.join(cid, "teacher", "host")
    learner = await server.join(cid, "lea")
    for bearer, expected in [(ADMIN, 200), (host.token, 200), (BEN, 404), (learner.token, 403)]:
        status, _ = await call(server, "GET", "/api/recordings/r-lesson/report", bearer)
        assert status == expected, bearer
    assert (await call(server, "GET", "/api/recordings/r-lesson/report", None))[0] == 401
