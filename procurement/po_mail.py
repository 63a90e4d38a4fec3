"""The PO e-mail itself: headers a receiving system expects (Date, Message-ID, Reply-To the buyer), a plain and
an HTML body (multipart/alternative) with the signed acknowledgement link, and the PDF attached.

Subject and bodies are in the supplier's language (`MailParts.language`, procurement.document_language), with the
order's date, requested delivery and total formatted for it; the headers stay as RFC 5322 writes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from html import escape

from procurement.document_language import Words, words_for


@dataclass(frozen=True, slots=True)
class MailParts:
    po_number: str
    recipient: str
    supplier_name: str
    message_id: str
    content: bytes
    sent_at: datetime
    mail_from: str
    buyer_name: str = ""
    reply_to: str = ""  # the buyer's own address; replies go to a person, not the sending robot
    link: str = ""  # the signed acknowledgement link ("" when no public URL is configured)
    language: str = ""  # the supplier's ("" = English)
    currency: str = ""
    total: Decimal | None = None
    order_date: datetime | None = None
    requested_delivery: date | None = None


def build(parts: MailParts) -> EmailMessage:
    words = words_for(parts.language)
    msg = EmailMessage()
    msg["Subject"] = words.gettext("Purchase order %(number)s", number=parts.po_number)
    msg["From"] = formataddr((parts.buyer_name, parts.mail_from)) if parts.buyer_name else parts.mail_from
    msg["To"] = parts.recipient
    if parts.reply_to:
        msg["Reply-To"] = formataddr((parts.buyer_name, parts.reply_to)) if parts.buyer_name else parts.reply_to
    msg["Date"] = format_datetime(parts.sent_at)
    msg["Message-ID"] = parts.message_id
    msg.set_content(_plain(parts, words))
    msg.add_alternative(_html(parts, words), subtype="html")
    msg.add_attachment(parts.content, maintype="application", subtype="pdf", filename=f"{parts.po_number}.pdf")
    if words.code != "en":  # set last: making the message multipart moves Content-* headers into its first part
        msg["Content-Language"] = words.code
    return msg


def _facts(p: MailParts, words: Words) -> list[str]:
    """The order's date, requested delivery and total, each a sentence in the supplier's language."""
    facts = []
    if p.order_date is not None:
        facts.append(words.gettext("Order date: %(day)s", day=words.day(p.order_date)))
    if p.requested_delivery is not None:
        facts.append(words.gettext("Requested delivery: %(day)s", day=words.day(p.requested_delivery)))
    if p.total is not None and p.currency:
        facts.append(words.gettext("Order total: %(total)s", total=words.money(p.total, p.currency)))
    return facts


def _plain(p: MailParts, words: Words) -> str:
    if p.link:
        answer = words.gettext(
            "Please confirm the order, or propose changes to quantities, prices or dates, here (no account needed):"
        ) + f"\n{p.link}\n\n" + words.gettext(
            "The same page takes your shipping notice once the goods are on their way."
        ) + "\n"  # fmt: skip
    else:
        answer = words.gettext("Kindly confirm receipt and the expected delivery date by replying to this e-mail.")
        answer += "\n"
    facts = "".join(f"{line}\n" for line in _facts(p, words))
    return (
        words.gettext("Dear %(name)s,", name=p.supplier_name) + "\n\n"
        + words.gettext("please find attached our purchase order %(number)s.", number=p.po_number) + "\n\n"
        + (facts + "\n" if facts else "") + answer + "\n"
        + words.gettext("Questions: reply to this e-mail.") + "\n\n"
        + (p.buyer_name or words.gettext("Purchasing")) + "\n"
    )  # fmt: skip


def _html(p: MailParts, words: Words) -> str:
    same_page = escape(words.gettext("The same page takes your shipping notice once the goods are on their way."))
    if p.link:
        confirm = words.gettext("Confirm the order or propose changes")
        no_account = words.gettext("(no account needed).")
        answer = f'<p><a href="{escape(p.link)}">{escape(confirm)}</a> {escape(no_account)} {same_page}</p>'
    else:
        text = words.gettext("Kindly confirm receipt and the expected delivery date by replying to this e-mail.")
        answer = f"<p>{escape(text)}</p>"
    number = f"<strong>{escape(p.po_number)}</strong>"
    attached = escape(words.gettext("please find attached our purchase order %(number)s.", number="\x00"))
    dear = escape(words.gettext("Dear %(name)s,", name=p.supplier_name))
    questions = escape(words.gettext("Questions: reply to this e-mail."))
    signed = escape(p.buyer_name or words.gettext("Purchasing"))
    facts = "".join(f"<li>{escape(line)}</li>" for line in _facts(p, words))
    return (
        f'<!doctype html><html lang="{escape(words.code)}"><body><p>{dear}</p>'
        f"<p>{attached.replace(chr(0), number)}</p>" + (f"<ul>{facts}</ul>" if facts else "") + answer
        + f"<p>{questions}</p><p>{signed}</p></body></html>"
    )  # fmt: skip
