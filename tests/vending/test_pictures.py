"""Item pictures: checked by content, size-limited, re-encoded to WebP, served with its type; a placeholder else."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image

from core.db import unit_of_work
from core.roles import Role
from core.users import create_user
from tests.conftest import login
from tests.vending.conftest import World, seed_world
from vending import pictures


def _image(kind: str, size: tuple[int, int] = (800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, format=kind)
    return out.getvalue()


@pytest.fixture
def admin(app: Flask, client: FlaskClient) -> tuple[FlaskClient, World, str]:
    factory = app.extensions["vendtrack"].session_factory
    world = seed_world(factory)
    with unit_of_work(factory) as s:
        create_user(s, "boss", "ssob-password", [Role.ADMIN])
        create_user(s, "nurse", "esrun-password", [Role.STAFF])
    login(client, "boss", "ssob-password")
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/vending/items").get_data(as_text=True))
    assert token
    return client, world, token.group(1)


def _upload(client: FlaskClient, item_id: int, data: bytes, token: str, name: str = "p.png") -> object:
    return client.post(
        f"/vending/items/{item_id}",
        data={"csrf_token": token, "picture": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "WEBP"])
def test_upload_is_reencoded_and_served_as_webp(admin: tuple[FlaskClient, World, str], kind: str) -> None:
    client, world, token = admin
    item = world.items["GLV-1"]
    assert "no picture" in client.get("/vending/items").get_data(as_text=True)  # the placeholder
    trailing = b"<?php system($_GET['c']); ?>"  # a polyglot tail must not survive re-encoding
    response = _upload(client, item, _image(kind) + trailing, token)
    assert response.status_code == 302  # type: ignore[attr-defined]
    served = client.get(f"/vending/items/{item}/picture")
    assert served.status_code == 200 and served.mimetype == "image/webp"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.data[:4] == b"RIFF" and served.data[8:12] == b"WEBP" and trailing not in served.data
    assert Image.open(io.BytesIO(served.data)).size == (512, 384)  # shrunk to 512 px a side
    again = client.get(f"/vending/items/{item}/picture", headers={"If-None-Match": served.headers["ETag"]})
    assert again.status_code == 304
    assert f"/vending/items/{item}/picture" in client.get("/vending/items").get_data(as_text=True)


@pytest.mark.parametrize(
    "data, says",
    [
        (b"GIF89a" + b"\x00" * 100, "must be a PNG, JPEG or WebP"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "must be a PNG, JPEG or WebP"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "could not be read"),
        (b"", "choose a picture file"),
        (b"\xff\xd8\xff" + b"\x00" * (pictures.MAX_UPLOAD_BYTES + 10), "is over 5 MB"),
    ],
)
def test_bad_uploads_are_refused_with_the_reason(admin: tuple[FlaskClient, World, str], data: bytes, says: str) -> None:
    client, world, token = admin
    response = _upload(client, world.items["DRL-8"], data, token)
    assert 400 <= response.status_code < 500, response.status_code  # type: ignore[attr-defined]
    assert says in response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert client.get(f"/vending/items/{world.items['DRL-8']}/picture").status_code == 404


def test_pixel_bomb_is_refused() -> None:
    out = io.BytesIO()
    Image.new("1", (10000, 5000)).save(out, format="PNG")  # 50 megapixels, a small file
    with pytest.raises(Exception, match="too many pixels"):
        pictures.reencode(out.getvalue())


def test_kiosk_tiles_show_the_picture_or_none(admin: tuple[FlaskClient, World, str]) -> None:
    client, world, token = admin
    _upload(client, world.items["GLV-1"], _image("PNG"), token)
    page = client.get("/kiosk/L1").get_data(as_text=True)
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page)
    assert csrf
    state = client.post(
        "/api/v1/vending/kiosk/L1/badge", json={"badge": "04A21B1C"}, headers={"X-CSRF-Token": csrf.group(1)}
    ).get_json()
    tiles = {t["sku"]: t["picture"] for t in state["items"]}
    assert tiles["DRL-8"] is None and tiles["GLV-1"].startswith(f"/kiosk/L1/pictures/{world.items['GLV-1']}?v=")
    served = client.get(tiles["GLV-1"])
    assert served.status_code == 200 and served.mimetype == "image/webp"
