"""A replay's quiz scores in the course's gradebook, against the simulated LMS.

An instructor records a class with two quiz questions (their answers
published in class), publishes it for learners and places the replay in the
course by deep linking; a learner launched into the placed replay answers
the questions in the recording's stream. Each change of her score reaches
the platform's real AGS endpoint, in a line item of the replay's own; a
failing endpoint is retried; a score a newer one replaced is never sent
after it; a restart, or an outbox that lost the score, loses nothing.
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classroom import commands as c
from classroom.replay import Recording
from lti.scores import ags_score, replay_score
from tests.conftest import running
from tests.lti_platform import Browser, Platform, browser_session
from tests.peer import Peer
from tests.replay_domain import QUIZ, UNPUBLISHED, WORDS, StreamHarness
from tests.test_lti import ADA, TEACHER, Lms, _post, _until, lti_settings
from tests.test_polls import new_poll
from tests.test_recording import published
from web.lti_api import LTI

SCORE_KEYS = ("scoreGiven", "scoreMaximum", "activityProgress", "gradingProgress")


def test_a_replay_score_counts_the_marked_quiz_questions_only() -> None:
    second = dataclasses.replace(QUIZ, poll_id="quiz2", correct=[1])
    h = StreamHarness(
        Recording("rec1", "c1", "Geometry", 600_000, [QUIZ, UNPUBLISHED, WORDS, second])
    )
    h.visit("cy")
    h.visit("teacher", "host")
    assert replay_score(h.stream, "cy") is None  # no ballot yet
    h.do("cy", c.ReplayVote(poll_id="unpub", answer=[0]))  # unrevealed: never marked
    h.do("cy", c.ReplayVote(poll_id="words", answer="wave"))  # anonymous: never counts
    assert replay_score(h.stream, "cy") is None
    h.clock.advance(1000)
    h.do("cy", c.ReplayVote(poll_id="quiz", answer=[0]))
    score = replay_score(h.stream, "cy")
    assert score is not None
    assert (score.given, score.maximum, score.completed, score.at) == (1, 2, False, h.clock.now)
    assert ags_score(score, "s-1")["activityProgress"] == "InProgress"
    h.clock.advance(1000)
    h.do("cy", c.ReplayVote(poll_id="quiz2", answer=[0]))
    score = replay_score(h.stream, "cy")
    assert score is not None
    assert (score.given, score.maximum, score.completed, score.at) == (1, 2, True, h.clock.now)
    assert ags_score(score, "s-1")["activityProgress"] == "Completed"
    h.do("teacher", c.ReplayVote(poll_id="quiz", answer=[0]))
    assert replay_score(h.stream, "teacher") is None  # staff get no score


@dataclass
class PlacedReplay:
    recording_id: str
    polls: list[str]
    custom: dict[str, str]
    label: str


async def placed_replay(env: Lms) -> PlacedReplay:
    """A recorded class with two published quiz questions, shared with learners and placed."""
    srv = env.server
    _, teacher = await env.joined(TEACHER)
    host = Peer(srv.url, teacher["token"])
    srv.peers.append(host)
    await host.connect()
    recording_id = (await host.call("recording:start"))["recording_id"]
    polls = []
    for right in ([1], [2]):
        poll_id = await new_poll(host, correct=right)
        assert (await host.call("poll:close", {"poll_id": poll_id}))["ok"]
        assert (await host.call("poll:publish", {"poll_id": poll_id}))["ok"]
        polls.append(poll_id)
    assert (await host.call("recording:stop"))["ok"]
    await published(srv.url, recording_id)
    status, body = await srv.http(
        "POST", f"/api/recordings/{recording_id}/publish", {"visibility": "learners"}
    )
    assert status == 202, body
    await published(srv.url, recording_id)

    answer = await env.launch(TEACHER, kind="LtiDeepLinkingRequest")
    status, body = await _post(srv.url + answer.location, {"kind": "replay", "id": recording_id})
    assert status == 200, body
    await env.browser.post(body["return_url"], {"JWT": body["jwt"]})
    [item] = env.platform.deep_links[-1][
        "https://purl.imsglobal.org/spec/lti-dl/claim/content_items"
    ]
    return PlacedReplay(recording_id, polls, item["custom"], item["lineItem"]["label"])


async def watch(env: Lms, replay: PlacedReplay) -> Peer:
    """The learner launched into the placed replay, connected to its stream."""
    landed = await env.launch(ADA, resource_link="replay-link", custom=replay.custom)
    assert landed.status == 303, landed.text
    path, _, token = landed.location.partition("#token=")
    assert path == f"/replay/{replay.recording_id}"
    peer = env.server.peer(token)
    await peer.connect(expect="replay:state")
    return peer


async def vote(peer: Peer, poll_id: str, answer: list[int]) -> None:
    assert (await peer.call("replay:vote", {"poll_id": poll_id, "answer": answer}))["ok"]


def marks(score: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(score[k] for k in SCORE_KEYS)


async def received(platform: Platform, count: int) -> list[dict[str, Any]]:
    await _until(lambda: len(platform.scores) >= count, tries=600)
    return platform.scores


def in_order(scores: list[dict[str, Any]]) -> bool:
    """The platform got each learner's scores oldest first (AGS `timestamp` order)."""
    stamps = [s["timestamp"] for s in scores]
    return stamps == sorted(stamps) and len(set(stamps)) == len(stamps)


async def test_each_change_of_a_replay_score_reaches_its_own_column(tmp_path: Path) -> None:
    platform = Platform(fail_scores=2)
    await platform.start()
    try:
        async with running(lti_settings(tmp_path)) as srv, browser_session() as http:
            platform.tool_url = srv.url
            assert (await srv.http("POST", "/api/lti/platforms", platform.registration()))[0] == 201
            env = Lms(srv, platform, Browser(http))
            replay = await placed_replay(env)
            assert replay.label.endswith(" (replay)")
            ada = await watch(env, replay)
            first, second = replay.polls

            await vote(ada, first, [1])  # right: 1 of 2, not done yet
            [one] = await received(platform, 1)
            assert platform.score_tries == 3  # two refusals, then accepted
            assert marks(one) == (1, 2, "InProgress", "FullyGraded")
            await vote(ada, second, [0])  # wrong: 1 of 2, done
            await received(platform, 2)
            await vote(ada, second, [2])  # changed to right: 2 of 2
            scores = await received(platform, 3)
            assert [marks(s) for s in scores] == [
                (1, 2, "InProgress", "FullyGraded"),
                (1, 2, "Completed", "FullyGraded"),
                (2, 2, "Completed", "FullyGraded"),
            ]
            assert {s["userId"] for s in scores} == {"s-1"}
            assert in_order(scores)
            # One line item, the replay's own, made once for its resource link.
            [item] = platform.lineitems
            assert item["resourceLinkId"] == "replay-link"
            assert item["label"].endswith(" (replay)")
            assert {s["lineitem"] for s in scores} == {"1"}
        assert len(platform.scores) == 3
    finally:
        await platform.stop()


async def test_newer_scores_replace_older_ones_across_a_restart(tmp_path: Path) -> None:
    platform = Platform(fail_scores=10**6)
    await platform.start()
    settings = lti_settings(tmp_path)
    try:
        async with running(settings) as srv, browser_session() as http:
            platform.tool_url = srv.url
            assert (await srv.http("POST", "/api/lti/platforms", platform.registration()))[0] == 201
            env = Lms(srv, platform, Browser(http))
            replay = await placed_replay(env)
            ada = await watch(env, replay)
            first, second = replay.polls
            await vote(ada, first, [0])
            await _until(lambda: platform.score_tries >= 2)  # refused, and tried again
            await vote(ada, first, [1])
            await vote(ada, second, [2])
            await _until(lambda: platform.score_tries >= 3)  # the newest, at least once
        # The gradebook is back while the server is down: only the newest score goes.
        platform.fail_scores = 0
        async with running(settings) as srv:
            platform.tool_url = srv.url
            [newest] = await received(platform, 1)
            assert marks(newest) == (2, 2, "Completed", "FullyGraded")
            state = srv.app[LTI].grades.outbox.state
            await _until(lambda: not state.pending())
            outcomes = sorted(
                str(d.outcome) for e in state.entries.values() for d in e.deliveries.values()
            )
            # The older ones were dropped unsent (a quick second ballot may have folded
            # into the third's score before its own was computed: then two, not three).
            assert outcomes.count("delivered") == 1 and set(outcomes) == {"delivered", "dropped"}
        assert len(platform.scores) == 1

        # An outbox that lost the score (a crash before it was written, or a lost disk):
        # the stream's next load enqueues the learner's latest score again.
        platform.scores.clear()
        shutil.rmtree(tmp_path / "lti-scores")
        async with running(settings) as srv, browser_session() as http:
            platform.tool_url = srv.url
            env = Lms(srv, platform, Browser(http))
            await watch(env, replay)
            [again] = await received(platform, 1)
            assert marks(again) == marks(newest) and again["timestamp"] == newest["timestamp"]
    finally:
        await platform.stop()
