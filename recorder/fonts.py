"""A font to write a person's name with, in whatever script it is written.

Names come in every script. Pillow's own font covers Latin only, so a name
is drawn with the installed font fontconfig picks for its characters
(`fc-match`, as desktop programs choose one), and with Pillow's own font
only where fontconfig or a font for those characters is missing: install
the Noto fonts (Debian's fonts-noto-core and fonts-noto-cjk) on a server
whose classes have names beyond Latin, Greek and Cyrillic.
"""

from __future__ import annotations

import functools
import shutil
import subprocess

from PIL import ImageFont

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@functools.lru_cache(maxsize=512)
def font_file(text: str) -> str | None:
    """The file of the installed sans-serif font that best covers `text`, or None."""
    tool = shutil.which("fc-match")
    points = sorted({ord(ch) for ch in text if not ch.isspace()})
    if tool is None or not points:
        return None
    pattern = "sans-serif:charset=" + " ".join(f"{point:x}" for point in points)
    try:
        found = subprocess.run(
            [tool, "--format=%{file}", pattern],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return found.stdout.strip() or None


@functools.lru_cache(maxsize=512)
def font_for(text: str, size: int) -> Font:
    """A font of `size` pixels for `text`: fontconfig's choice, else Pillow's own."""
    path = font_file(text)
    if path is not None:
        try:
            return ImageFont.truetype(path, size)
        except OSError:
            pass  # a bitmap font or one Pillow cannot read: its own will do
    return ImageFont.load_default(size=size)
