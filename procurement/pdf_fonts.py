"""Fonts of the PO PDF: DejaVu Sans for Latin, Greek and Cyrillic, WenQuanYi Micro Hei for CJK, both embedded.

Without them the fallback is Helvetica and reportlab's CID font STSong-Light, which is NOT embedded (a reader
without Adobe's Asian font pack shows boxes): a warning is logged and `fonts().note` says what to install.
Control characters (NUL …) are dropped, and a character no font has (an emoji beyond DejaVu's, say) is printed
as its code point, `[U+1FAE0]`, never as an empty box.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont

log = logging.getLogger(__name__)

FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu", "/usr/share/fonts/TTF")
CJK_FILES = ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc")


@dataclass(frozen=True, slots=True)
class Fonts:
    regular: str
    bold: str
    cjk: str
    covered: frozenset[int]  # code points the regular font has
    note: str
    covered_chars: frozenset[str] = frozenset()
    cjk_covered: frozenset[int] = frozenset()  # code points the CJK font has (empty: the CID fallback, assume CJK)


_fonts: Fonts | None = None


def fonts() -> Fonts:
    """Register the fonts once per process and say which ones were found."""
    global _fonts
    if _fonts is None:
        _fonts = _register()
    return _fonts


def _register() -> Fonts:
    regular = bold = "Helvetica-Bold"
    regular, covered, note = "Helvetica", frozenset(range(32, 256)), ""
    for folder in FONT_DIRS:
        path, bold_path = os.path.join(folder, "DejaVuSans.ttf"), os.path.join(folder, "DejaVuSans-Bold.ttf")
        if os.path.exists(path):
            face = TTFont("VTSans", path)
            pdfmetrics.registerFont(face)
            pdfmetrics.registerFont(TTFont("VTSans-Bold", bold_path if os.path.exists(bold_path) else path))
            regular, bold = "VTSans", "VTSans-Bold"
            covered = frozenset(face.face.charToGlyph)
            break
    else:
        note = "DejaVu Sans not found (install fonts-dejavu-core): non-Latin text falls back to Helvetica/CID"
        log.warning(note)
    cjk, cjk_covered = "STSong-Light", frozenset[int]()
    for path in CJK_FILES:
        if os.path.exists(path):
            face = TTFont("VTCJK", path, subfontIndex=0)
            pdfmetrics.registerFont(face)
            cjk, cjk_covered = "VTCJK", frozenset(face.face.charToGlyph)
            break
    else:
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
        note += "; WenQuanYi not found (install fonts-wqy-microhei): CJK uses the non-embedded STSong-Light"
        log.warning("CJK font: using the non-embedded STSong-Light CID font; install fonts-wqy-microhei")
    pdfmetrics.registerFontFamily(regular, normal=regular, bold=bold, italic=regular, boldItalic=bold)
    chars = frozenset(chr(c) for c in covered if c < 0x110000) | {"\n"}
    return Fonts(regular, bold, cjk, covered, note.strip("; "), chars, cjk_covered)


def _printable(ch: str, f: Fonts) -> str:
    """`ch`, or "" for a control character, or `[U+XXXX]` when no font has it (no empty box)."""
    code = ord(ch)
    if ch in ("\n",):
        return ch
    if ch == "\t":
        return " "
    if code < 32 or 0x7F <= code < 0xA0 or 0xD800 <= code < 0xE000 or code in (0xFFFE, 0xFFFF):
        return ""
    if code in f.covered or (f.cjk_covered and code in f.cjk_covered):
        return ch
    if not f.cjk_covered and _is_cjk(code):
        return ch
    if 0xFE00 <= code <= 0xFE0F or code == 0x200D:  # variation selectors and joiners of emoji sequences
        return ""
    return f"[U+{code:04X}]"


def _is_cjk(code: int) -> bool:
    return 0x2E80 <= code <= 0x9FFF or 0xAC00 <= code <= 0xD7AF or 0xF900 <= code <= 0xFAFF or 0xFF00 <= code <= 0xFFEF


def printable(text: str) -> str:
    """`text` with control characters dropped and characters no font has spelled as code points."""
    f = fonts()
    if f.covered_chars.issuperset(text):
        return text
    return "".join(_printable(ch, f) for ch in text)


def markup(text: str) -> str:
    """Escape `text` for paragraph markup; set runs the main font lacks in the CJK font; newlines → <br/>."""
    f = fonts()
    if f.covered_chars.issuperset(text):  # the common case: one font has every character
        return escape(text).replace("\n", "<br/>")
    text = printable(text)
    out: list[str] = []
    run: list[str] = []
    in_cjk = False
    for ch in text:
        needs_cjk = ord(ch) > 255 and ord(ch) not in f.covered and ch != "\n"
        if needs_cjk != in_cjk:
            out.append(_flush(run, in_cjk, f.cjk))
            run, in_cjk = [], needs_cjk
        run.append(ch)
    out.append(_flush(run, in_cjk, f.cjk))
    return "".join(out)


def _flush(run: list[str], cjk: bool, font: str) -> str:
    if not run:
        return ""
    text = escape("".join(run)).replace("\n", "<br/>")
    return f'<font name="{font}">{text}</font>' if cjk else text
