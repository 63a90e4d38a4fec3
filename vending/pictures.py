"""Item pictures: an upload is checked by its bytes (PNG, JPEG or WebP), size-limited, decoded and re-encoded.

The stored picture is never the uploaded file: Pillow decodes it (bounded pixel count) and writes a fresh WebP of at
most 512 px a side, so metadata, trailing data and polyglot tricks do not survive, and it is served as image/webp.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime

from flask_babel import lazy_gettext
from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session

from core import audit
from core.errors import DomainError, NotFound
from core.models import Item
from vending.models import ItemPicture

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a decompression bomb stops here, not in memory
SIDE = 512
STORED_TYPE = "image/webp"
MAGIC = {"PNG": (b"\x89PNG\r\n\x1a\n",), "JPEG": (b"\xff\xd8\xff",)}


@dataclass(frozen=True, slots=True)
class Picture:
    content_type: str
    data: bytes
    etag: str


def sniff(data: bytes) -> str:
    """The format named by the first bytes, or a DomainError naming what is accepted."""
    if data.startswith(MAGIC["PNG"]):
        return "PNG"
    if data.startswith(MAGIC["JPEG"]):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    raise DomainError(
        lazy_gettext("the picture must be a PNG, JPEG or WebP image (this file is not one)"), field="picture"
    )


def reencode(data: bytes) -> tuple[bytes, int, int]:
    if not data:
        raise DomainError(lazy_gettext("choose a picture file to upload"), field="picture")
    if len(data) > MAX_UPLOAD_BYTES:
        raise DomainError(
            lazy_gettext(
                "the picture is over %(max_upload_bytes)s MB: save it smaller",
                max_upload_bytes=MAX_UPLOAD_BYTES // (1024 * 1024),
            ),
            field="picture",
        )
    kind = sniff(data)
    try:
        with Image.open(io.BytesIO(data), formats=[kind]) as image:
            if image.width * image.height > MAX_PIXELS:
                raise DomainError(
                    lazy_gettext("the picture has too many pixels: use one under 40 megapixels"), field="picture"
                )
            image.load()
            image.thumbnail((SIDE, SIDE))
            picture = image.convert("RGBA" if "A" in image.getbands() or image.mode == "P" else "RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise DomainError(
            lazy_gettext(
                "the %(kind)s picture could not be read (%(error)s): export it again",
                kind=kind,
                error=type(exc).__name__,
            ),
            field="picture",
        ) from None
    out = io.BytesIO()
    picture.save(out, format="WEBP", quality=85, method=4)
    return out.getvalue(), picture.width, picture.height


def store(session: Session, item_id: int, data: bytes, actor: str, now: datetime) -> ItemPicture:
    if session.get(Item, item_id) is None:
        raise NotFound(lazy_gettext("no item with id %(item_id)s", item_id=item_id), field="item_id")
    encoded, width, height = reencode(data)
    digest = hashlib.sha256(encoded).hexdigest()
    row = session.get(ItemPicture, item_id)
    before = {"sha256": row.sha256} if row else None
    if row is None:
        row = ItemPicture(item_id=item_id)
        session.add(row)
    row.content_type, row.data, row.sha256 = STORED_TYPE, encoded, digest
    row.width, row.height, row.updated_at, row.updated_by = width, height, now, actor
    audit.record(
        session,
        actor,
        "vending.item.picture",
        "item",
        item_id,
        before=before,
        after={"sha256": digest, "width": width, "height": height},
    )
    session.flush()
    return row


def remove(session: Session, item_id: int, actor: str) -> None:
    row = session.get(ItemPicture, item_id)
    if row is None:
        raise NotFound(lazy_gettext("item %(item_id)s has no picture", item_id=item_id), field="item_id")
    audit.record(session, actor, "vending.item.picture.remove", "item", item_id, before={"sha256": row.sha256})
    session.delete(row)


def load(session: Session, item_id: int) -> Picture:
    row = session.get(ItemPicture, item_id)
    if row is None:
        raise NotFound(lazy_gettext("item %(item_id)s has no picture", item_id=item_id), field="item_id")
    return Picture(row.content_type, row.data, row.sha256[:32])


def with_pictures(session: Session, item_ids: set[int]) -> dict[int, str]:
    """item id -> etag of its picture, for the items that have one."""
    if not item_ids:
        return {}
    rows = session.execute(select(ItemPicture.item_id, ItemPicture.sha256).where(ItemPicture.item_id.in_(item_ids)))
    return {item_id: sha[:16] for item_id, sha in rows}
