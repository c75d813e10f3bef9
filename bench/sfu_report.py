"""Figures of bench/sfu.py: one run printed, several runs as a table of medians."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from bench.harness import cell, table

Phase = dict[str, Any]
"""One measured server (`sfu` or `baseline`) as bench.sfu's `phase` returns it."""


def per_frame_s(r: Phase) -> float:
    """Server CPU seconds per frame it sent one subscriber (fair when fps fell short)."""
    fps = sent_each(r)
    return float(r["per_stream"] / fps) if fps > 0 else 0.0


def sent_each(r: Phase) -> float:
    """Frames per second the server sent each subscriber."""
    return float(r["server"].get("forwarded", 0.0) / r["subscribers"])


def worst_loss(r: Phase) -> float:
    """The share of the publisher's frames the worst-served subscriber did not get."""
    if r["sent_fps"] <= 0 or not r["fps"]:
        return float("nan")
    return max(0.0, 1 - float(min(r["fps"])) / float(r["sent_fps"]))


def streams_per_core(r: Phase) -> float:
    per_frame = per_frame_s(r)
    return 1 / (30 * per_frame) if per_frame > 0 else float("nan")


def report(r: Phase) -> None:
    """One phase, printed as the run goes."""
    title = {
        "sfu": "SFU forwarding (encoded frames, no decode, no re-encode)",
        "baseline": "Transcoding baseline (MediaRelay, one VP8 encode per subscriber)",
    }[r["name"]]
    fps = r["fps"]
    print(f"{title}: {r['subscribers']} subscribers")
    print(f"  server CPU, publisher alone:    {100 * r['alone']:6.1f} % of a core")
    print(f"  server CPU, with subscribers:   {100 * r['loaded']:6.1f} % of a core")
    print(f"  per subscriber stream:          {100 * r['per_stream']:6.2f} % of a core")
    print(f"  publisher's source:             {r['sent_fps']:6.1f} fps into its encoder")
    if "received" in r["server"]:
        print(
            f"  server received {r['server']['received']:.1f} fps; per subscriber it forwarded "
            f"{sent_each(r):.1f} fps and dropped "
            f"{r['server']['dropped'] / r['subscribers']:.1f} fps"
        )
    else:
        print(f"  server encoded per subscriber:  {sent_each(r):6.1f} fps")
    print(
        f"  frames delivered per subscriber: min {min(fps):.1f}, median "
        f"{statistics.median(fps):.1f}, max {max(fps):.1f} fps"
    )
    print(f"  worst subscriber's frame loss:  {100 * worst_loss(r):6.2f} %")
    if per_frame_s(r) > 0:
        print(f"  server CPU per frame sent:      {1e6 * per_frame_s(r):6.0f} us per subscriber")
        print(f"  30 fps streams one core carries: {streams_per_core(r):5.0f}")
    if r["decoded_fps"]:
        decoded = ", ".join(f"{f:.1f}" for f in r["decoded_fps"])
        print(f"  decoding subscribers:           {decoded} fps decoded")


ROWS: list[tuple[str, Callable[[Phase], float], int, str]] = [
    ("subscribers", lambda r: r["subscribers"], 0, ""),
    ("server CPU, publisher alone (of a core)", lambda r: 100 * r["alone"], 1, "%"),
    ("server CPU, with the subscribers", lambda r: 100 * r["loaded"], 1, "%"),
    ("server CPU per subscriber stream", lambda r: 100 * r["per_stream"], 2, "%"),
    ("frames/s the publisher sent", lambda r: r["sent_fps"], 1, ""),
    ("frames/s the server sent each subscriber", sent_each, 1, ""),
    ("frames/s each subscriber received (median)", lambda r: statistics.median(r["fps"]), 1, ""),
    ("frame loss, worst subscriber", lambda r: 100 * worst_loss(r), 2, "%"),
    ("server CPU per frame sent to one subscriber", lambda r: 1e6 * per_frame_s(r), 0, "µs"),
    ("30 fps subscriber streams per core", streams_per_core, 0, ""),
]


def render(runs: Sequence[dict[str, Phase]]) -> str:
    """SFU and baseline side by side, medians of the runs (min-max)."""
    return table(
        ["", "SFU forwarding", "transcoding baseline"],
        [
            [name, *(cell([value(run[side]) for run in runs], digits, unit) for side in SIDES)]
            for name, value, digits, unit in ROWS
        ],
    )


SIDES = ("sfu", "baseline")
