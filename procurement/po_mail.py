"""The PO e-mail itself: headers a receiving system expects (Date, Message-ID, Reply-To the buyer), a plain and
an HTML body (multipart/alternative) with the signed acknowledgement link, and the PDF attached."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from html import escape


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


def build(parts: MailParts) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"Purchase order {parts.po_number}"
    msg["From"] = formataddr((parts.buyer_name, parts.mail_from)) if parts.buyer_name else parts.mail_from
    msg["To"] = parts.recipient
    if parts.reply_to:
        msg["Reply-To"] = formataddr((parts.buyer_name, parts.reply_to)) if parts.buyer_name else parts.reply_to
    msg["Date"] = format_datetime(parts.sent_at)
    msg["Message-ID"] = parts.message_id
    msg.set_content(_plain(parts))
    msg.add_alternative(_html(parts), subtype="html")
    msg.add_attachment(parts.content, maintype="application", subtype="pdf", filename=f"{parts.po_number}.pdf")
    return msg


def _plain(p: MailParts) -> str:
    answer = (
        f"Please confirm the order, or propose changes to quantities, prices or dates, here (no account needed):\n"
        f"{p.link}\n\nThe same page takes your shipping notice once the goods are on their way.\n"
        if p.link else "Kindly confirm receipt and the expected delivery date by replying to this e-mail.\n"
    )  # fmt: skip
    return (f"Dear {p.supplier_name},\n\nplease find attached our purchase order {p.po_number}.\n\n{answer}\n"
            f"Questions: reply to this e-mail.\n\n{p.buyer_name or 'Purchasing'}\n")  # fmt: skip


def _html(p: MailParts) -> str:
    name, number = escape(p.supplier_name), escape(p.po_number)
    answer = (
        f'<p><a href="{escape(p.link)}">Confirm the order or propose changes</a> (no account needed). '
        "The same page takes your shipping notice once the goods are on their way.</p>"
        if p.link else "<p>Kindly confirm receipt and the expected delivery date by replying to this e-mail.</p>"
    )  # fmt: skip
    return (f"<!doctype html><html><body><p>Dear {name},</p><p>please find attached our purchase order "
            f"<strong>{number}</strong>.</p>{answer}<p>Questions: reply to this e-mail.</p>"
            f"<p>{escape(p.buyer_name or 'Purchasing')}</p></body></html>")  # fmt: skip
