"""Captions of a recorded class, from speech made on this machine and sent as real microphones.

espeak-ng says known sentences; aiortc encodes them to Opus and publishes
them as microphone tracks of a host and a learner during a recording; the
publish pipeline transcribes them (the bundled model, in a worker process)
and the package holds WebVTT captions and a transcript with the words, their
times on the recording's clock and who said them.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from signaling.auth import mint
from tests.conftest import ADMIN, SECRET, Server, running, settings_for
from tests.peer import Peer
from tests.process import ServerProcess
from tests.rtc_peer import RtcClient
from tests.speech import Said, Speech, said
from tests.test_recording import ADMIN_HEADERS, get, published

HOST_SAYS = "today we will talk about the speed of light in water"
ANN_SAYS = "can everyone hear me at the back of the room"
NEAR_MS = 1000
"""How far a caption may start from the sound it transcribes."""
SPEAKING_S = 60


@dataclass
class VttCue:
    start_ms: int
    end_ms: int
    voice: str
    text: str


def parse_vtt(text: str) -> list[VttCue]:
    assert text.startswith("WEBVTT\n")
    cues = []
    timing = re.compile(r"(\d+):(\d\d):(\d\d)\.(\d{3}) --> (\d+):(\d\d):(\d\d)\.(\d{3})")
    for block in text.split("\n\n")[1:]:
        lines = block.strip().splitlines()
        if not lines:
            continue
        found = timing.fullmatch(lines[1])
        assert found, block
        h1, m1, s1, f1, h2, m2, s2, f2 = (int(g) for g in found.groups())
        voice = re.fullmatch(r"<v ([^>]*)>(.*)</v>", lines[2])
        assert voice, block
        cues.append(
            VttCue(
                ((h1 * 60 + m1) * 60 + s1) * 1000 + f1,
                ((h2 * 60 + m2) * 60 + s2) * 1000 + f2,
                voice.group(1),
                voice.group(2),
            )
        )
    return cues


def cue_with(cues: list[VttCue], *words: str) -> VttCue:
    """The cue where the first of `words` is said; all of them are said around it."""
    for i, cue in enumerate(cues):
        if words[0] in cue.text.lower():
            around = " ".join(c.text.lower() for c in cues[max(0, i - 1) : i + 2])
            missing = [w for w in words if w not in around]
            assert not missing, (missing, cues)
            return cue
    raise AssertionError(f"no caption says {words[0]!r}: {cues}")


async def speak(client: RtcClient, speech: Said) -> Speech:
    track = Speech(speech)
    assert (await client.publish(track))["ok"]
    return track


async def record_two_speakers(server: Server) -> tuple[str, dict[str, Said]]:
    """A host and a learner each say a sentence during a recording, one after the other."""
    cid = await server.create_class("Optics")
    host = await server.join(cid, "teacher", "host", name="Dr Teach")
    ann = await server.join(cid, "ann@example.org", name="Ann Lee")
    rid = (await host.call("recording:start"))["recording_id"]
    speeches = {"teacher": said([HOST_SAYS]), "ann@example.org": said([ANN_SAYS], lead_s=5)}
    clients = [RtcClient(host), RtcClient(ann)]
    tracks = [
        await speak(client, speeches[user]) for client, user in zip(clients, speeches, strict=True)
    ]
    async with asyncio.timeout(SPEAKING_S):
        for track in tracks:
            await track.finished.wait()
    assert (await host.call("recording:stop"))["ok"]
    for client in clients:
        await client.close()
    return rid, speeches


def audio_offset(manifest: dict[str, Any], user_id: str) -> int:
    track = next(t for t in manifest["tracks"] if t["kind"] == "audio" and t["user_id"] == user_id)
    return int(track["offset_ms"])


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with running(settings_for(tmp_path, media_host=("127.0.0.1",), captions=True)) as srv:
        yield srv


async def publish(base: str, rid: str, options: dict[str, Any]) -> None:
    url = f"{base}/api/recordings/{rid}/publish"
    async with (
        aiohttp.ClientSession() as http,
        http.post(url, json=options, headers=ADMIN_HEADERS) as resp,
    ):
        assert resp.status == 202, await resp.text()


async def test_captions_hold_the_words_at_their_times_with_the_speaker(
    server: Server, tmp_path: Path
) -> None:
    rid, speeches = await record_two_speakers(server)
    status = await published(server.url, rid, limit_s=120)
    manifest = status["manifest"]
    assert manifest["captions"] == [{"language": "en", "file": "captions-en.vtt"}]
    assert manifest["transcript"] == "transcript.json"
    assert {"captions-en.vtt", "transcript.json"} <= set(manifest["files"])
    code, body = await get(server.url + manifest["files"]["captions-en.vtt"])
    assert code == 200
    cues = parse_vtt(body.decode())

    host = cue_with(cues, "speed", "light", "water")
    assert host.voice == "Dr Teach" and host.text.startswith("Dr Teach: ")
    expected = audio_offset(manifest, "teacher") + speeches["teacher"].onsets_ms[0]
    assert abs(host.start_ms - expected) < NEAR_MS, (host, expected)
    ann = cue_with(cues, "hear", "everyone", "room")
    assert ann.voice == "Ann Lee" and ann.text.startswith("Ann Lee: ")
    expected = audio_offset(manifest, "ann@example.org") + speeches["ann@example.org"].onsets_ms[0]
    assert abs(ann.start_ms - expected) < NEAR_MS, (ann, expected)

    package = tmp_path / "recordings" / rid / "package"
    transcript = json.loads((package / "transcript.json").read_bytes())
    assert transcript["engine"] == "whisper tiny.en (bundled)"
    speakers = {c["speaker"] for c in transcript["cues"]}
    assert speakers == {"Dr Teach", "Ann Lee"}
    assert any("light" in c["text"].lower() for c in transcript["cues"])

    # With pseudonyms the learner's captions carry her pseudonym; nothing is transcribed again.
    transcripts = tmp_path / "recordings" / rid / "work" / "transcripts"
    before = {p.name: p.stat().st_mtime_ns for p in transcripts.iterdir()}
    await publish(server.url, rid, {"pseudonyms": True, "trim_start_ms": 1000})
    status = await published(server.url, rid, limit_s=120)
    assert {p.name: p.stat().st_mtime_ns for p in transcripts.iterdir()} == before
    vtt = (package / "captions-en.vtt").read_text()
    assert "Ann Lee" not in vtt and "ann@example.org" not in vtt
    assert "Ann Lee" not in (package / "transcript.json").read_text()
    trimmed = parse_vtt(vtt)
    ann_again = cue_with(trimmed, "hear", "everyone", "room")
    assert re.fullmatch(r"Participant \d+", ann_again.voice)
    assert ann_again.start_ms == ann.start_ms - 1000  # the trim moves captions with the video
    assert cue_with(trimmed, "speed", "light").voice == "Dr Teach"


async def test_captions_off_skips_the_stage(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, media_host=("127.0.0.1",), captions=False)
    async with running(settings) as server:
        rid, _ = await record_two_speakers(server)
        manifest = (await published(server.url, rid, limit_s=120))["manifest"]
    assert manifest["captions"] == [] and manifest["transcript"] is None
    folder = tmp_path / "recordings" / rid
    assert not (folder / "stages" / "captions.done").exists()
    assert not (folder / "work" / "transcripts").exists()
    assert not list((folder / "package").glob("captions-*"))


async def test_a_model_that_does_not_load_leaves_captions_out_and_says_so(
    tmp_path: Path,
) -> None:
    model = tmp_path / "broken-model"
    model.mkdir()
    for name in ("model.bin", "config.json", "tokenizer.json"):
        (model / name).write_bytes(b"not a model")
    settings = settings_for(
        tmp_path, media_host=("127.0.0.1",), captions=True, captions_model=model
    )
    async with running(settings) as server:
        rid, _ = await record_two_speakers(server)
        manifest = (await published(server.url, rid, limit_s=120))["manifest"]
    assert manifest["captions"] == [] and manifest["transcript"] is None
    assert any(p.startswith("captions: ") for p in manifest["problems"]), manifest["problems"]
    assert len([t for t in manifest["tracks"] if t["kind"] == "audio"]) == 2


def children(pid: int) -> set[int]:
    """Processes whose parent is `pid` (the captions worker and multiprocessing's helper)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def running_pids() -> set[int]:
    return {int(p.name) for p in Path("/proc").glob("[0-9]*")}


async def test_kill_9_during_captions_resumes_after_restart(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--media-host", "127.0.0.1", "--captions", "on")
    await server.start()
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                server.url + "/api/classes", json={"title": "Optics"}, headers=ADMIN_HEADERS
            ) as r,
        ):
            cid = (await r.json())["id"]
        host = Peer(server.url, mint(SECRET, cid, "teacher", "Dr Teach", "host"))
        await host.connect()
        rid = (await host.call("recording:start"))["recording_id"]
        client = RtcClient(host)
        track = await speak(client, said([HOST_SAYS, ANN_SAYS]))
        async with asyncio.timeout(SPEAKING_S):
            await track.finished.wait()
        assert (await host.call("recording:stop"))["ok"]
        await client.close()
        async with asyncio.timeout(60):
            while True:  # the moment transcription runs
                _, status = await get(f"{server.url}/api/recordings/{rid}", ADMIN_HEADERS)
                if status["stage"] == "captions":
                    break
                assert status["state"] != "published", status
                await asyncio.sleep(0.05)
        assert server.proc is not None
        orphans = children(server.proc.pid)
        await server.kill()
        async with asyncio.timeout(60):  # the worker notices its server is gone and exits
            while True:
                if not orphans & await asyncio.to_thread(running_pids):
                    break
                await asyncio.sleep(0.1)

        await server.start("--media-host", "127.0.0.1")
        manifest = (await published(server.url, rid, limit_s=120))["manifest"]
        assert manifest["captions"] == [{"language": "en", "file": "captions-en.vtt"}]
        package = tmp_path / "recordings" / rid / "package"
        cues = parse_vtt((package / "captions-en.vtt").read_text())
        cue_with(cues, "speed", "light", "water")
        cue_with(cues, "hear", "everyone", "room")
        assert {c.voice for c in cues} == {"Dr Teach"}
    finally:
        await server.stop(signal.SIGKILL)


async def test_the_file_urls_refuse_names_outside_the_package(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    rid = (await host.call("recording:start"))["recording_id"]
    assert (await host.call("recording:stop"))["ok"]
    manifest = (await published(server.url, rid))["manifest"]
    assert manifest["captions"] == []  # no audio, no captions, no worker
    base = f"{server.url}/api/recordings/{rid}/files"
    for name in ("captions-en.vtt", "captions-..%2Fx.vtt", "transcript.json%2F.."):
        code, _ = await get(f"{base}/{name}", {"Authorization": f"Bearer {ADMIN}"})
        assert code in (400, 404), name
