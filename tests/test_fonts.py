"""Names on the composite's tiles are written in their own script: with the installed font
fontconfig picks for their characters, else with Pillow's own font."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PIL import Image, ImageDraw, ImageFont

from recorder.fonts import Font, font_file, font_for

UNASSIGNED = "\U0010fffd"
"""A private-use character no font draws: what a missing glyph looks like."""


@pytest.fixture(autouse=True)
def fresh() -> Iterator[None]:
    font_file.cache_clear()
    font_for.cache_clear()
    yield
    font_file.cache_clear()
    font_for.cache_clear()


def drawn(font: Font, text: str) -> bytes:
    image = Image.new("L", (80, 40))
    ImageDraw.Draw(image).text((4, 4), text, font=font, fill=255)
    return image.tobytes()


def test_a_cyrillic_name_gets_a_font_that_has_its_letters() -> None:
    font = font_for("Иван", 20)
    assert isinstance(font, ImageFont.FreeTypeFont)
    assert str(font_file("Иван")).endswith(".ttf")
    for letter in "Иван":
        assert drawn(font, letter) != drawn(font, UNASSIGNED), letter


def test_without_fontconfig_pillow_s_own_font_writes_the_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "")
    assert font_file("Ana") is None
    font = font_for("Ana", 20)
    assert drawn(font, "Ana") != drawn(font, "")


def test_a_name_of_spaces_asks_fontconfig_nothing() -> None:
    assert font_file("   ") is None
