"""PO PDF with reportlab: parties, ship-to, Code128 PO number, lines with the header on every page, totals.

Every text field is escaped before it reaches reportlab's paragraph markup, and characters the main
Unicode font lacks (Chinese, say) are set in a CJK font, so `<b>Acme & Sons</b>`, Greek, Cyrillic and Chinese
print literally. Fonts: DejaVu Sans (fonts-dejavu-core) and WenQuanYi Micro Hei (fonts-wqy-microhei), both
embedded (subset) in the PDF. Without them the fallback is Helvetica and reportlab's CID font STSong-Light,
which is NOT embedded (a reader without Adobe's Asian font pack shows boxes): a warning is logged at the first
render and `fonts().note` says what to install. Control characters (NUL …) are dropped, and a character no
font has (a rare emoji, say) is printed as its code point, `[U+1FAE0]`, never as an empty box.

Every word is in the supplier's language (procurement.document_language), dates, numbers and money too; the
translations use only characters DejaVu Sans covers (tests/procurement/test_pdf_language.py checks).

The PDF's CreationDate is the moment its content was fixed (approval, else the last edit): real, and the same
bytes for the same order, so a resend reuses the stored document. A draft carries a "DRAFT – NOT AN ORDER"
watermark on every page.
"""

from __future__ import annotations

import io
import time
from datetime import datetime
from typing import Any

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.lib.utils import TimeStamp
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from procurement.document_language import Words, words_for
from procurement.documents import LineRow, PoContext, actor_name
from procurement.pdf_fonts import fonts, markup, printable

__all__ = ["approval_statement", "barcode_for", "fonts", "markup", "printable", "render"]


def _styles() -> dict[str, ParagraphStyle]:
    f = fonts()
    base = ParagraphStyle("base", fontName=f.regular, fontSize=8.5, leading=10.5)
    return {
        "base": base,
        "small": ParagraphStyle("small", parent=base, fontSize=7.5, leading=9),
        "bold": ParagraphStyle("bold", parent=base, fontName=f.bold),
        "head": ParagraphStyle("head", parent=base, fontName=f.bold, textColor=colors.white),
        "right": ParagraphStyle("right", parent=base, alignment=2),
    }


class _NumberedCanvas(Canvas):
    """Holds every page until the end so each can say 'Page x of y'; dated `created` (CreationDate/ModDate)."""

    created: datetime | None = None
    words: Words = Words()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []
        if self.created is not None:
            self._doc._timeStamp = _stamp(self.created)

    def showPage(self) -> None:
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self.setFont(fonts().regular, 8)
            page = self.words.gettext("Page %(number)s of %(total)s", number=number, total=total)
            self.drawRightString(A4[0] - 15 * mm, 10 * mm, page)
            super().showPage()
        super().save()


def _stamp(moment: datetime) -> TimeStamp:
    """reportlab's document time stamp set to `moment` (UTC): invariant mode is kept for everything else."""
    stamp = TimeStamp(1)
    stamp.t = moment.timestamp()
    stamp.lt = time.gmtime(stamp.t)
    stamp.YMDhms = tuple(stamp.lt)[:6]
    return stamp


TOP_MARGIN, BOTTOM_MARGIN = 42 * mm, 18 * mm
FRAME_HEIGHT = A4[1] - TOP_MARGIN - BOTTOM_MARGIN - 12  # the frame's own padding is 6 pt top and bottom
CELL_LEADING, CELL_PAD_V, CELL_PAD_H, SAFETY = 8 * 1.2, 3, 6, 4


def columns(words: Words) -> list[str]:
    """The lines table's header row."""
    return [
        words.gettext("Line"), words.gettext("SKU"), words.gettext("Supplier part"), words.gettext("Description"),
        words.gettext("Qty"), words.gettext("Unit"), words.gettext("Unit price"), words.gettext("Extended"),
    ]  # fmt: skip


WIDTHS = (10 * mm, 24 * mm, 26 * mm, 58 * mm, 13 * mm, 12 * mm, 18 * mm, 19 * mm)


def render(ctx: PoContext) -> bytes:
    """The PDF bytes of one PO (deterministic for the same context: reportlab's invariant mode)."""
    buffer = io.BytesIO()
    words = words_for(ctx.language)
    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=TOP_MARGIN, bottomMargin=BOTTOM_MARGIN,
        title=words.gettext("Purchase order %(number)s", number=ctx.po_number), author=ctx.buyer.name, invariant=1,
    )  # fmt: skip
    styles = _styles()
    parties = _parties(ctx, styles, words)
    first_space = FRAME_HEIGHT - parties.wrap(A4[0] - 30 * mm, FRAME_HEIGHT)[1] - 5 * mm
    story: list[Any] = [parties, Spacer(1, 5 * mm), *_line_tables(ctx, styles, first_space, words)]
    story += [Spacer(1, 4 * mm), _totals(ctx, words), Spacer(1, 5 * mm)]
    terms, notes = markup(words.gettext("Terms:")), markup(words.gettext("Notes:"))
    story.append(Paragraph(f"<b>{terms}</b> {markup(ctx.terms)}", styles["base"]))
    if ctx.notes:
        story.append(Paragraph(f"<b>{notes}</b> {markup(ctx.notes)}", styles["base"]))
    story.append(Spacer(1, 3 * mm))
    story.append(Paragraph(markup(approval_statement(ctx, words)), styles["bold"]))

    def on_page(canvas: Canvas, _doc: Any) -> None:
        _page_header(canvas, ctx, styles, words)
        if not ctx.is_order:
            _watermark(canvas, words)

    dated = {"created": ctx.document_date or ctx.order_date, "words": words}
    canvas_class = type("_DatedCanvas", (_NumberedCanvas,), dated)
    doc.build(story, onFirstPage=on_page, onLaterPages=on_page, canvasmaker=canvas_class)
    return buffer.getvalue()


def _watermark(canvas: Canvas, words: Words) -> None:
    canvas.saveState()
    canvas.setFont(fonts().bold, 40)
    canvas.setFillColor(colors.Color(0.85, 0.2, 0.2, alpha=0.18))
    canvas.translate(A4[0] / 2, A4[1] / 2)
    canvas.rotate(45)
    canvas.drawCentredString(0, 0, words.gettext("DRAFT – NOT AN ORDER"))
    canvas.restoreState()


def approval_statement(ctx: PoContext, words: Words | None = None) -> str:
    words = words or Words()
    if ctx.approved_by and ctx.approved_at:
        who = actor_name(ctx.approved_by, words.gettext)
        return words.gettext("Approved by %(who)s on %(when)s", who=who, when=words.moment(ctx.approved_at))
    return words.gettext("Not approved: this document is a draft and is not an order")


def _page_header(canvas: Canvas, ctx: PoContext, styles: dict[str, ParagraphStyle], words: Words) -> None:
    f = fonts()
    width, height = A4
    canvas.saveState()
    canvas.setFont(f.bold, 15)
    canvas.drawString(15 * mm, height - 16 * mm, words.gettext("PURCHASE ORDER"))
    canvas.setFont(f.bold, 11)
    canvas.drawString(15 * mm, height - 23 * mm, ctx.po_number)
    canvas.setFont(f.regular, 8.5)
    dates = words.gettext("Order date %(day)s", day=words.day(ctx.order_date))
    dates += "   " + words.gettext("Currency %(currency)s", currency=ctx.currency)
    if ctx.requested_delivery_date:
        dates += "   " + words.gettext("Requested delivery %(day)s", day=words.day(ctx.requested_delivery_date))
    canvas.drawString(15 * mm, height - 28 * mm, dates)
    contact = " · ".join(x for x in (ctx.buyer.name, ctx.buyer.email, ctx.buyer.phone) if x)
    label = markup(words.gettext("Buyer contact:"))
    buyer = Paragraph(f"{label} {markup(contact)}", styles["small"])
    buyer.wrapOn(canvas, 110 * mm, 10 * mm)
    buyer.drawOn(canvas, 15 * mm, height - 34 * mm)
    barcode = barcode_for(ctx.po_number)
    left = width - 15 * mm - barcode.width
    barcode.drawOn(canvas, left, height - 25 * mm)
    canvas.setFont(f.regular, 9)  # the human-readable text, well clear of the bars' quiet zone below them
    canvas.drawCentredString(left + barcode.width / 2, height - 29.5 * mm, ctx.po_number)
    canvas.setStrokeColor(colors.grey)
    canvas.line(15 * mm, height - 38 * mm, width - 15 * mm, height - 38 * mm)
    canvas.restoreState()


def barcode_for(po_number: str) -> Code128:
    """The Code128 symbol of a PO number, as drawn in every page header (its text is drawn apart, below).

    0.38 mm modules are 2.2 pixels at 150 dpi, enough for a scanner (zbarimg) to read a printed-and-scanned page.
    """
    return Code128(po_number, barHeight=10 * mm, barWidth=0.38 * mm, humanReadable=False, quiet=True)


def _party(title: str, party: Any, styles: dict[str, ParagraphStyle]) -> list[Any]:
    body = "<br/>".join(markup(x) for x in (party.name, *party.lines, party.email) if x)
    return [Paragraph(f"<b>{markup(title)}</b>", styles["base"]), Paragraph(body, styles["base"])]


def _parties(ctx: PoContext, styles: dict[str, ParagraphStyle], words: Words) -> Table:
    cols = [_party(words.gettext("Buyer"), ctx.buyer, styles), _party(words.gettext("Supplier"), ctx.supplier, styles),
            _party(words.gettext("Ship to"), ctx.ship_to, styles)]  # fmt: skip
    table = Table([[c[0] for c in cols], [c[1] for c in cols]], colWidths=[60 * mm] * 3)
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOX", (0, 1), (-1, 1), 0.3, colors.grey)]))
    return table


def _line_tables(ctx: PoContext, styles: dict[str, ParagraphStyle], first_space: float, words: Words) -> list[Table]:
    """The lines as one table per page, each with the header row.

    Rows are measured once and packed page by page, so a long PO costs time in proportion to its lines
    (one big table is re-measured at every page split). Should a page still overflow, the table splits
    there and repeats its header, so the header is on every page either way.
    """
    small = styles["small"]
    rows = [
        [str(r.line_number), _cell(r.sku, WIDTHS[1], small), _cell(r.supplier_part_number, WIDTHS[2], small),
         _cell(_described(r, words), WIDTHS[3], small), str(r.quantity), r.unit, words.number(r.unit_price),
         words.number(r.extended)]
        for r in ctx.lines
    ]  # fmt: skip
    header_height = CELL_LEADING + 2 * CELL_PAD_V
    tables: list[Table] = []
    chunk: list[list[Any]] = []
    used, space = header_height, first_space - SAFETY
    for cells in rows:
        height = _row_height(cells)
        if chunk and used + height > space:
            tables.append(_lines_table(chunk, words))
            chunk, used, space = [], header_height, FRAME_HEIGHT - SAFETY
        chunk.append(cells)
        used += height
    tables.append(_lines_table(chunk, words))
    return tables


def _described(r: LineRow, words: Words) -> str:
    """The description, with the line's own requested date where it differs from the order's."""
    if r.requested_date is None:
        return r.description
    return r.description + "\n" + words.gettext("Deliver by %(day)s", day=words.day(r.requested_date))


def _row_height(cells: list[Any]) -> float:
    tallest = CELL_LEADING
    for cell, width in zip(cells, WIDTHS, strict=True):
        if isinstance(cell, Paragraph):
            tallest = max(tallest, cell.wrap(width - 2 * CELL_PAD_H, FRAME_HEIGHT)[1])
    return tallest + 2 * CELL_PAD_V


def _lines_table(rows: list[list[Any]], words: Words) -> Table:
    f = fonts()
    table = Table([columns(words), *rows], colWidths=WIDTHS, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, 0), f.bold, 8),
                ("FONT", (0, 1), (-1, -1), f.regular, 8),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#2b4a6f")),
                ("TEXTCOLOR", (0, 0), (-1, 0), colors.white),
                ("ALIGN", (4, 0), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
            ]
        )
    )
    return table


class _CellParagraph(Paragraph):
    """A table-cell paragraph that breaks its lines once per width (tables wrap each cell several times)."""

    _wrapped_width: float | None = None
    _wrapped_size: tuple[float, float] = (0.0, 0.0)

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        if self._wrapped_width != availWidth:
            self._wrapped_size = super().wrap(availWidth, availHeight)
            self._wrapped_width = availWidth
        return self._wrapped_size


def _cell(text: str, width: float, style: ParagraphStyle) -> Any:
    """Plain text when one font has every character and it fits on one line (fast); else a wrapping paragraph.

    A plain table cell is drawn as-is (never parsed as markup), so it needs no escaping.
    """
    f = fonts()
    fits = pdfmetrics.stringWidth(text, f.regular, 8) <= width - 6
    if fits and "\n" not in text and f.covered_chars.issuperset(text):
        return text
    return _CellParagraph(markup(text), style)


def _totals(ctx: PoContext, words: Words) -> Table:
    f = fonts()
    rate = words.number(ctx.tax_rate * 100).rstrip("0").rstrip(".,")
    data = [
        [words.gettext("Subtotal"), words.money(ctx.subtotal, ctx.currency)],
        [words.gettext("Tax (%(rate)s %%)", rate=rate), words.money(ctx.tax, ctx.currency)],
        [words.gettext("Total"), words.money(ctx.total, ctx.currency)],
    ]
    table = Table(data, colWidths=(35 * mm, 40 * mm), hAlign="RIGHT")
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), f.regular, 9),
                ("FONT", (0, 2), (-1, 2), f.bold, 10),
                ("ALIGN", (1, 0), (1, -1), "RIGHT"),
                ("LINEABOVE", (0, 2), (-1, 2), 0.5, colors.black),
            ]
        )
    )
    return table
