"""Pages for supplier document profiles (cXML identities, SharedSecret, CSV layout, UNSPSC per part) and a
site's document settings (buyer contact, structured ship-to address, invoice tolerances)."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext
from sqlalchemy import select

from core import access
from core.errors import NotFound
from core.models import Site
from procurement.models import SupplierItem
from procurement.orders import site_settings
from procurement.supplier_inbound.buyer_views import BUYERS, READERS, _actor, _db, _services, bp
from procurement.supplier_profiles import (
    SITE_DOC_FIELDS,
    ProfileForm,
    save_profile,
    save_site_documents,
    set_unspsc,
    supplier_by_code,
    view,
)


@bp.get("/suppliers/<code>/documents")
@access.roles(*READERS)
def supplier_documents(code: str) -> str:
    session = _db()
    supplier = supplier_by_code(session, code)
    parts = session.scalars(select(SupplierItem).where(SupplierItem.supplier_id == supplier.id)
                            .order_by(SupplierItem.supplier_part_number)).all()  # fmt: skip
    return render_template("procurement/supplier_documents.html", supplier=supplier, profile=view(session, supplier.id),
                           parts=parts)  # fmt: skip


@bp.post("/suppliers/<code>/documents")
@access.roles(*BUYERS)
def supplier_documents_save(code: str) -> Response:
    f = request.form
    form = ProfileForm(
        f.get("from_domain", ""), f.get("from_identity", ""), f.get("to_domain", ""), f.get("to_identity", ""),
        f.get("sender_domain", ""), f.get("sender_identity", ""), f.get("shared_secret", ""),
        f.get("clear_secret") == "yes", f.get("csv_columns", ""), f.get("csv_delimiter", ",") or ",",
        f.get("csv_bom") == "yes",
    )  # fmt: skip
    save_profile(_db(), code, form, _services().settings.secret_key, _actor(), _services().clock)
    _db().commit()
    flash(gettext("document profile of %(code)s saved", code=code), "ok")
    return redirect(url_for("procurement_supplier.supplier_documents", code=code))  # type: ignore[return-value]


@bp.post("/suppliers/<code>/unspsc")
@access.roles(*BUYERS)
def supplier_unspsc(code: str) -> Response:
    set_unspsc(_db(), code, request.form.get("part", ""), request.form.get("unspsc", ""), _actor(), _services().clock)
    _db().commit()
    flash(gettext("UNSPSC of %(part)s saved", part=request.form.get("part", "")), "ok")
    return redirect(url_for("procurement_supplier.supplier_documents", code=code))  # type: ignore[return-value]


def _site(code: str) -> Any:
    site = _db().scalar(select(Site).where(Site.code == code))
    if site is None:
        raise NotFound(lazy_gettext("no site %(code)s", code=repr(code[:32])), field="site_code")
    return site


@bp.get("/sites/<site_code>/documents")
@access.roles(*READERS)
def site_documents(site_code: str) -> str:
    site = _site(site_code)
    row = site_settings(_db(), site.id)
    return render_template("procurement/site_documents.html", site=site,
                           values={k: getattr(row, k) for k in SITE_DOC_FIELDS})  # fmt: skip


@bp.post("/sites/<site_code>/documents")
@access.roles(*BUYERS)
def site_documents_save(site_code: str) -> Response:
    save_site_documents(_db(), site_code, {k: request.form.get(k, "") for k in SITE_DOC_FIELDS}, _actor(),
                        _services().clock)  # fmt: skip
    _db().commit()
    flash(gettext("document settings of %(site_code)s saved", site_code=site_code), "ok")
    return redirect(url_for("procurement_supplier.site_documents", site_code=site_code))  # type: ignore[return-value]
