"""The font PDFs are set in: one with Chinese glyphs, embedded (subset) in every PDF.

ONESTOP_PDF_FONT names a TrueType file; else the first of the usual places of WenQuanYi Micro
Hei / Zen Hei (Debian: fonts-wqy-microhei, fonts-wqy-zenhei) and a few others is used; when none
is found, ReportLab's built-in STSong-Light, which needs no file but is not embedded: a PDF reader
must substitute a Chinese font of its own (Acrobat does; pdfium without one draws no Chinese).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from schemas.settings import settings

log = logging.getLogger("onestop.reports")

CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/wqy-microhei/wqy-microhei.ttc",  # Fedora
    "/usr/share/fonts/wenquanyi/wqy-microhei/wqy-microhei.ttc",  # Arch
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "C:/Windows/Fonts/simhei.ttf",
)
NAME = "OnestopCJK"
FALLBACK = "STSong-Light"


@dataclass(frozen=True)
class PdfFont:
    name: str  # the ReportLab font name to set text in
    path: str | None  # the file embedded; None: the non-embedded CID font
    embedded: bool


class FontError(ValueError):
    pass


@cache
def pdf_font() -> PdfFont:
    """Register (once) and return the font PDFs are set in."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    chosen = settings.pdf_font
    paths = [chosen] if chosen else [p for p in CANDIDATES if Path(p).is_file()]
    for path in paths:
        try:
            font = TTFont(NAME, path, subfontIndex=0) if path.lower().endswith(".ttc") else TTFont(NAME, path)
        except (TTFError, OSError) as error:
            if chosen:
                raise FontError(f"ONESTOP_PDF_FONT={chosen}: cannot use it as a TrueType font: {error}") from None
            continue
        pdfmetrics.registerFont(font)
        for bold in (0, 1):
            for italic in (0, 1):
                addMapping(NAME, bold, italic, NAME)
        return PdfFont(NAME, path, True)
    log.warning(
        "no TrueType font with Chinese glyphs found (install fonts-wqy-microhei or set ONESTOP_PDF_FONT): "
        "PDFs use %s, which is not embedded",
        FALLBACK,
    )
    pdfmetrics.registerFont(UnicodeCIDFont(FALLBACK))
    return PdfFont(FALLBACK, None, False)
