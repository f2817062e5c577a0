"""What the brief tests share: fontconfig set-ups, a renderer that crashes or hangs on
purpose, and the check that every CJK character of a PDF draws a real glyph.

The crash and hang hooks live here, not in a test module, because a render worker
imports them by name: this module imports nothing heavy.
"""

from __future__ import annotations

import ctypes
import os
import re
import time
from pathlib import Path
from typing import Any

CJK = re.compile(r"[\u3400-\u9fff]")
FC_HEAD = ('<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
           "<fontconfig>")


def fontconfig_file(tmp: Path, *dirs: Path) -> Path:
    """A fontconfig set-up that knows the fonts in ``dirs`` and nothing else (no system
    directory, no user directory); with no ``dirs``, it knows no font at all."""
    tmp.mkdir(parents=True, exist_ok=True)
    body = "".join(f"<dir>{d}</dir>" for d in dirs)
    conf = tmp / "fonts.conf"
    conf.write_text(f"{FC_HEAD}{body}<cachedir>{tmp / 'cache'}</cachedir></fontconfig>\n",
                    encoding="utf-8")
    return conf


def crash(*_: Any) -> bytes:
    """A renderer that dies the way a native library does (SIGABRT)."""
    os.abort()


def hang(*_: Any) -> bytes:
    """A renderer that never finishes."""
    time.sleep(3600)
    return b""


def cjk_fonts_and_glyphs(data: bytes) -> tuple[set[str], dict[str, bytes]]:
    """The fonts the PDF's CJK characters are drawn in, and each distinct character's
    glyph as a small black-and-white bitmap (asserting each draws something)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    pdf = pdfium.PdfDocument(data)
    scale = 3
    glyphs: dict[str, bytes] = {}
    fonts: set[str] = set()
    for i in range(len(pdf)):
        page = pdf[i]
        tp = page.get_textpage()
        img = page.render(scale=scale).to_pil().convert("L")
        height = page.get_height()
        buf = ctypes.create_string_buffer(256)
        flags = ctypes.c_int()
        for j in range(tp.count_chars()):
            ch = tp.get_text_range(j, 1)
            if not CJK.match(ch):
                continue
            raw.FPDFText_GetFontInfo(tp.raw, j, buf, 256, ctypes.byref(flags))
            fonts.add(buf.value.decode("latin-1"))
            left, bottom, right, top = tp.get_charbox(j)
            box = (int(left * scale), int((height - top) * scale),
                   int(right * scale) + 1, int((height - bottom) * scale) + 1)
            crop = img.crop(box).resize((24, 24))
            assert min(crop.tobytes()) < 128, f"{ch!r} draws nothing"
            glyphs.setdefault(ch, crop.point(lambda v: 255 if v > 128 else 0).tobytes())
    return fonts, glyphs


def assert_cjk_drawn_in_shipped_font(data: bytes) -> None:
    """Every CJK character is drawn in the font tongdian ships, and as a real glyph: tofu
    draws the same box for every missing character, so distinct characters must draw
    (almost all) distinct glyphs; a few look-alikes at this size are allowed."""
    fonts, glyphs = cjk_fonts_and_glyphs(data)
    assert len(glyphs) > 50
    # WeasyPrint names an embedded font after its family, spaces as dashes
    assert fonts and all("Tongdian-Noto-Sans-CJK-SC" in f for f in fonts), fonts
    assert len(set(glyphs.values())) >= 0.95 * len(glyphs)
