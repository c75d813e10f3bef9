"""The interactive replay: many learners voting on one recording, and a busy stream loaded.

Two measurements against `python -m server serve` on loopback:

1. Async voting. A published recording with `--polls` recorded polls; `--learners`
   lean Socket.IO clients (bench/sioclient.py) join its stream with replay
   tokens, then each answers every poll, the ballots spread evenly over
   `--spread` seconds, and a tenth of them ask a question meanwhile. Prints the
   ballots (and questions) lost (acknowledged but missing from
   the async cohort's tally in `GET /api/recordings/{id}/report`), the ack
   latency (p50/p99), the server's CPU seconds while voting, and its memory
   per connected learner (RSS growth from the join of all of them, over N).
2. Loading a busy stream. The stream of a 90-minute recording watched by
   `--viewers` people (`--minutes`): each visits once or twice, reports
   progress every 10 s of watching, answers the polls, and a tenth of them
   ask questions that get replies, upvotes and answers. Its journal is made
   through the domain (classroom/replay.py, seeded) and put where the server
   keeps it. Prints, for a viewer opening the replay: the time from connect to
   `replay:state` with the stream rebuilt from its journal (the first viewer
   after a restart) and already loaded, the state's size, and the report's time.
   Then the replay page's own load: the status with the manifest and the
   timeline of a 90-minute class of as many people (bench/reports.py's class,
   through the recorder's timeline code), fetched as the page fetches them.

Figures, not a pass/fail: `python -m bench.replay [--learners 1000] [--spread 60]`.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.all import write_section
from bench.harness import (
    ADMIN,
    SECRET,
    Server,
    machine,
    percentile,
    progress,
    raise_fd_limit,
    serve,
    table,
)
from bench.reports import make_class
from bench.sioclient import SioClient
from classroom import commands as c
from classroom import events as e
from classroom import replay_events as r
from classroom.live import Context
from classroom.replay import RecordedPoll, Recording, Replay, encode_polls
from journal.files import FileJournal
from recorder.timeline import collect, dumps, find_span
from signaling.auth import mint_replay

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- bench:replay:begin -->", "<!-- bench:replay:end -->"
RID = "r-bench"
T0 = 1_700_000_000_000


def polls(count: int, duration_ms: int) -> list[RecordedPoll]:
    step = duration_ms // (count + 1)
    return [
        RecordedPoll(
            f"p{i}",
            step * (i + 1),
            f"Question {i}?",
            "single",
            ["A", "B", "C", "D"],
            quiz=i % 2 == 0,
            correct=[i % 4] if i % 2 == 0 else None,
            live=e.PollResults(kind="single", counts=[5, 4, 3, 2], total=14, voters=14),
        )
        for i in range(count)
    ]


def publish(data_dir: Path, recorded: list[RecordedPoll], duration_ms: int) -> None:
    """The recording as the store keeps it once published for learners (no media needed)."""
    folder = data_dir / "recordings" / RID
    (folder / "package").mkdir(parents=True)
    meta = {"id": RID, "class_id": "c", "state": "published", "visibility": "learners"}
    (folder / "recording.json").write_text(json.dumps(meta))
    manifest = {"id": RID, "title": "Bench", "duration_ms": duration_ms, "tracks": []}
    (folder / "package" / "manifest.json").write_text(json.dumps(manifest))
    (folder / "replay-polls.json").write_bytes(encode_polls(recorded))


class Learner:
    def __init__(self, http: aiohttp.ClientSession, url: str, user_id: str) -> None:
        self.user_id = user_id
        self.state = asyncio.get_running_loop().create_future()
        self.sio = SioClient(http, url, self.on_event)
        self.acked = 0
        self.asked = 0
        self.latencies: list[float] = []

    def on_event(self, name: str, data: Any) -> None:
        if name == "replay:state" and not self.state.done():
            self.state.set_result(data)

    async def join(self) -> None:
        token = mint_replay(SECRET, RID, self.user_id, self.user_id)
        await self.sio.connect({"token": token}, wait_s=300)
        await asyncio.wait_for(self.state, 300)

    async def ask(self, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        question = {"text": f"A question from {self.user_id}", "at_ms": 1000}
        try:
            ack = await self.sio.call("replay:ask", question, 120)
        except (aiohttp.ClientError, ConnectionError, TimeoutError):
            return
        self.asked += bool(ack and ack.get("ok"))

    async def vote(self, poll_id: str, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        sent = time.perf_counter()
        try:
            ack = await self.sio.call("replay:vote", {"poll_id": poll_id, "answer": [0]}, 120)
        except (aiohttp.ClientError, ConnectionError, TimeoutError):
            return
        if ack and ack.get("ok"):
            self.acked += 1
            self.latencies.append(time.perf_counter() - sent)


async def report(http: aiohttp.ClientSession, url: str) -> tuple[dict[str, Any], float]:
    started = time.perf_counter()
    headers = {"Authorization": f"Bearer {ADMIN}"}
    async with http.get(f"{url}/api/recordings/{RID}/report", headers=headers) as resp:
        body: dict[str, Any] = await resp.json()
    return body, time.perf_counter() - started


async def voting(args: argparse.Namespace) -> dict[str, Any]:
    recorded = polls(args.polls, 600_000)
    async with (
        serve() as server,
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http,
    ):
        publish(server.data_dir, recorded, 600_000)
        first = Learner(http, server.url, "warm")
        await first.join()  # the stream is loaded: the figures are the learners'
        rss0 = server.rss()
        learners = [Learner(http, server.url, f"l{i:05d}") for i in range(args.learners)]
        gate = asyncio.Semaphore(50)

        async def enter(learner: Learner) -> None:
            async with gate:
                await learner.join()

        progress(f"joining {len(learners)} learners")
        await asyncio.gather(*(enter(learner) for learner in learners))
        rss1, cpu0 = server.rss(), server.cpu()
        progress(f"voting on {len(recorded)} polls over {args.spread:.0f} s")
        start = time.perf_counter() + 0.5
        ballots = [(learner, p.poll_id) for p in recorded for learner in learners]
        random.Random(1).shuffle(ballots)
        step = args.spread / max(1, len(ballots))
        votes = [who.vote(poll_id, start + i * step) for i, (who, poll_id) in enumerate(ballots)]
        # A tenth of them also ask a question, somewhere in the same stretch of time.
        asks = [
            who.ask(start + (i * 7919 % 1000) / 1000 * args.spread)
            for i, who in enumerate(learners)
            if i % 10 == 0
        ]
        await asyncio.gather(*votes, *asks)
        cpu1 = server.cpu()
        body, _ = await report(http, server.url)
        counted = sum(p["async_voters"] for p in body["polls"])
        asked = sum(learner.asked for learner in learners)
        acked = sum(learner.acked for learner in learners)
        latencies = [x for learner in learners for x in learner.latencies]
        await asyncio.gather(*(learner.sio.close() for learner in [first, *learners]))
    return {
        "learners": args.learners,
        "ballots": len(ballots),
        "acked": acked,
        "lost": max(0, acked - counted),
        "asked": asked,
        "questions_lost": max(0, asked - body["questions"]),
        "ack_p50_ms": 1000 * percentile(latencies, 0.5),
        "ack_p99_ms": 1000 * percentile(latencies, 0.99),
        "cpu_s": cpu1 - cpu0,
        "kb_per_learner": (rss1 - rss0) / 1024 / max(1, args.learners),
    }


def busy_stream(viewers: int, minutes: float, recorded: list[RecordedPoll]) -> list[e.Event]:
    """A seeded stream of `viewers` people watching a `minutes` recording, through the domain."""
    duration = int(minutes * 60_000)
    stream = Replay(Recording(RID, "c", "Bench", duration, recorded))
    rng, ids, now = random.Random(7), itertools.count(), T0
    history: list[e.Event] = []

    def commit(drafts: list[e.Event]) -> list[e.Event]:
        stamped = stream.commit(drafts, now)
        history.extend(stamped)
        return stamped

    def do(user: str, cmd: c.Command) -> list[e.Event]:
        return commit(stream.handle(user, cmd, Context(now, lambda: f"q{next(ids)}")))

    questions: list[str] = []
    for n in range(viewers):
        user = f"v{n:04d}"
        role = "host" if n == 0 else "viewer"
        for _visit in range(rng.choice((1, 1, 2))):
            now += rng.randrange(60_000, 600_000)
            commit(stream.visit(user, user, role))
            at = stream.viewers[user].position_ms
            while at < duration and rng.random() > 0.002:
                nxt = min(duration, at + 10_000)
                now += 10_000
                do(user, c.ReplayProgress(position_ms=nxt, watched=[(at, nxt)]))
                at = nxt
        for p in recorded:
            do(user, c.ReplayVote(poll_id=p.poll_id, answer=[rng.randrange(4)]))
        if n % 10 == 0:
            [asked] = do(user, c.ReplayAsk(text=f"Why {n}?", at_ms=rng.randrange(duration)))
            assert isinstance(asked, r.AsyncAsked)
            questions.append(asked.question.id)
        for qid in rng.sample(questions, min(3, len(questions))):
            do(user, c.ReplayUpvote(question_id=qid))
        if questions and n % 5 == 0:
            do(user, c.ReplayReply(question_id=rng.choice(questions), text="Me too"))
    for qid in questions:
        do("v0000", c.ReplayAnswer(question_id=qid, text="Answered."))
    return history


async def loading(args: argparse.Namespace) -> dict[str, Any]:
    duration = int(args.minutes * 60_000)
    recorded = polls(10, duration)
    history = busy_stream(args.viewers, args.minutes, recorded)
    progress(f"{len(history):,} stream events made")
    with tempfile.TemporaryDirectory() as tmp:
        journal = FileJournal(Path(tmp))
        await journal.append(RID, [(ev.seq, r.encode(ev)) for ev in history])
        await journal.close()
        async with serve() as server, aiohttp.ClientSession() as http:
            publish(server.data_dir, recorded, duration)
            shutil.copy(Path(tmp) / f"{RID}.journal", server.data_dir / "replays")
            timings = []
            for who in ("cold", "warm"):
                viewer = Learner(http, server.url, f"v0001-{who}")
                started = time.perf_counter()
                await viewer.join()
                timings.append(time.perf_counter() - started)
                size = viewer.sio.bytes_in
                await viewer.sio.close()
            _, report_s = await report(http, server.url)
            package = await package_load(http, server, args)
            journal_mb = (server.data_dir / "replays" / f"{RID}.journal").stat().st_size / 2**20
    return {
        "viewers": args.viewers,
        "minutes": args.minutes,
        "events": len(history),
        "journal_mb": journal_mb,
        "cold_ms": 1000 * timings[0],
        "warm_ms": 1000 * timings[1],
        "state_kb": size / 1024,
        "report_ms": 1000 * report_s,
    } | package


def render(voted: dict[str, Any], loaded: dict[str, Any], spread: float) -> str:
    rows = [
        ("learners connected to one recording's stream", f"{voted['learners']:,}"),
        (f"ballots sent over {spread:.0f} s", f"{voted['ballots']:,}"),
        ("ballots acknowledged / lost", f"{voted['acked']:,} / {voted['lost']}"),
        (
            "questions asked meanwhile, acknowledged / lost",
            f"{voted['asked']} / {voted['questions_lost']}",
        ),
        (
            "ballot ack latency p50 / p99",
            f"{voted['ack_p50_ms']:.1f} / {voted['ack_p99_ms']:.1f} ms",
        ),
        ("server CPU while voting", f"{voted['cpu_s']:.2f} s"),
        ("server memory per connected learner", f"{voted['kb_per_learner']:.0f} KiB"),
        (
            f"busy stream: {loaded['viewers']} viewers, {loaded['minutes']:.0f} minutes",
            f"{loaded['events']:,} events, {loaded['journal_mb']:.1f} MiB journal",
        ),
        (
            "connect to `replay:state`, stream rebuilt from its journal",
            f"{loaded['cold_ms']:.0f} ms",
        ),
        ("connect to `replay:state`, stream loaded", f"{loaded['warm_ms']:.0f} ms"),
        ("`replay:state` size", f"{loaded['state_kb']:.0f} KiB"),
        ("`GET /api/recordings/{id}/report`", f"{loaded['report_ms']:.0f} ms"),
        (
            f"page load: manifest + timeline of the class ({loaded['timeline_events']:,} entries)",
            f"{loaded['package_ms']:.0f} ms, {loaded['timeline_kb']:.0f} KiB",
        ),
    ]
    return table(["figure", "value"], rows)


async def package_load(
    http: aiohttp.ClientSession, server: Server, args: argparse.Namespace
) -> dict[str, Any]:
    """What the replay page fetches before it plays: the status with the manifest, then the
    timeline, for the recording of a class of `--viewers` people (bench/reports.py's class,
    through the recorder's own timeline code)."""
    events, _ = make_class(args.viewers, args.minutes)
    started = next(ev for ev in events if isinstance(ev, e.RecordingStarted))
    span = find_span(events, started.recording_id)
    assert span is not None
    collected = collect(events, span)
    package = server.data_dir / "recordings" / RID / "package"
    (package / "timeline.json").write_bytes(dumps({"events": collected.events}))
    manifest = json.loads((package / "manifest.json").read_text())
    manifest |= {
        "chapters": collected.chapters,
        "participants": [{"user_id": u, "name": n} for u, n in collected.participants.items()],
    }
    (package / "manifest.json").write_text(json.dumps(manifest))
    token = mint_replay(SECRET, RID, "v0001", "v0001")
    begun = time.perf_counter()
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(f"{server.url}/api/recordings/{RID}", headers=headers) as resp:
        status = await resp.json()
    async with http.get(server.url + status["manifest"]["files"]["timeline.json"]) as resp:
        timeline = await resp.read()
    return {
        "package_ms": 1000 * (time.perf_counter() - begun),
        "timeline_kb": len(timeline) / 1024,
        "timeline_events": len(collected.events),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=1000)
    parser.add_argument("--polls", type=int, default=1, help="polls each learner answers")
    parser.add_argument("--spread", type=float, default=60, help="seconds the ballots spread over")
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=90)
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    raise_fd_limit(args.learners + 100)
    voted = asyncio.run(voting(args))
    loaded = asyncio.run(loading(args))
    text = f"{render(voted, loaded, args.spread)}\n\nMachine: {machine()}."
    section = f"{BEGIN}\n\n### Interactive replay\n\n{text}\n\n{END}"
    write_section(args.doc, section, BEGIN, END)
    print(text, flush=True)


if __name__ == "__main__":
    main()
