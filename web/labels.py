"""Printable QR labels (PDF, reportlab): one label per page for assets (one or many) and purchase orders.

A label is 100 × 62 mm, the size of common continuous-roll label printers (also fine on A4 from a browser's
print dialog): the code (asset tag, PO number) in large bold type across the top, the QR code on the left, the
name on the right. The QR code holds the link to the record on this server (tracking/scan_views.py and
procurement/receiving_views.py say which paths), so a phone's own camera app opens it; our scan buttons take that
link or the bare code. The labels live here, in the composition root, because both domains print the same kind
and neither may import the other.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for
from flask_babel import gettext
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph

from core import access
from core.errors import DomainError
from core.roles import Role
from core.validation import Int, one
from procurement.documents import build_context
from procurement.pdf_fonts import fonts, markup, printable
from tracking import services as tracking_services

bp = Blueprint("labels", __name__, url_prefix="/labels")
PAGE = (100 * mm, 62 * mm)
MARGIN = 4 * mm
QR_SIZE = 44 * mm
MAX_LABELS = 200


@dataclass(frozen=True, slots=True)
class Label:
    code: str  # the asset tag or PO number, printed large
    name: str  # the asset's name, the PO's supplier
    detail: str  # a second line: the asset's type, the PO's ship-to site
    link: str  # what the QR code holds


def _fit(text: str, font: str, width: float, largest: float, smallest: float) -> float:
    size = largest
    while size > smallest and stringWidth(text, font, size) > width:
        size -= 1
    return size


def _draw(canvas: Canvas, label: Label) -> None:
    width, height = PAGE
    f = fonts()
    code = printable(label.code)
    size = _fit(code, f.bold, width - 2 * MARGIN, 28, 9)
    canvas.setFont(f.bold, size)
    canvas.drawString(MARGIN, height - MARGIN - size * 0.8, code)
    qr = QrCodeWidget(label.link, barLevel="M", barBorder=2)
    x0, y0, x1, y1 = qr.getBounds()
    drawing = Drawing(QR_SIZE, QR_SIZE, transform=[QR_SIZE / (x1 - x0), 0, 0, QR_SIZE / (y1 - y0), 0, 0])
    drawing.add(qr)
    renderPDF.draw(drawing, canvas, MARGIN - 2 * mm, MARGIN - 2 * mm)
    text_x = MARGIN + QR_SIZE
    text_w = width - text_x - MARGIN
    top = height - MARGIN - 30
    name = Paragraph(markup(label.name), ParagraphStyle("name", fontName=f.bold, fontSize=14, leading=17))
    _w, name_h = name.wrap(text_w, top - MARGIN)
    name.drawOn(canvas, text_x, top - name_h)
    if label.detail:
        detail = Paragraph(markup(label.detail), ParagraphStyle("detail", fontName=f.regular, fontSize=10, leading=12))
        _w, detail_h = detail.wrap(text_w, max(12.0, top - name_h - MARGIN))
        detail.drawOn(canvas, text_x, max(MARGIN, top - name_h - 4 - detail_h))


def render(labels: list[Label]) -> bytes:
    """A PDF with one label per page, in the order given."""
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=PAGE, invariant=True)
    canvas.setTitle(", ".join(label.code for label in labels[:5]) + (" …" if len(labels) > 5 else ""))
    canvas.setCreator("vendtrack")
    for label in labels:
        _draw(canvas, label)
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def _pdf(content: bytes, name: str) -> Response:
    name = re.sub(r"[^A-Za-z0-9._-]", "_", name)
    return Response(content, mimetype="application/pdf", headers={"Content-Disposition": f'inline; filename="{name}"'})


def _db() -> Any:
    return current_app.extensions["vendtrack_db"]()


@bp.get("/assets.pdf")
@access.roles(Role.STAFF, Role.ADMIN)
def asset_labels() -> Response:
    """Labels of the assets named by `asset` (repeat it for several: `?asset=3&asset=7`)."""
    raw = request.args.getlist("asset")
    if not raw:
        raise DomainError(gettext("name at least one asset: ?asset=<id>"), field="asset", status=422)
    if len(raw) > MAX_LABELS:
        raise DomainError(
            gettext(
                "%(raw)s labels asked for; print at most %(max_labels)s at once", raw=len(raw), max_labels=MAX_LABELS
            ),
            field="asset",
            status=422,
        )
    ids: list[int] = [one(Int(minimum=1, maximum=2**31 - 1, required=True), "asset", value) for value in raw]
    labels = []
    for asset_id in dict.fromkeys(ids):
        item = tracking_services.get_location(_db(), asset_id)
        link = url_for("tracking_scan.asset_by_tag", asset_tag=item.asset_tag, _external=True)
        labels.append(Label(item.asset_tag, item.name, item.type_label, link))
    name = f"label-{labels[0].code}.pdf" if len(labels) == 1 else f"labels-{len(labels)}-assets.pdf"
    return _pdf(render(labels), name)


@bp.get("/po/<po_number>.pdf")
@access.roles(Role.PROCUREMENT, Role.APPROVER, Role.ADMIN)
def po_label(po_number: str) -> Response:
    ctx = build_context(_db(), po_number)
    link = url_for("procurement.po_view", po_number=ctx.po_number, _external=True)
    label = Label(ctx.po_number, ctx.supplier.name, ctx.ship_to.name, link)
    return _pdf(render([label]), f"label-{ctx.po_number}.pdf")
