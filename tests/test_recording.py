"""Recording a live class and publishing it as replay content, with real media."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

import aiohttp
import av
import pytest

from signaling.auth import mint
from tests.conftest import ADMIN, SECRET, Server
from tests.peer import Peer
from tests.process import ServerProcess
from tests.rtc_peer import Pattern, RtcClient, Tone


@pytest.fixture
def server(media_server: Server) -> Server:
    return media_server


ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}


async def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as resp:
        body = await resp.read()
        return resp.status, json.loads(body) if "json" in resp.content_type else body


async def published(base: str, recording_id: str, limit_s: float = 60) -> dict[str, Any]:
    """Follow the publish progress until it ends (bounded)."""
    async with asyncio.timeout(limit_s):
        while True:
            status, body = await get(f"{base}/api/recordings/{recording_id}", ADMIN_HEADERS)
            assert status == 200, body
            assert body["state"] != "failed", body["error"]
            if body["state"] == "published":
                return dict(body)
            await asyncio.sleep(0.1)


def media_duration_ms(path: Path) -> int:
    with av.open(str(path)) as source:
        last = 0
        for frame in source.decode(source.streams[0]):
            if frame.pts is not None and frame.time_base is not None:
                last = max(last, int(frame.pts * frame.time_base * 1000))
        return last


async def test_a_recorded_class_is_published(server: Server, tmp_path: Path) -> None:
    cid = await server.create_class("Optics")
    host = await server.join(cid, "teacher", "host")
    learner = await server.join(cid, "ann")
    media = RtcClient(host)
    watcher = RtcClient(learner, tap=True)
    assert (await media.publish(Pattern(), Tone()))["ok"]
    tracks = await learner.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 2)
    video_id = next(t["track_id"] for t in tracks["tracks"] if t["kind"] == "video")
    started = await host.call("recording:start")
    assert started["ok"]
    rid = started["recording_id"]
    state = await learner.wait_for("recording:state", lambda d: d["state"] == "recording")
    assert "recording_id" not in state  # private until shared: staff only
    await watcher.frames_of(video_id, 20)
    assert (await learner.call("chat:send", {"text": "what is refraction?"}))["ok"]
    poll = await host.call("poll:create", {"question": "Ready?", "kind": "truefalse"})
    assert (await host.call("poll:open", {"poll_id": poll["poll_id"]}))["ok"]
    assert (await learner.call("poll:vote", {"poll_id": poll["poll_id"], "answer": [0]}))["ok"]
    assert (await host.call("poll:show_results", {"poll_id": poll["poll_id"]}))["ok"]
    asked = await learner.call("qa:ask", {"text": "Will this be on the exam?"})
    assert (await host.call("qa:upvote", {"question_id": asked["question_id"]}))["ok"]
    assert (await host.call("recording:marker", {"title": "Snell's law"}))["ok"]
    assert (await learner.call("chat:send", {"text": "secret", "to_user": "teacher"}))["ok"]
    await watcher.frames_of(video_id, 60)
    assert (await host.call("recording:stop"))["ok"]
    await learner.wait_for("recording:state", lambda d: d["state"] == "idle")

    status = await published(server.url, rid)
    manifest = status["manifest"]
    assert manifest["title"] == "Optics" and manifest["class_id"] == cid
    assert {p["user_id"] for p in manifest["participants"]} == {"teacher", "ann"}
    package = tmp_path / "recordings" / rid / "package"
    duration = manifest["duration_ms"]
    assert duration > 1000
    kinds = sorted(t["kind"] for t in manifest["tracks"])
    assert kinds == ["audio", "video"]
    for track in manifest["tracks"]:
        # The captured media decodes and lasts as long as the recording, within a second.
        measured = media_duration_ms(package / track["file"])
        assert abs(track["offset_ms"] + measured - duration) < 1000, (track, duration)
    composite = package / manifest["composite"]
    assert abs(media_duration_ms(composite) - duration) < 1000
    with av.open(str(composite)) as video:
        assert sum(1 for _ in video.decode(video=0)) > 10
        titles = [c["metadata"].get("title") for c in video.chapters()]
    # The chapters (the start, the poll, the marker) are the video's own, for any player.
    assert titles == [c["title"] for c in manifest["chapters"]]
    assert "Poll: Ready?" in titles and "Snell's law" in titles
    # The same video as MP4 (H.264, AAC), served like the WebM.
    assert manifest["composite_mp4"] in manifest["files"]
    with av.open(str(package / manifest["composite_mp4"])) as mp4:
        playing = [*mp4.streams.video, *mp4.streams.audio]
        assert [s.codec_context.name for s in playing] == ["h264", "aac"]
        assert [c["metadata"].get("title") for c in mp4.chapters()] == titles
        assert abs(float(mp4.duration or 0) * 1000 / 1e6 - duration) < 1000

    timeline = json.loads((package / "timeline.json").read_bytes())["events"]
    names = [entry["name"] for entry in timeline]
    for expected in ("chat:message", "poll:opened", "poll:results", "qa:question", "marker"):
        assert expected in names, expected
    chat = next(entry for entry in timeline if entry["name"] == "chat:message")
    assert chat["data"]["text"] == "what is refraction?"
    # Times are on the recording's clock: the event's own time minus the start.
    assert chat["t"] == chat["data"]["ts"] - manifest["started_at"]
    assert all(entry["data"].get("text") != "secret" for entry in timeline)  # no DMs
    results = [entry for entry in timeline if entry["name"] == "poll:results"]
    assert results[-1]["data"]["total"] == 1
    vtt = (package / "chapters.vtt").read_text()
    assert vtt.startswith("WEBVTT") and "Snell's law" in vtt and "Poll: Ready?" in vtt

    # Publishing again changes nothing: every stage is already done.
    before = {p.name: p.stat().st_mtime_ns for p in package.iterdir()}
    async with aiohttp.ClientSession() as http:
        headers = {"Authorization": f"Bearer {ADMIN}"}
        url = f"{server.url}/api/recordings/{rid}/publish"
        async with http.post(url, json={}, headers=headers) as resp:
            assert resp.status == 202
    await published(server.url, rid)
    assert {p.name: p.stat().st_mtime_ns for p in package.iterdir()} == before
    for client in (media, watcher):
        await client.close()


async def test_files_support_ranges_and_refuse_traversal(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    rid = (await host.call("recording:start"))["recording_id"]
    assert (await host.call("chat:send", {"text": "hi"}))["ok"]
    assert (await host.call("recording:stop"))["ok"]
    await published(server.url, rid)
    base = f"{server.url}/api/recordings/{rid}/files"
    async with aiohttp.ClientSession(headers=ADMIN_HEADERS) as http:
        async with http.get(f"{base}/timeline.json", headers={"Range": "bytes=0-9"}) as resp:
            assert resp.status == 206 and len(await resp.read()) == 10
        attempts = [
            f"{base}/..%2F..%2Fjournal",
            f"{base}/..%2Frecording.json",
            f"{base}/%2Fetc%2Fpasswd",
            f"{base}/timeline.json%00.vtt",
            f"{server.url}/api/recordings/..%2F..%2Fsecret",
            f"{server.url}/api/recordings/{rid}/files/recording.json",
            f"{server.url}/api/recordings/nope",
        ]
        for url in attempts:
            async with http.get(url) as resp:
                assert resp.status in (400, 404), url


async def test_recording_control_is_for_hosts(server: Server) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    mod = await server.join(cid, "mo", "moderator")
    ann = await server.join(cid, "ann")
    for peer in (mod, ann):
        assert (await peer.call("recording:start"))["error"]["code"] == "forbidden"
    assert (await host.call("recording:pause"))["error"]["code"] == "conflict"
    assert (await host.call("recording:start"))["ok"]
    assert (await host.call("recording:start"))["error"]["code"] == "conflict"
    assert (await host.call("recording:pause"))["ok"]
    assert (await host.call("recording:marker", {"title": "x"}))["error"]["code"] == "conflict"
    assert (await host.call("recording:resume"))["ok"]
    late = await server.join(cid, "ben")
    assert late.received("class:state")[0]["recording"]["state"] == "recording"
    assert (await host.call("recording:stop"))["ok"]


async def test_kill_9_mid_recording_still_publishes(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, "--media-host", "127.0.0.1", "--media-allow-private")
    await server.start()
    try:
        headers = {"Authorization": f"Bearer {ADMIN}"}
        async with (
            aiohttp.ClientSession() as http,
            http.post(server.url + "/api/classes", json={"title": "Crash"}, headers=headers) as r,
        ):
            cid = (await r.json())["id"]
        host = Peer(server.url, mint(SECRET, cid, "teacher", "Teacher", "host"))
        learner = Peer(server.url, mint(SECRET, cid, "ann", "Ann", "participant"))
        await host.connect()
        await learner.connect()
        media, watcher = RtcClient(host), RtcClient(learner, tap=True)
        assert (await media.publish(Pattern(), Tone()))["ok"]
        tracks = await learner.wait_for("rtc:tracks", lambda d: len(d["tracks"]) == 2)
        video_id = next(t["track_id"] for t in tracks["tracks"] if t["kind"] == "video")
        rid = (await host.call("recording:start"))["recording_id"]
        assert (await learner.call("chat:send", {"text": "before the crash"}))["ok"]
        await watcher.frames_of(video_id, 90)  # about three seconds of media
        await server.kill()
        for client in (media, watcher):
            await client.close()

        await server.start("--media-host", "127.0.0.1", "--media-allow-private")
        # Restarting stops the cut-short recording and publishes what was kept.
        status = await published(server.url, rid)
        manifest = status["manifest"]
        assert manifest["duration_ms"] > 1000
        package = tmp_path / "recordings" / rid / "package"
        video = next(t for t in manifest["tracks"] if t["kind"] == "video")
        assert media_duration_ms(package / video["file"]) > 1000
        timeline = json.loads((package / "timeline.json").read_bytes())["events"]
        assert "before the crash" in [e["data"].get("text") for e in timeline]
        leftovers = [p.name for p in (tmp_path / "recordings" / rid).iterdir()]
        assert ".package-old" not in leftovers
    finally:
        await server.stop(signal.SIGKILL)


async def test_publish_options_pseudonyms_and_trims(server: Server, tmp_path: Path) -> None:
    cid = await server.create_class()
    host = await server.join(cid, "teacher", "host")
    ann = await server.join(cid, "ann@example.org", name="Ann Lee")
    rid = (await host.call("recording:start"))["recording_id"]
    for text in ("first", "second", "third"):
        assert (await ann.call("chat:send", {"text": text}))["ok"]
    assert (await host.call("chat:send", {"text": "from the host"}))["ok"]
    assert (await host.call("recording:stop"))["ok"]
    plain = await published(server.url, rid)
    timeline_file = tmp_path / "recordings" / rid / "package" / "timeline.json"
    events = json.loads(timeline_file.read_bytes())["events"]
    said = {e["data"]["text"]: e["t"] for e in events if e["name"] == "chat:message"}
    cut = said["second"]
    headers = {"Authorization": f"Bearer {ADMIN}"}
    options = {"pseudonyms": True, "trim_start_ms": cut}
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{server.url}/api/recordings/{rid}/publish", json=options, headers=headers) as r,
    ):
        assert r.status == 202
    manifest = (await published(server.url, rid))["manifest"]
    assert manifest["duration_ms"] == plain["manifest"]["duration_ms"] - cut
    events = json.loads(timeline_file.read_bytes())["events"]
    chats = [e["data"] for e in events if e["name"] == "chat:message"]
    # Messages in the same millisecond as "second" are kept with it.
    assert [c["text"] for c in chats] == [text for text, t in said.items() if t >= cut]
    assert [c["text"] for c in chats][-3:] == ["second", "third", "from the host"]
    assert chats[-3]["from"] == {"user_id": "p1", "name": "Participant 1"}
    assert chats[-1]["from"] == {"user_id": "teacher", "name": "Teacher"}
    assert events[0]["t"] >= 0
    raw = timeline_file.read_text() + json.dumps(manifest)
    assert "Ann Lee" not in raw and "ann@example.org" not in raw
