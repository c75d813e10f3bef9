"""The worker that renders a deck: `python -m slides.render PDF FOLDER [limits]`.

It runs in a process of its own, started for each upload (slides/service.py),
because a PDF is untrusted input to a large C library: before it opens the
file it caps its own address space, CPU time and file sizes, so a hostile PDF
can make it fail, never the server. PDFium comes inside pypdfium2's wheels;
Pillow encodes the pages as WebP.

It writes each page as an image, each page's text, and deck.json last (its
presence means the deck is complete), and reports on stdout, one JSON object
a line: `{"pages": n}`, then `{"page": i}` as each is done, and `{"error":
message}` before exiting with status 2 when the PDF is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
from pathlib import Path
from typing import Any

MAX_SIDE = 1920
"""Pixels of a page image's longer side (slides are shown at most this large)."""
TEXT_MAX = 20_000
"""Characters of text kept per page (for search)."""
TITLE_MAX = 120


class Refused(Exception):
    """The PDF cannot be used; the message says why, for the uploader."""


def limit(memory_mb: int, cpu_s: int, file_mb: int) -> None:
    """Bounds the kernel enforces on this process, set before any untrusted byte is read."""
    mem = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    size = file_mb * 2**20
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.nice(10)


def say(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def render(pdf_path: Path, out: Path, max_pages: int) -> dict[str, Any]:
    """Render every page; returns deck.json's content (without the name)."""
    import pypdfium2 as pdfium  # here: after the limits are in place

    try:
        pdf = pdfium.PdfDocument(pdf_path)
    except pdfium.PdfiumError as exc:
        raise Refused(_why(str(exc))) from exc
    pages = len(pdf)
    if pages == 0:
        raise Refused("the PDF has no pages")
    if pages > max_pages:
        raise Refused(f"the PDF has {pages} pages; at most {max_pages} are accepted")
    say({"pages": pages})
    outline = _outline(pdf, pages)
    sizes, titles, texts = [], [], []
    for index in range(pages):
        page = pdf[index]
        size, text = _page(page, out / f"page-{index + 1:04d}.webp")
        sizes.append(size)
        texts.append(text)
        titles.append(outline.get(index) or _first_line(text))
        page.close()
        say({"page": index + 1})
    pdf.close()
    (out / "text.json").write_text(json.dumps({"pages": texts}, ensure_ascii=False))
    return {"pages": pages, "sizes": sizes, "titles": titles}


def _why(error: str) -> str:
    if "password" in error.lower():
        return "the PDF is encrypted (password-protected): export it without a password"
    return "the file is not a PDF that can be read"


def _page(page: Any, target: Path) -> tuple[list[int], str]:
    width, height = page.get_size()
    if not (width > 1 and height > 1):
        raise Refused("a page of the PDF has no size")
    scale = min(MAX_SIDE / width, MAX_SIDE / height)
    image = page.render(scale=scale, may_draw_forms=True).to_pil().convert("RGB")
    image.save(target, "WEBP", quality=82, method=4)
    textpage = page.get_textpage()
    text = textpage.get_text_bounded()[:TEXT_MAX].replace("\r\n", "\n").replace("\r", "\n")
    textpage.close()
    return [image.width, image.height], text


def _outline(pdf: Any, pages: int) -> dict[int, str]:
    """The bookmarks' titles by page (the first for a page wins)."""
    titles: dict[int, str] = {}
    try:
        for i, item in enumerate(pdf.get_toc(max_depth=3)):
            if i >= 2000:
                break
            index = item.page_index
            if index is not None and 0 <= index < pages and index not in titles:
                titles[index] = " ".join(str(item.title).split())[:TITLE_MAX]
    except Exception:  # a broken outline is no reason to refuse the slides
        return {}
    return titles


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return " ".join(line.split())[:TITLE_MAX]
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render a PDF's pages (a worker process).")
    parser.add_argument("pdf", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--max-pages", type=int, default=300)
    parser.add_argument("--memory-mb", type=int, default=1024)
    parser.add_argument("--cpu-s", type=int, default=300)
    parser.add_argument("--file-mb", type=int, default=64)
    args = parser.parse_args(argv)
    limit(args.memory_mb, args.cpu_s, args.file_mb)
    try:
        deck = render(args.pdf, args.out, args.max_pages)
    except Refused as exc:
        say({"error": str(exc)})
        return 2
    except MemoryError:
        say({"error": "the PDF needs more memory to render than a deck may use"})
        return 2
    tmp = args.out / ".deck.json"
    tmp.write_text(json.dumps(deck, ensure_ascii=False))
    tmp.replace(args.out / "deck.json")
    say({"done": True})
    return 0


if __name__ == "__main__":
    sys.exit(main())
