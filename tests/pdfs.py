"""PDFs for tests, written byte by byte: decks with a title and a colour per page, and
hostile or broken ones."""

from __future__ import annotations

import zlib

COLORS = [(0.85, 0.1, 0.1), (0.1, 0.7, 0.2), (0.1, 0.3, 0.9), (0.9, 0.8, 0.1)]
"""Page n is filled with COLORS[(n - 1) % 4], so a picture tells which page it shows."""


def pdf(objects: list[bytes], trailer: bytes = b"") -> bytes:
    """A PDF of numbered objects (1, 2, ...), the first being the catalog."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s>>\n" % (len(objects) + 1, trailer)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _stream(data: bytes, compress: bool = False) -> bytes:
    if compress:
        data = zlib.compress(data)
        return b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(data), data)
    return b"<< /Length %d >>\nstream\n%s\nendstream" % (len(data), data)


def _escape(text: str) -> str:
    """A PDF string's text: backslashes and parentheses escaped."""
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def deck(titles: list[str], size: tuple[int, int] = (640, 480)) -> bytes:
    """One page per title: filled with its colour, the title written at the top."""
    width, height = size
    pages = len(titles)
    first_page = 4
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, title in enumerate(titles):
        r, g, b = COLORS[i % len(COLORS)]
        text = _escape(title)
        content = (
            f"{r} {g} {b} rg 0 0 {width} {height} re f "
            f"0 0 0 rg BT /F1 28 Tf 40 {height - 60} Td ({text}) Tj ET"
        ).encode("latin-1")
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents %d 0 R"
            b" /Resources << /Font << /F1 3 0 R >> >> >>" % (width, height, first_page + 2 * i + 1)
        )
        objects.append(_stream(content))
    return pdf(objects)


def lecture(title: str, lines: list[str], size: tuple[int, int] = (960, 540)) -> bytes:
    """One white page: a title and lines of text under it, as a lecture's slide."""
    width, height = size
    text = [f"BT /F1 40 Tf 60 {height - 90} Td ({_escape(title)}) Tj ET"]
    text += [
        f"BT /F1 26 Tf 80 {height - 170 - 50 * i} Td ({_escape(line)}) Tj ET"
        for i, line in enumerate(lines)
    ]
    content = f"1 1 1 rg 0 0 {width} {height} re f 0.1 0.1 0.2 rg {' '.join(text)}"
    return pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents 5 0 R"
            b" /Resources << /Font << /F1 3 0 R >> >> >>" % (width, height),
            _stream(content.encode("latin-1")),
        ]
    )


def encrypted() -> bytes:
    """A PDF with a user password (the standard security handler): it does not open without."""
    body = deck(["Secret"])
    key = b"<" + b"ab" * 32 + b">"
    encrypt = b"<< /Filter /Standard /V 1 /R 2 /O %s /U %s /P -4 >>" % (key, key)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        encrypt,
    ]
    assert body  # the same kind of file, but locked
    return pdf(objects, b"/Encrypt 4 0 R /ID [<00112233445566778899aabbccddeeff> <00>] ")


def broken() -> bytes:
    """Starts like a PDF, then is nothing of the sort."""
    return b"%PDF-1.7\n" + bytes(range(256)) * 40


def not_pdf() -> bytes:
    """A PNG file's signature and header: what a mistaken upload looks like."""
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 200


def pages(count: int) -> bytes:
    """A deck of `count` empty pages, made quickly (one content stream shared by all)."""
    kids = b" ".join(b"%d 0 R" % (4 + i) for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, count),
        _stream(b"0.5 0.5 0.5 rg 0 0 100 100 re f"),
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 400 300] /Contents 3 0 R >>"] * count
    return pdf(objects)


def bomb(megabytes: int = 3000) -> bytes:
    """A page whose content stream inflates to `megabytes` of nothing: a decompression bomb."""
    compressor = zlib.compressobj(9)
    chunk = b" " * 2**20
    data = b"".join(compressor.compress(chunk) for _ in range(megabytes)) + compressor.flush()
    stream = b"<< /Length %d /Filter /FlateDecode >>\nstream\n%s\nendstream" % (len(data), data)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents 4 0 R >>",
        stream,
    ]
    return pdf(objects)
