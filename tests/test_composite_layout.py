"""The composite video as the class saw it: a scripted recording of two cameras, a screen
share, a slide with ink and three speakers, composed and decoded with PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import Image

from recorder.composite import Chapter, Source, compose
from recorder.layout import Rect, Scene, Tile, View, plan
from recorder.picture import DARK, Picture
from recorder.slides_package import image_name
from tests.test_composite import decoded_mono, sounding, tone_track

RED, BLUE, GREEN = (220, 30, 30), (30, 30, 220), (30, 200, 30)
SLIDE = (200, 200, 200)
INK = (0, 0, 0)
DURATION = 6000
pytestmark = pytest.mark.timeout(300)  # 720p encoded twice, on a machine that may be busy
TRACKS: list[dict[str, Any]] = [
    {"file": "cam-ana.mkv", "user_id": "ana", "kind": "video", "source": "camera"},
    {"file": "cam-ben.mkv", "user_id": "ben", "kind": "video", "source": "camera"},
    {"file": "screen-ana.mkv", "user_id": "ana", "kind": "video", "source": "screen"},
    {"file": "mic-ana.mkv", "user_id": "ana", "kind": "audio", "source": "mic"},
    {"file": "mic-ben.mkv", "user_id": "ben", "kind": "audio", "source": "mic"},
    {"file": "mic-cleo.mkv", "user_id": "cleo", "kind": "audio", "source": "mic"},
]
SPANS = {"cam-ana.mkv": (0, 6000), "cam-ben.mkv": (0, 6000), "screen-ana.mkv": (2000, 4000)}
TONES = {"mic-ana.mkv": (200, 1800, 440), "mic-ben.mkv": (2200, 3800, 660)}
TONES |= {"mic-cleo.mkv": (4200, 5800, 1000)}
PEN = {"tool": "pen", "color": "#000000", "width": 200}
EVENTS: list[dict[str, Any]] = [
    {"t": 100, "name": "rtc:speaker", "data": {"room": "main", "user_id": "ana"}},
    {"t": 2100, "name": "rtc:speaker", "data": {"room": "main", "user_id": "ben"}},
    {"t": 3000, "name": "slides:view", "data": {"room": "r1", "deck_id": "d2", "page": 1}},
    {"t": 4000, "name": "slides:view", "data": {"room": "main", "deck_id": "d1", "page": 1}},
    {"t": 4100, "name": "rtc:speaker", "data": {"room": "main", "user_id": "cleo"}},
    {
        "t": 4500,
        "name": "board:ink",
        "data": {
            "room": "main",
            "deck_id": "d1",
            "page": 1,
            "stroke_id": "s1",
            "points": [1000, 5000, 9000, 5000],
            "ink": PEN,
            "done": True,
        },
    },
    {"t": 5000, "name": "rtc:muted", "data": {"user_id": "ana", "source": "camera", "muted": True}},
]


def _tracks() -> list[dict[str, Any]]:
    out = []
    for track in TRACKS:
        start, end = SPANS.get(track["file"], (0, DURATION))
        out.append(track | {"offset_ms": start, "duration_ms": end - start})
    return out


def test_the_plan_follows_the_screen_the_slide_and_the_speaker() -> None:
    left, right = Rect(0, 0, 640, 720), Rect(640, 0, 640, 720)
    main, featured, strip = Rect(0, 0, 960, 720), Rect(960, 0, 320, 240), Rect(960, 240, 160, 120)
    slide = View("d1", 1)
    assert plan(DURATION, _tracks(), EVENTS, hosts=["ana"]) == [
        Scene(0, 100, "gallery", tiles=(Tile("cam-ana.mkv", left), Tile("cam-ben.mkv", right))),
        Scene(
            100,
            2000,
            "gallery",
            tiles=(Tile("cam-ana.mkv", left, True), Tile("cam-ben.mkv", right)),
        ),
        Scene(
            2000,
            2100,
            "screen",
            main,
            "screen-ana.mkv",
            tiles=(Tile("cam-ana.mkv", featured, True), Tile("cam-ben.mkv", strip)),
        ),
        Scene(
            2100,
            4000,
            "screen",
            main,
            "screen-ana.mkv",
            tiles=(Tile("cam-ben.mkv", featured, True), Tile("cam-ana.mkv", strip)),
        ),
        Scene(
            4000,
            4100,
            "page",
            main,
            view=slide,
            tiles=(Tile("cam-ben.mkv", featured, True), Tile("cam-ana.mkv", strip)),
        ),
        # Cleo has no camera: Ben's stays featured, no longer marked.
        Scene(
            4100,
            5000,
            "page",
            main,
            view=slide,
            tiles=(Tile("cam-ben.mkv", featured), Tile("cam-ana.mkv", strip)),
        ),
        # Ana turns her camera off: her place stays, without a picture.
        Scene(
            5000,
            6000,
            "page",
            main,
            view=slide,
            tiles=(Tile("cam-ben.mkv", featured), Tile("cam-ana.mkv", strip, dark=True)),
        ),
    ]


def test_without_cameras_the_page_or_screen_fills_the_picture() -> None:
    screen = [t for t in _tracks() if t["source"] == "screen"]
    assert plan(5000, screen, []) == [
        Scene(0, 2000, "gallery"),
        Scene(2000, 4000, "screen", Rect(0, 0, 1280, 720), "screen-ana.mkv"),
        Scene(4000, 5000, "gallery"),
    ]
    blank = [{"t": 0, "name": "slides:state", "data": {"room": "main", "view": {"page": 2}}}]
    assert plan(1000, [], blank) == [
        Scene(0, 1000, "page", Rect(0, 0, 1280, 720), view=View(None, 2))
    ]


def test_a_camera_turned_off_and_on_again() -> None:
    cam: dict[str, Any] = {"file": "c", "user_id": "u", "kind": "video", "source": "camera"}
    cam |= {"offset_ms": 0, "duration_ms": 300}
    off: dict[str, Any] = {"user_id": "u", "source": "camera", "muted": True}
    events = [
        {"t": 100, "name": "rtc:muted", "data": off},
        {"t": 150, "name": "rtc:muted", "data": off | {"source": "mic"}},  # the mic: no matter
        {"t": 200, "name": "rtc:muted", "data": off | {"muted": False}},
    ]
    whole = Rect(0, 0, 1280, 720)
    assert [scene.tiles for scene in plan(300, [cam], events)] == [
        (Tile("c", whole),),
        (Tile("c", whole, dark=True),),
        (Tile("c", whole),),
    ]


def test_a_camera_in_a_breakout_room_leaves_the_main_room_s_picture() -> None:
    base: dict[str, Any] = {"kind": "video", "source": "camera", "offset_ms": 0}
    cams = [base | {"file": f, "user_id": f, "duration_ms": 300} for f in ("a", "b")]
    events = [
        {"t": 100, "name": "participant:updated", "data": {"user_id": "b", "room": "r1"}},
        {"t": 150, "name": "participant:updated", "data": {"user_id": "a", "role": "host"}},
        {"t": 200, "name": "participant:updated", "data": {"user_id": "b", "room": "main"}},
    ]
    shown = [(s.start_ms, [t.track for t in s.tiles]) for s in plan(300, cams, events)]
    assert shown == [(0, ["a", "b"]), (100, ["a"]), (200, ["a", "b"])]


def test_someone_who_comes_back_into_a_breakout_room_stays_out_of_the_picture() -> None:
    base: dict[str, Any] = {"kind": "video", "source": "camera", "offset_ms": 0}
    cams = [base | {"file": f, "user_id": f, "duration_ms": 300} for f in ("a", "b")]
    back = {"user_id": "b", "name": "B", "role": "participant", "room": "r1"}
    events = [
        {"t": 0, "name": "participant:updated", "data": {"user_id": "b", "room": "r1"}},
        {"t": 100, "name": "participant:joined", "data": back},
        {"t": 200, "name": "participant:joined", "data": back | {"room": "main"}},
    ]
    shown = [(s.start_ms, [t.track for t in s.tiles]) for s in plan(300, cams, events)]
    assert shown == [(0, ["a"]), (200, ["a", "b"])]


def test_a_gallery_grows_as_a_grid() -> None:
    cams = [
        {"file": f"c{n}", "user_id": f"u{n}", "kind": "video", "source": "camera"}
        | {"offset_ms": 0, "duration_ms": 1000}
        for n in range(5)
    ]
    (scene,) = plan(1000, cams, [])
    assert [tile.rect for tile in scene.tiles] == [
        Rect(0, 0, 426, 360),
        Rect(426, 0, 426, 360),
        Rect(852, 0, 426, 360),
        Rect(0, 360, 426, 360),
        Rect(426, 360, 426, 360),
    ]


def solid_video(path: Path, color: tuple[int, int, int], size: tuple[int, int], ms: int) -> None:
    """A VP8 track of one colour, 10 frames a second, `ms` long."""
    with av.open(str(path), "w", format="matroska") as out:
        stream: Any = out.add_stream("libvpx", rate=10)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        image = Image.new("RGB", size, color)
        for n in range(ms // 100):
            frame: Any = av.VideoFrame
            made = frame.from_image(image).reformat(format="yuv420p")
            made.pts, made.time_base = n * 100, Fraction(1, 1000)
            for packet in stream.encode(made):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def scripted(folder: Path) -> tuple[Picture, list[Source]]:
    solid_video(folder / "cam-ana.mkv", RED, (320, 240), 6000)
    solid_video(folder / "cam-ben.mkv", BLUE, (320, 240), 6000)
    solid_video(folder / "screen-ana.mkv", GREEN, (640, 360), 2000)
    Image.new("RGB", (1600, 900), SLIDE).save(folder / image_name("d1", 1))
    for name, (start, end, hz) in TONES.items():
        tone_track(folder / name, [(start, end, hz)], DURATION // 20)
    tracks = _tracks()
    videos = [t for t in tracks if t["kind"] == "video"]
    picture = Picture(
        plan(DURATION, tracks, EVENTS, ["ana"]),
        videos={t["file"]: folder / t["file"] for t in videos},
        offsets={t["file"]: t["offset_ms"] for t in videos},
        events=EVENTS,
        slides=folder,
        names={"cam-ana.mkv": "Ana", "cam-ben.mkv": "Ben"},
    )
    audio = [Source(folder / t["file"], t["offset_ms"]) for t in tracks if t["kind"] == "audio"]
    return picture, audio


def colour(image: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, ...]:
    """The mean colour of a region (compression blurs edges: regions, not pixels)."""
    mean = image.crop(box).resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    assert isinstance(mean, tuple)
    return mean


def brightest(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    """The lightest grey level in a region: white text shows as more than 200."""
    _, top = image.crop(box).convert("L").getextrema()
    assert isinstance(top, int)
    return top


def near(found: tuple[int, ...], want: tuple[int, int, int]) -> bool:
    return all(abs(a - b) <= 40 for a, b in zip(found, want, strict=True))


def pictures_at(path: Path, times_ms: list[int]) -> dict[int, Image.Image]:
    found: dict[int, Image.Image] = {}
    with av.open(str(path)) as video:
        for frame in video.decode(video=0):
            ms = 1000 * float(frame.time or 0)
            for t in times_ms:
                if t not in found and ms >= t:
                    image: Any = frame
                    found[t] = image.to_image()
    return found


@pytest.fixture(scope="module")
def composed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("layout")
    picture, audio = scripted(folder)
    chapters = [Chapter(0, "Start"), Chapter(4000, "Slides")]
    compose(folder / "c.webm", DURATION, picture, audio, chapters=chapters, mp4=folder / "c.mp4")
    return folder


@pytest.mark.parametrize("name", ["c.webm", "c.mp4"])
def test_the_picture_changes_with_the_class(composed: Path, name: str) -> None:
    shots = pictures_at(composed / name, [1000, 3000, 4300, 5500])
    gallery = shots[1000]
    assert near(colour(gallery, (100, 200, 540, 520)), RED)  # left: Ana, a host
    assert near(colour(gallery, (740, 200, 1180, 520)), BLUE)
    assert near(colour(gallery, (2, 130, 4, 600)), (255, 196, 0))  # Ana speaks: marked
    assert near(colour(gallery, (642, 130, 644, 600)), BLUE)  # Ben does not
    assert brightest(gallery, (8, 694, 50, 714)) > 200  # "Ana", white on her tile's corner
    assert brightest(gallery, (648, 694, 690, 714)) > 200
    assert brightest(gallery, (560, 694, 630, 714)) < 150  # and nothing else written there
    screen = shots[3000]
    assert near(colour(screen, (100, 150, 860, 570)), GREEN)  # the screen large
    assert near(colour(screen, (990, 40, 1250, 200)), BLUE)  # beside it Ben, speaking
    assert near(colour(screen, (970, 250, 1110, 350)), RED)  # in the strip: Ana
    before, after = shots[4300], shots[5500]
    assert near(colour(before, (100, 150, 860, 570)), SLIDE)  # the slide, no ink yet
    assert near(colour(after, (200, 355, 760, 365)), INK)  # the pen's line across it
    assert near(colour(after, (200, 150, 760, 300)), SLIDE)
    assert near(colour(after, (990, 40, 1250, 200)), BLUE)
    assert near(colour(after, (970, 250, 1110, 350)), DARK)  # Ana's camera is off
    assert near(colour(before, (970, 250, 1110, 350)), RED)
    with av.open(str(composed / name)) as video:
        assert abs(float(video.duration or 0) / 1e6 - DURATION / 1000) < 0.15


@pytest.mark.parametrize("name", ["c.webm", "c.mp4"])
def test_every_speaker_is_heard(composed: Path, name: str) -> None:
    spans = sounding(decoded_mono(composed / name))
    expected = sorted(TONES.values())
    assert len(spans) == len(expected), spans
    for (start, end, hz), (want_start, want_end, want_hz) in zip(spans, expected, strict=True):
        assert abs(start - want_start) <= 30 and abs(end - want_end) <= 30, (spans, expected)
        assert abs(hz - want_hz) <= want_hz * 0.1, (spans, expected)


@pytest.mark.parametrize("name", ["c.webm", "c.mp4"])
def test_both_keep_the_chapters(composed: Path, name: str) -> None:
    with av.open(str(composed / name)) as video:
        titles = [c["metadata"].get("title") for c in video.chapters()]
    assert titles == ["Start", "Slides"]


def test_with_nothing_to_show_the_picture_costs_nothing(tmp_path: Path) -> None:
    tone_track(tmp_path / "a.mkv", [(0, 500, 440)], 50)
    out, mp4 = tmp_path / "c.webm", tmp_path / "c.mp4"
    compose(out, 3000, None, [Source(tmp_path / "a.mkv", 0)], mp4=mp4)
    for made in (out, mp4):
        with av.open(str(made)) as video:
            assert sum(1 for _ in video.decode(video=0)) == 2  # black, held to the end
        with av.open(str(made)) as video:
            assert abs(float(video.duration or 0) / 1e6 - 3.0) < 0.1


def test_a_silent_class_with_a_slide_is_composed(tmp_path: Path) -> None:
    Image.new("RGB", (1600, 900), SLIDE).save(tmp_path / image_name("d1", 1))
    page = {"room": "main", "deck_id": "d1", "page": 1}
    shown = [{"t": 0, "name": "slides:view", "data": page}]
    picture = Picture(plan(2000, [], shown), {}, {}, shown, tmp_path)
    compose(tmp_path / "c.webm", 2000, picture, [], mp4=tmp_path / "c.mp4")
    for name in ("c.webm", "c.mp4"):
        slide = pictures_at(tmp_path / name, [1000])[1000]
        assert near(colour(slide, (100, 100, 1180, 620)), SLIDE)  # alone: the whole picture
        with av.open(str(tmp_path / name)) as video:
            assert abs(float(video.duration or 0) / 1e6 - 2.0) < 0.15
