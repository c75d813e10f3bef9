"""Figures of bench/sfu.py: one run printed, several runs as tables of medians, and a model.

A run (`bench.sfu.measure`) holds phases by name: `sfu` (packet forwarding in
the server process), `workers` (the same with media workers), `low` (the
camera's low layer, shown small), `frames` (the frame forwarding SFU of an
earlier commit), `baseline` (transcoding), and `floor` (bench/sfu_floor.py's
per-packet figures).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from bench.harness import cell, table

Phase = dict[str, Any]
"""One measured server as bench.sfu's `phase` returns it."""
Run = dict[str, Any]

AUDIO_PPS = 50
"""Opus packets a second (20 ms each)."""
LECTURE = 300
SEMINAR, PAGE = 25, 9


def per_frame_s(r: Phase) -> float:
    """Server CPU seconds per frame it sent one subscriber (fair when fps fell short)."""
    fps = sent_each(r)
    return float(r["per_stream"] / fps) if fps > 0 else 0.0


def sent_each(r: Phase) -> float:
    """Frames per second the server sent each subscriber."""
    return float(r["server"].get("forwarded", 0.0) / r["subscribers"])


def packets_each(r: Phase) -> float:
    """RTP packets per second the server sent each subscriber (0 if it does not count them)."""
    return float(r["server"].get("packets", 0.0) / r["subscribers"])


def per_packet_s(r: Phase) -> float:
    pps = packets_each(r)
    return float(r["per_stream"] / pps) if pps > 0 else float("nan")


def upkeep_per_packet_s(r: Phase) -> float:
    """What a connected subscriber's upkeep (RTCP, ICE consent: the server's CPU with the
    publisher paused, per subscriber) adds to each packet it is sent when it is not."""
    pps = packets_each(r) if r.get("idle") is not None else 0.0
    return float(r["idle"] / r["subscribers"] / pps) if pps > 0 else float("nan")


def packets_per_frame(r: Phase) -> float:
    fps = sent_each(r)
    return packets_each(r) / fps if fps > 0 and packets_each(r) > 0 else float("nan")


def worst_loss(r: Phase) -> float:
    """The share of the publisher's frames the worst-served subscriber did not get."""
    if r["sent_fps"] <= 0 or not r["fps"]:
        return float("nan")
    return max(0.0, 1 - float(min(r["fps"])) / float(r["sent_fps"]))


def streams_per_core(r: Phase) -> float:
    """At the stream's own frame rate (30 fps, 15 for the low layer)."""
    per_frame = per_frame_s(r)
    return 1 / (r.get("rate", 30) * per_frame) if per_frame > 0 else float("nan")


def relay_per_stream(r: Phase) -> float:
    """Main process CPU (cores) per subscriber stream when media workers do the sending."""
    return float((r["loaded"] - r["alone"]) / r["subscribers"])


def worker_per_stream(r: Phase) -> float:
    """A media worker's CPU (cores) per subscriber stream it sends, mean of the workers."""
    workers = r.get("workers") or []
    if not workers:
        return float("nan")
    spent = sum(w["loaded"] - w["alone"] for w in workers)
    return float(spent / r["subscribers"])


def relay_per_packet(r: Phase) -> float:
    """Main process CPU seconds per packet it passes to one media worker."""
    workers = len(r.get("workers") or [])
    pps = r["server"].get("packets", 0.0) / r["subscribers"]
    return float((r["loaded"] - r["alone"]) / (pps * workers)) if pps and workers else float("nan")


def _ingest(have: Sequence[Run]) -> tuple[float, float, float]:
    """Cores the server spends receiving a camera (with its low layer), a screen and a
    microphone: the publisher-alone CPU per packet received, times each one's packets."""
    counted = [r for r in have if packets_each(r["sfu"]) > 0]
    if not counted:  # a server that does not count its packets: nothing to price them by
        return float("nan"), float("nan"), float("nan")
    per_packet = statistics.median(r["sfu"]["alone"] / packets_each(r["sfu"]) for r in counted)
    video = statistics.median(packets_each(r["sfu"]) for r in counted)
    lows = [packets_each(r["low"]) for r in have if "low" in r]
    low = statistics.median(lows) if lows else float("nan")
    return (video + low) * per_packet, video * per_packet, AUDIO_PPS * per_packet


def report(r: Phase) -> None:
    """One phase, printed as the run goes."""
    title = {
        "sfu": "SFU, RTP packets forwarded in the server process",
        "workers": f"SFU, RTP packets forwarded by {len(r.get('workers') or [])} media workers",
        "low": "SFU, the camera's low layer (320x180, 15 fps) to subscribers showing it small",
        "frames": f"SFU before ({r.get('commit', 'frame forwarding')})",
        "baseline": "Transcoding baseline (MediaRelay, one VP8 encode per subscriber)",
    }[r["name"]]
    fps = r["fps"]
    print(f"{title}: {r['subscribers']} subscribers")
    print(f"  server CPU, publisher alone:    {100 * r['alone']:6.1f} % of a core")
    print(f"  server CPU, with subscribers:   {100 * r['loaded']:6.1f} % of a core")
    for i, w in enumerate(r.get("workers") or []):
        print(f"  media worker {i} CPU:    {100 * w['alone']:6.1f} -> {100 * w['loaded']:.1f} %")
    print(f"  per subscriber stream:          {100 * r['per_stream']:6.2f} % of a core")
    print(f"  publisher's source:             {r['sent_fps']:6.1f} fps into its encoder")
    print(f"  server sent per subscriber:     {sent_each(r):6.1f} fps")
    if packets_each(r):
        print(f"  RTP packets per frame:          {packets_per_frame(r):6.2f}")
    print(
        f"  frames delivered per subscriber: min {min(fps):.1f}, median "
        f"{statistics.median(fps):.1f}, max {max(fps):.1f} fps"
    )
    print(f"  worst subscriber's frame loss:  {100 * worst_loss(r):6.2f} %")
    if r.get("idle") is not None:
        print(f"  server CPU, publisher paused:   {100 * r['idle']:6.1f} % of a core")
        print(f"  upkeep per subscriber packet:   {1e6 * upkeep_per_packet_s(r):6.1f} us")
    if per_frame_s(r) > 0:
        print(f"  server CPU per frame sent:      {1e6 * per_frame_s(r):6.0f} us per subscriber")
        print(f"  streams one core carries:        {streams_per_core(r):5.0f}")
    if r["decoded_fps"]:
        decoded = ", ".join(f"{f:.1f}" for f in r["decoded_fps"])
        print(f"  decoding subscribers:           {decoded} fps decoded")


Row = tuple[str, Callable[[Phase], float], int, str]
ROWS: list[Row] = [
    ("subscribers", lambda r: r["subscribers"], 0, ""),
    ("server CPU, publisher alone (of a core)", lambda r: 100 * r["alone"], 1, "%"),
    ("server CPU, with the subscribers", lambda r: 100 * r["loaded"], 1, "%"),
    ("server CPU per subscriber stream", lambda r: 100 * r["per_stream"], 2, "%"),
    ("frames/s the publisher sent", lambda r: r["sent_fps"], 1, ""),
    ("frames/s the server sent each subscriber", sent_each, 1, ""),
    ("frames/s each subscriber received (median)", lambda r: statistics.median(r["fps"]), 1, ""),
    ("frame loss, worst subscriber", lambda r: 100 * worst_loss(r), 2, "%"),
    ("RTP packets per frame", packets_per_frame, 2, ""),
    ("server CPU per frame sent to one subscriber", lambda r: 1e6 * per_frame_s(r), 0, "µs"),
    ("subscriber streams per core (at their frame rate)", streams_per_core, 0, ""),
]
SIDES = {
    "sfu": "packet forwarding",
    "low": "low layer, 320x180 15 fps",
    "frames": "frame forwarding (before)",
    "baseline": "transcoding baseline",
}


def render(runs: Sequence[Run]) -> str:
    """The tables of bench.sfu: medians of the runs (min-max)."""
    sides = [side for side in SIDES if any(side in run for run in runs)]
    have = [[run for run in runs if side in run] for side in sides]
    rows = [
        [
            name,
            *(
                cell([value(run[side]) for run in got], digits, unit)
                for side, got in zip(sides, have, strict=True)
            ),
        ]
        for name, value, digits, unit in ROWS
    ]
    rows.append(["cost against transcoding, per frame", *(_against(runs, side) for side in sides)])
    parts = [table(["", *(SIDES[side] for side in sides)], rows)]
    if any("workers" in run for run in runs):
        parts.append(_workers([run["workers"] for run in runs if "workers" in run]))
    if any("floor" in run for run in runs):
        parts.append(_floor([run for run in runs if "floor" in run and "sfu" in run]))
    parts.append(_model([run for run in runs if "sfu" in run]))
    return "\n\n".join(parts)


def _against(runs: Sequence[Run], side: str) -> str:
    ratios = [
        per_frame_s(run["baseline"]) / per_frame_s(run[side])
        for run in runs
        if side in run and "baseline" in run and per_frame_s(run[side]) > 0
    ]
    if side == "baseline" or not ratios:
        return ""
    return "1/" + cell(ratios, 0, "")


def _workers(phases: list[Phase]) -> str:
    rows = [
        ["media workers", cell([len(p["workers"]) for p in phases], 0, "")],
        ["subscribers (spread over the workers)", cell([p["subscribers"] for p in phases], 0, "")],
        ["frame loss, worst subscriber", cell([100 * worst_loss(p) for p in phases], 2, "%")],
        [
            "main process CPU per subscriber stream (the relay)",
            cell([100 * relay_per_stream(p) for p in phases], 3, "%"),
        ],
        [
            "main process CPU per packet relayed to a worker",
            cell([1e6 * relay_per_packet(p) for p in phases], 1, "µs"),
        ],
        [
            "workers' CPU per subscriber stream",
            cell([100 * worker_per_stream(p) for p in phases], 2, "%"),
        ],
    ]
    for i in range(max(len(p["workers"]) for p in phases)):
        loads = [100 * p["workers"][i]["loaded"] for p in phases if len(p["workers"]) > i]
        rows.append([f"worker {i} CPU with the subscribers", cell(loads, 1, "%")])
    return "**With media workers** (`--media-workers`)\n\n" + table(["", "figure"], rows)


def _floor(runs: Sequence[Run]) -> str:
    rows = [
        [
            "SRTP protect + one sendto of a 1,200-byte packet (the floor)",
            cell([1e6 * r["floor"]["floor"] for r in runs], 1, "µs"),
        ],
    ]
    delivered = [r for r in runs if "delivered" in r["floor"]]
    if delivered:
        rows.append(
            [
                "the same, delivered to subscribers waiting in other processes, as here",
                cell([1e6 * r["floor"]["delivered"] for r in delivered], 1, "µs"),
            ]
        )
    batched = [r for r in runs if "sendmmsg" in r["floor"]]
    if batched:
        rows += [
            [
                "one sendto each from a socket per subscriber, every datagram delivered",
                cell([1e6 * r["floor"]["sendto"] for r in batched], 1, "µs"),
            ],
            [
                "one sendmmsg of 25 datagrams to 25 subscribers on one socket, per datagram",
                cell([1e6 * r["floor"]["sendmmsg"] for r in batched], 1, "µs"),
            ],
        ]
    native = [r for r in runs if "native" in r["floor"]]
    if native:
        rows.append(
            [
                "SRTP protect + sendto in C, as the native fan-out sends (25 subscriber "
                "sockets, every datagram delivered)",
                cell([1e6 * r["floor"]["native"] for r in native], 1, "µs"),
            ]
        )
    rows += [
        [
            "the SFU's forwarding path, measured alone",
            cell([1e6 * r["floor"]["forward"] for r in runs], 1, "µs"),
        ],
        [
            "the SFU serving subscribers (server CPU per packet per subscriber)",
            cell([1e6 * per_packet_s(r["sfu"]) for r in runs], 1, "µs"),
        ],
    ]
    idle = [r for r in runs if r["sfu"].get("idle") is not None]
    if idle:
        rows.append(
            [
                "of which the upkeep of a connected subscriber (RTCP, ICE consent: "
                "the server's CPU with the publisher paused, per subscriber and packet)",
                cell([1e6 * upkeep_per_packet_s(r["sfu"]) for r in idle], 1, "µs"),
            ]
        )
    rows.append(["the floor per frame, against transcoding", _floor_ratio(runs, "floor")])
    if delivered:
        ratio = _floor_ratio(delivered, "delivered")
        rows.append(["the delivered floor per frame, against transcoding", ratio])
    return "**Per packet, against the floor**\n\n" + table(["", "per packet"], rows)


def _floor_ratio(runs: Sequence[Run], which: str) -> str:
    """What forwarding could cost at best, as a share of the transcoding baseline: a floor
    (`which`) times the packets of a frame."""
    ratios = [
        per_frame_s(r["baseline"]) / (r["floor"][which] * packets_per_frame(r["sfu"]))
        for r in runs
        if "baseline" in r and per_frame_s(r["baseline"]) > 0 and r["floor"][which] > 0
    ]
    ratios = [x for x in ratios if x == x]  # packets per frame unknown: nan
    return f"1/{statistics.median(ratios):.0f}" if ratios else "n/a"


def _model(runs: Sequence[Run]) -> str:
    """Cores a lecture and a seminar need, from the measured cost of a stream of each layer,
    and of receiving what the publishers send."""
    have = [r for r in runs if "sfu" in r]
    if not have:
        return ""
    full = statistics.median(r["sfu"]["per_stream"] for r in have)
    audio = AUDIO_PPS * statistics.median(per_packet_s(r["sfu"]) for r in have)
    lows = [r["low"]["per_stream"] for r in have if "low" in r]
    small = statistics.median(lows) if lows else float("nan")
    camera, screen, mic = _ingest(have)
    others = SEMINAR - 1
    classes = [
        (f"lecture: {LECTURE} students, camera and screen in full, and the microphone",
         LECTURE, 2, 0, 1, camera + screen + mic),
        (f"lecture: {LECTURE} students, the screen large, the camera small (its low layer)",
         LECTURE, 1, 1, 1, camera + screen + mic),
        (f"seminar: {SEMINAR} cameras, everyone receives every camera in full",
         SEMINAR, others, 0, others, SEMINAR * (camera + mic)),
        (f"seminar: {SEMINAR} cameras, a gallery page of {PAGE} in full",
         SEMINAR, PAGE, 0, others, SEMINAR * (camera + mic)),
        (f"seminar: {SEMINAR} cameras, a page of {PAGE}: the speaker in full, {PAGE - 1} small",
         SEMINAR, 1, PAGE - 1, others, SEMINAR * (camera + mic)),
    ]  # fmt: skip
    rows = []
    for name, people, high, low, sounds, received in classes:
        sending = people * (high * full + low * small + sounds * audio)
        streams = f"{people * high:,} + {people * low:,} + {people * sounds:,}"
        rows.append(
            [name, streams, f"{sending:.2f}", f"{received:.2f}", f"{sending + received:.2f}"]
        )
    text = (
        "**Modeled classes** (cores, at the measured cost of a subscriber stream: "
        f"{100 * full:.3f} % of a core in full, {100 * small:.3f} % small, "
        f"{100 * audio:.3f} % of audio; and of receiving what the publishers send: "
        f"{100 * camera:.2f} % a camera with its low layer, {100 * screen:.2f} % a screen, "
        f"{100 * mic:.2f} % a microphone. Receiving is priced per packet from the "
        '"publisher alone" figure, which includes the idle server: an upper bound)\n\n'
    )
    headers = ["", "subscriber streams: full + small + audio", "sending", "receiving", "cores"]
    text += table(headers, rows)
    video = [packets_each(r["sfu"]) for r in have]
    relay = [relay_per_packet(r["workers"]) for r in have if "workers" in r]
    if relay:
        relay_us = statistics.median(relay) * 1e6
        text += (
            f"\n\nWith media workers, the main process adds {relay_us:.1f} µs per packet and "
            "worker: for the lecture's three tracks at the same rates, "
            f"{(2 * statistics.median(video) + AUDIO_PPS) * statistics.median(relay):.4f} "
            "cores per worker."
        )
    return text
