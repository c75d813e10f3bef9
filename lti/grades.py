"""Scores sent to the platforms' gradebooks (AGS), durably, retried until a platform accepts them.

The webhooks' outbox carries them (hooks/outbox.py, hooks/delivery.py): each
score is a message appended to a journal of its own (files under
`DATA_DIR/lti-scores`, or the Redis Streams `classroom:lti:journal:*` in a
cluster), tried, and each try recorded, so a score survives a restart and
is tried again with backoff for about a day (hooks/records.py), by one node
of a cluster at a time. A score's message id names the class, the cohort
and the learner: enqueued twice (a catch-up after a crash), it is one
message. Sent twice (a crash between the platform's answer and its record),
it does no harm: a platform keeps a learner's latest score for a line item.

The live cohort's scores are enqueued when the class ends. `submit` is the
way in for any other cohort.

A replay's learner (the async cohort) has a score that changes as they
answer its quiz questions, and no moment when they are done (they may stop
anywhere, come back a week later): each ballot that changes their score
enqueues it at once, under an id that names its version (the time of their
newest ballot, made to grow), with that time as the AGS `timestamp`. A
learner's scores are enqueued one after the other in the order their
stream reached them and sent one at a time; a score a newer one of the
same learner replaced is dropped unsent, so the gradebook never gets an
older score after a newer one. Loading a stream (after a restart, say)
enqueues any score of the last day that the outbox does not hold.
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import aiohttp
import msgspec
import redis.asyncio as redis

from classroom import events as e
from classroom import replay_events as r
from classroom.replay import Replay
from classroom.reports import ClassReport, ReportFold
from hooks.delivery import Deliverer, Lease, RedisLease, SoleNode
from hooks.outbox import Outbox
from hooks.payloads import Message
from hooks.records import RETRY_DELAYS_S, Delivery, Enqueued
from hooks.sender import Endpoint, Result
from journal import Journal
from journal.files import FileJournal
from journal.streams import RedisJournal
from lti.claims import SCOPE_LINEITEM, SCOPE_SCORE
from lti.links import Link, Links
from lti.platforms import Platform, Tool
from lti.scores import (
    COHORT_LIVE,
    COHORT_REPLAY,
    Score,
    ags_score,
    marked,
    quiz_scores,
    replay_score,
)
from lti.services import ServiceError, Tokens, find_or_create_lineitem, post_score
from lti.store import StoreError
from signaling.replay_runtime import ReplayRuntime
from signaling.runtime import ClassRuntime, now_ms

log = logging.getLogger(__name__)

AGS = Endpoint("lti-ags://scores")
"""The one endpoint of the outbox: each message says which platform and line item it goes to."""
CATCH_UP_MS = 24 * 3600 * 1000
"""A class that ended this recently has its scores enqueued when loaded, if they are missing."""
RETRY_S = (0.5, 1, 2, 5, 10, 30)
REPLAY_PREFIX = "lti_replay_"
"""The ids of replays' scores: `lti_replay_{recording}_{user}_{version}`."""


class ScoreJob(msgspec.Struct, frozen=True):
    class_id: str
    platform_id: str
    user_id: str
    subject: str
    cohort: str
    score: Score
    recording_id: str = ""
    """A replay's score: it goes to the recording's link, not the class's."""

    @property
    def learner(self) -> str:
        """Whose successive scores replace one another (a replay's learner)."""
        return f"{self.recording_id}/{self.user_id}"


class Grades:
    def __init__(
        self,
        tool: Tool,
        links: Links,
        tokens: Tokens,
        class_journal: Journal,
        outbox_journal: Journal,
        lease: Lease,
        delays: tuple[float, ...] = (),
        clock: Callable[[], int] = now_ms,
        rng: random.Random | None = None,
    ) -> None:
        self.tool, self.links, self.tokens = tool, links, tokens
        self.class_journal = class_journal
        self.journal = outbox_journal
        self.outbox = Outbox(outbox_journal, clock)
        self.deliverer = Deliverer(
            self.outbox,
            [AGS],
            self._send,
            lease,
            rng,
            delays or RETRY_DELAYS_S,
            label="lti scores",
            announce=False,  # every server has it: no news
        )
        self.clock = clock
        self._lineitem_locks: dict[str, asyncio.Lock] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._ending: dict[str, int] = {}
        """Classes whose end is being turned into scores (how many times at once)."""
        self._newest: dict[str, Score] = {}
        """Each replay learner's newest score in the outbox."""
        self._enqueuing: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._sending: weakref.WeakValueDictionary[str, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        schedule = self.outbox.on_change

        def changed(delivery: Delivery) -> None:
            self._note(delivery.msg_id)  # another node's, read at a sync; or ours
            schedule(delivery)

        self.outbox.on_change = changed

    async def start(self) -> None:
        await self.outbox.sync()
        self.deliverer.start()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.deliverer.close()
        await self.outbox.close()
        await self.journal.close()

    # -- what goes in ------------------------------------------------------

    async def submit(self, class_id: str, scores: Sequence[Score], cohort: str) -> int:
        """Enqueue scores of a class's cohort for its course's gradebook; how many were new.

        Scores of people who did not come through LTI, and of a class that
        no course launched, are left out.
        """
        link = await self.links.link(class_id)
        if link is None or not scores:
            return 0
        members = await self.links.members(class_id)
        messages = []
        for score in scores:
            member = members.get(score.user_id)
            if member is None:
                continue
            job = ScoreJob(class_id, link.platform_id, score.user_id, member.subject, cohort, score)
            msg_id = f"lti_{class_id}_{cohort}_{score.user_id}"
            messages.append(Message(msg_id, "lti.score", score.at, msgspec.json.encode(job)))
        new = [m for m in messages if not self.outbox.known(m.id)]
        if new:
            await self.outbox.append([Enqueued(m, [AGS.id]) for m in new])
        return len(new)

    def _note(self, msg_id: str) -> None:
        entry = self.outbox.state.entries.get(msg_id)
        if entry is None or not msg_id.startswith(REPLAY_PREFIX):
            return
        try:
            job = msgspec.json.decode(entry.message.body, type=ScoreJob)
        except msgspec.DecodeError:
            return
        newest = self._newest.get(job.learner)
        if newest is None or newest.at < job.score.at:
            self._newest[job.learner] = job.score

    def attach_replay(self, runtime: ReplayRuntime) -> None:
        """A replay host's hook: each scored ballot sends the learner's new score; loading
        the stream enqueues the scores of the last day the outbox misses (a crash's)."""
        rid, stream = runtime.recording_id, runtime.stream

        async def heard(ev: e.Event) -> None:
            if isinstance(ev, r.AsyncVoted) and _scored(stream, ev.poll_id):
                await _with_retries(lambda: self._replay_changed(rid, stream, [ev.voter]))

        runtime.listen(heard)
        since = self.clock() - CATCH_UP_MS
        recent = [v.user_id for v in stream.viewers.values() if v.last_seen >= since]
        if recent:
            self._spawn(lambda: self._replay_changed(rid, stream, recent), REPLAY_PREFIX + rid)

    async def _replay_changed(self, rid: str, stream: Replay, user_ids: list[str]) -> None:
        link = await self.links.replay_link(rid)
        if link is None:
            return  # not placed in a course (or never launched from one)
        members = await self.links.members(link.class_id)
        for user_id in user_ids:
            member = members.get(user_id)
            if member is not None:
                await self._replay_score(rid, stream, link, user_id, member.subject)

    async def _replay_score(
        self, rid: str, stream: Replay, link: Link, user_id: str, subject: str
    ) -> None:
        learner = f"{rid}/{user_id}"
        lock = self._enqueuing.setdefault(learner, asyncio.Lock())
        async with lock:  # one learner's scores in the order their stream reached them
            score = replay_score(stream, user_id)
            newest = self._newest.get(learner)
            if score is None or (newest is not None and newest.same_result(score)):
                return
            if newest is not None and score.at <= newest.at:
                score = msgspec.structs.replace(score, at=newest.at + 1)
            job = ScoreJob(
                link.class_id, link.platform_id, user_id, subject, COHORT_REPLAY, score, rid
            )
            msg_id = f"{REPLAY_PREFIX}{rid}_{user_id}_{score.at}"
            body = msgspec.json.encode(job)
            if not self.outbox.known(msg_id):
                message = Message(msg_id, "lti.score", score.at, body)
                await self.outbox.append([Enqueued(message, [AGS.id])])
            self._newest[learner] = score

    def attach(self, runtime: ClassRuntime) -> None:
        """A registry hook: a class's end enqueues its quiz scores (and a catch-up at load)."""
        class_id = runtime.class_id

        async def heard(ev: e.Event) -> None:
            if isinstance(ev, e.ClassEnded):
                self._spawn(lambda: self._class_ended(class_id, catching_up=False), class_id)

        runtime.listen(heard)
        # Loaded (and, after a crash, rebuilt) until its scores are in the outbox.
        runtime.keep_loaded_while(lambda: class_id in self._ending)
        if runtime.room.live.ended:
            self._spawn(lambda: self._class_ended(class_id, catching_up=True), class_id)

    def _spawn(self, work: Callable[[], Awaitable[None]], class_id: str) -> None:
        self._ending[class_id] = self._ending.get(class_id, 0) + 1

        async def run() -> None:
            try:
                await _with_retries(work)
            finally:
                left = self._ending.pop(class_id) - 1
                if left:
                    self._ending[class_id] = left

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _class_ended(self, class_id: str, catching_up: bool) -> None:
        if await self.links.link(class_id) is None:
            return
        records = [data async for _, data in self.class_journal.read(class_id)]
        report = await asyncio.to_thread(_report, records, self.clock())
        if report.ended_at is None:
            return
        if catching_up and report.ended_at < self.clock() - CATCH_UP_MS:
            return
        added = await self.submit(class_id, quiz_scores(report), COHORT_LIVE)
        if added:
            log.info("lti: class %s ended: %d scores to send", class_id, added)

    # -- what goes out -----------------------------------------------------

    async def _send(self, http: aiohttp.ClientSession, to: Endpoint, msg: Message) -> Result:
        """One try of one score: a token, the line item, the score."""
        try:
            job = msgspec.json.decode(msg.body, type=ScoreJob)
        except msgspec.DecodeError as exc:
            return Result(None, str(exc)[:300])
        if not job.recording_id:
            return await self._post(http, job)
        lock = self._sending.setdefault(job.learner, asyncio.Lock())
        async with lock:  # one score of a learner at a time: never an older one last
            newest = self._newest.get(job.learner)
            if newest is not None and newest.at > job.score.at:
                return Result(None, "a newer score of this learner replaced it", dropped=True)
            return await self._post(http, job)

    async def _post(self, http: aiohttp.ClientSession, job: ScoreJob) -> Result:
        try:
            platform = await self.tool.platform(job.platform_id)
            if job.recording_id:
                link = await self.links.replay_link(job.recording_id)
            else:
                link = await self.links.link(job.class_id)
        except StoreError as exc:
            return Result(None, str(exc)[:300])
        if platform is None or link is None:
            return Result(None, "the platform or the class's link is no longer registered")
        try:
            lineitem = await self._lineitem(http, platform, link, job.score)
            token = await self.tokens.token(platform, [SCOPE_SCORE])
            status = await post_score(http, token, lineitem, ags_score(job.score, job.subject))
        except (ServiceError, StoreError) as exc:
            failed = exc.status if isinstance(exc, ServiceError) else None
            if failed == 401:
                self.tokens.forget(platform)
            return Result(failed, str(exc)[:300])
        if status == 401:
            self.tokens.forget(platform)
        return Result(status, "" if 200 <= status < 300 else f"the score answered HTTP {status}")

    async def _lineitem(
        self, http: aiohttp.ClientSession, platform: Platform, link: Link, score: Score
    ) -> str:
        """The link's line item: the launch's, or found or made once (one class at a time)."""
        if link.lineitem:
            return link.lineitem
        if not link.lineitems or SCOPE_LINEITEM not in link.scopes:
            raise ServiceError("the course gives this link no line item, and no way to make one")
        lock = self._lineitem_locks.setdefault("/".join(link.key), asyncio.Lock())
        async with lock:
            fresh = await self.links.read(*link.key)
            if fresh is not None and fresh.lineitem:
                return fresh.lineitem
            token = await self.tokens.token(platform, [SCOPE_LINEITEM])
            url = await find_or_create_lineitem(
                http, token, link.lineitems, link.resource_link_id, link.title, score.maximum
            )
            await self.links.set_lineitem(link, url)
            return url


def _scored(stream: Replay, poll_id: str) -> bool:
    recorded = stream.recorded.get(poll_id)
    return recorded is not None and marked(recorded)


def _report(records: list[bytes], now: int) -> ClassReport:
    fold = ReportFold()
    for data in records:
        fold.apply(e.decode(data))
    return fold.report(now)


async def _with_retries(work: Callable[[], Awaitable[None]]) -> None:
    for wait in (*RETRY_S, None):
        try:
            await work()
            return
        except Exception as exc:  # the journal or the store is away: a while later
            if wait is None:
                log.error("lti: scores not enqueued (the next load tries again): %s", exc)
                return
            log.warning("lti: cannot enqueue scores yet: %s", exc)
            await asyncio.sleep(wait)


def outbox_journal(data_dir: Path, redis_url: str) -> Journal:
    if redis_url:
        return RedisJournal.from_url(redis_url, prefix="classroom:lti")
    return FileJournal(data_dir / "lti-scores")


def lease(redis_url: str, node_url: str, ttl_ms: int) -> Lease:
    if not redis_url:
        return SoleNode()
    return RedisLease(redis.Redis.from_url(redis_url), node_url, ttl_ms, "classroom:lti")
