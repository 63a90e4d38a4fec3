"""Supplier document profiles: cXML identities and SharedSecret (sealed), CSV layout, UNSPSC per supplier item."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.errors import DomainError, NotFound
from core.models import Site
from procurement import csv_export, secret_box
from procurement.cxml import Credential, CxmlParties
from procurement.models import Supplier, SupplierItem, SupplierProfile
from procurement.orders import site_settings

IDENTITY = re.compile(r"^[\w.@:+/-]{1,100}$")
DOMAIN = re.compile(r"^[A-Za-z][\w.-]{0,39}$")


@dataclass(frozen=True, slots=True)
class ProfileForm:
    """The profile as typed on the supplier page (all text: checked by `save_profile`)."""

    from_domain: str = "NetworkID"
    from_identity: str = ""
    to_domain: str = "NetworkID"
    to_identity: str = ""
    sender_domain: str = "NetworkID"
    sender_identity: str = ""
    shared_secret: str = ""  # "" keeps the stored one; clear_secret removes it
    clear_secret: bool = False
    csv_columns: str = ""
    csv_delimiter: str = ","
    csv_bom: bool = False


@dataclass(frozen=True, slots=True)
class ProfileView:
    supplier_id: int
    form: ProfileForm
    has_secret: bool


def supplier_by_code(session: Session, code: str) -> Supplier:
    supplier = session.scalar(select(Supplier).where(Supplier.code == code))
    if supplier is None:
        raise NotFound(lazy_gettext("no supplier %(code)s", code=repr(code[:40])), field="supplier_code")
    return supplier


def _row(session: Session, supplier_id: int) -> SupplierProfile | None:
    return session.get(SupplierProfile, supplier_id)


def view(session: Session, supplier_id: int) -> ProfileView:
    row = _row(session, supplier_id)
    if row is None:
        return ProfileView(supplier_id, ProfileForm(), False)
    form = ProfileForm(row.from_domain, row.from_identity, row.to_domain, row.to_identity, row.sender_domain,
                       row.sender_identity, "", False, row.csv_columns, row.csv_delimiter, row.csv_bom)  # fmt: skip
    return ProfileView(supplier_id, form, bool(row.shared_secret_enc))


def cxml_parties(session: Session, supplier_id: int, secret_key: str) -> CxmlParties:
    row = _row(session, supplier_id)
    secret = secret_box.unseal(secret_key, row.shared_secret_enc or "") if row is not None else ""
    return replace(cxml_identities(session, supplier_id), shared_secret=secret)


def cxml_identities(session: Session, supplier_id: int) -> CxmlParties:
    """The supplier's cXML parties without the SharedSecret: what a page shows as set up or not, with nothing to
    decrypt (a secret sealed under an earlier SECRET_KEY only stops the export itself)."""
    row = _row(session, supplier_id) or SupplierProfile(supplier_id=supplier_id, from_domain="", to_domain="",
                                                          sender_domain="")  # fmt: skip
    return CxmlParties(
        Credential(row.from_domain or "", row.from_identity or ""),
        Credential(row.to_domain or "", row.to_identity or ""),
        Credential(row.sender_domain or "", row.sender_identity or ""),
    )  # fmt: skip


def shared_secret(session: Session, supplier_id: int, secret_key: str) -> str:
    row = _row(session, supplier_id)
    return secret_box.unseal(secret_key, row.shared_secret_enc) if row is not None else ""


def csv_profile(session: Session, supplier_id: int) -> csv_export.CsvProfile:
    row = _row(session, supplier_id)
    if row is None:
        return csv_export.CsvProfile()
    return csv_export.profile(row.csv_columns, row.csv_delimiter, row.csv_bom)


def _checked(form: ProfileForm) -> None:
    for role in ("from", "to", "sender"):
        domain, identity = getattr(form, f"{role}_domain").strip(), getattr(form, f"{role}_identity").strip()
        if domain and not DOMAIN.match(domain):
            raise DomainError(lazy_gettext("%(role)s domain %(domain)s: letters, digits, . _ - (e.g. DUNS, NetworkID)",
                                           role=role, domain=repr(domain[:40])),
                              field=f"{role}_domain")  # fmt: skip
        if identity and not IDENTITY.match(identity):
            raise DomainError(lazy_gettext("%(role)s identity: 1-100 characters without spaces (e.g. 123456789)",
                                           role=role),
                              field=f"{role}_identity")  # fmt: skip
    if len(form.shared_secret) > 200 or "\x00" in form.shared_secret:
        raise DomainError(lazy_gettext("SharedSecret: at most 200 characters, no NUL"), field="shared_secret")
    csv_export.profile(form.csv_columns, form.csv_delimiter, form.csv_bom)  # raises naming the field


def save_profile(
    session: Session, supplier_code: str, form: ProfileForm, secret_key: str, actor: str, clock: Clock
) -> None:
    """Store the profile; the SharedSecret is sealed and never written to the audit log (only that it changed)."""
    supplier = supplier_by_code(session, supplier_code)
    _checked(form)
    row = _row(session, supplier.id)
    if row is None:
        row = SupplierProfile(supplier_id=supplier.id)
        session.add(row)
    before = {k: getattr(row, k, None) for k in ("from_identity", "to_identity", "sender_identity", "csv_columns",
                                                  "csv_delimiter", "csv_bom")}  # fmt: skip
    for name in ("from_domain", "from_identity", "to_domain", "to_identity", "sender_domain", "sender_identity",
                 "csv_columns"):  # fmt: skip
        setattr(row, name, getattr(form, name).strip())
    row.csv_delimiter, row.csv_bom, row.updated_at = form.csv_delimiter, form.csv_bom, clock.now()
    secret_change = "kept"
    if form.clear_secret:
        row.shared_secret_enc, secret_change = "", "removed"
    elif form.shared_secret:
        row.shared_secret_enc, secret_change = secret_box.seal(secret_key, form.shared_secret), "changed"
    session.flush()
    after = {k: getattr(row, k) for k in before} | {"shared_secret": secret_change}
    audit.record(session, actor, "supplier.document_profile", "supplier", supplier.code, before=before, after=after,
                 clock=clock)  # fmt: skip


def set_unspsc(session: Session, supplier_code: str, part: str, code: str, actor: str, clock: Clock) -> None:
    supplier = supplier_by_code(session, supplier_code)
    code = code.strip()
    if code and not (code.isdigit() and len(code) == 8):
        raise DomainError(lazy_gettext("UNSPSC %(code)s must be 8 digits (e.g. 46181504 for protective gloves)",
                                       code=repr(code[:20])),
                          field="unspsc")  # fmt: skip
    row = session.scalar(select(SupplierItem).where(SupplierItem.supplier_id == supplier.id,
                                                    SupplierItem.supplier_part_number == part))  # fmt: skip
    if row is None:
        raise NotFound(
            lazy_gettext(
                "supplier %(supplier_code)s has no part %(part)s", supplier_code=supplier_code, part=repr(part[:64])
            ),
            field="supplier_part_number",
        )
    before = row.unspsc
    row.unspsc = code
    audit.record(session, actor, "supplier_item.unspsc", "supplier", supplier.code, before={"unspsc": before},
                 after={"part": part, "unspsc": code}, clock=clock)  # fmt: skip


# ---- the site's document settings: buyer contact, structured ship-to address, invoice tolerances ----------

SITE_DOC_FIELDS = ("buyer_email", "buyer_phone", "street", "city", "state", "postal_code",
                   "invoice_price_tolerance_pct", "invoice_qty_tolerance_pct")  # fmt: skip
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[A-Za-z]{2,}$")
PHONE = re.compile(r"^[0-9+()./ -]{3,40}$")
LIMITS = {"street": 200, "city": 100, "state": 100, "postal_code": 20}


def save_site_documents(session: Session, site_code: str, values: dict[str, str], actor: str, clock: Clock) -> None:
    site = session.scalar(select(Site).where(Site.code == site_code))
    if site is None:
        raise NotFound(lazy_gettext("no site %(site_code)s", site_code=repr(site_code[:32])), field="site_code")
    clean = {k: (values.get(k) or "").strip() for k in SITE_DOC_FIELDS}
    if clean["buyer_email"] and not EMAIL.match(clean["buyer_email"]):
        raise DomainError(
            lazy_gettext("buyer e-mail: use an address like ann.buyer@plant.example"), field="buyer_email"
        )
    if clean["buyer_phone"] and not PHONE.match(clean["buyer_phone"]):
        raise DomainError(
            lazy_gettext("buyer phone: digits, spaces and + ( ) - . / only, 3-40 characters"), field="buyer_phone"
        )
    for name, limit in LIMITS.items():
        if len(clean[name]) > limit or "\x00" in clean[name]:
            raise DomainError(
                lazy_gettext(
                    "%(field)s: at most %(limit)s characters, no NUL", field=name.replace("_", " "), limit=limit
                ),
                field=name,
            )
    percents: dict[str, Decimal] = {}
    for name in ("invoice_price_tolerance_pct", "invoice_qty_tolerance_pct"):
        try:
            value = Decimal(clean[name] or "0")
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or not 0 <= value <= 100:
            raise DomainError(
                lazy_gettext("%(field)s: a percentage from 0 to 100 (e.g. 2)", field=name.replace("_", " ")), field=name
            )
        percents[name] = value
    row = site_settings(session, site.id)
    before = {k: getattr(row, k) for k in SITE_DOC_FIELDS}
    for name in SITE_DOC_FIELDS:
        setattr(row, name, percents.get(name, clean[name]))
    session.flush()
    audit.record(session, actor, "site.document_settings", "site", site.code, before=before,
                 after={k: getattr(row, k) for k in SITE_DOC_FIELDS}, clock=clock)  # fmt: skip
