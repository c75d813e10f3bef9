"""Slides: how long a 100-page deck takes to render, and the worker's peak memory.

The deck is a PDF of `--pages` pages, each filled with a colour and titled
(tests/pdfs.py), rendered exactly as an upload is: by the worker process
(`python -m slides.render`) with its limits, each page to a 1920-pixel WebP
and its text extracted. The worker's peak resident memory comes from the
kernel (`ru_maxrss` of the finished child).

Figures, not a pass/fail: `python -m bench.slides_render [--pages 100] [--runs 3]`.
The table also goes into docs/benchmarks.md, between its own markers.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.all import write_section
from bench.harness import cell, machine, progress, table
from tests import pdfs

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- bench:slides:begin -->", "<!-- bench:slides:end -->"


def render_once(pdf: bytes, pages: int) -> tuple[float, float, int]:
    """Seconds, the worker's peak MB, and bytes of images written."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "upload.pdf").write_bytes(pdf)
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "slides.render", str(folder / "upload.pdf"), str(folder),
             f"--max-pages={pages}"],
            check=True, stdout=subprocess.DEVNULL, cwd=ROOT,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        # The largest of any child so far: every run renders the same deck, so it is this one's.
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        images = sum(p.stat().st_size for p in folder.glob("page-*.webp"))
        return seconds, peak_kb / 1024, images


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)
    pdf = pdfs.deck([f"Slide {n}: the derivative" for n in range(1, args.pages + 1)], (960, 540))
    runs = []
    for number in range(args.runs):
        runs.append(render_once(pdf, args.pages))
        progress(f"run {number + 1}: {runs[-1][0]:.1f} s")
    seconds = [r[0] for r in runs]
    rows = [
        [f"render {args.pages} pages (s)", cell(seconds, 1)],
        ["per page (ms)", cell([1000 * s / args.pages for s in seconds])],
        ["worker's peak memory (MB)", cell([r[1] for r in runs])],
        ["images per page (KB)", cell([r[2] / args.pages / 1024 for r in runs])],
    ]
    text = (
        f"A {args.pages}-page deck ({len(pdf) // 1024} KB, 960x540 pt pages) rendered by the "
        "worker process to 1920-pixel WebP images with each page's text. "
        + (f"Median of {len(runs)} runs (min\N{EN DASH}max). " if len(runs) > 1 else "One run. ")
        + f"Machine: {machine()}.\n\n"
        + table(["figure", "value"], rows)
    )
    write_section(
        args.doc, f"{BEGIN}\n\n### Slides: rendering a deck\n\n{text}\n\n{END}", BEGIN, END
    )
    print(text, flush=True)


if __name__ == "__main__":
    main()
