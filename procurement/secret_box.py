"""Encrypting the suppliers' cXML SharedSecrets at rest.

The key is not stored anywhere: it is derived from the application's SECRET_KEY setting (VENDTRACK_SECRET_KEY,
or the instance folder's `secret_key` file) with HKDF-SHA256 and a purpose label, and used as a Fernet key
(AES-128-CBC + HMAC-SHA256). Changing SECRET_KEY therefore makes every stored SharedSecret unreadable: the
supplier page says so and asks for the secret again, it never shows or sends a garbled one.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask_babel import lazy_gettext

from core.errors import DomainError

PURPOSE = b"vendtrack procurement: supplier cXML SharedSecret v1"


def _fernet(secret_key: str) -> Fernet:
    if not secret_key:
        raise DomainError(
            lazy_gettext("the application has no SECRET_KEY: set VENDTRACK_SECRET_KEY"), field="secret_key"
        )
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(raw))


def seal(secret_key: str, plaintext: str) -> str:
    """The Fernet token of `plaintext` ("" stays "": no secret set)."""
    return _fernet(secret_key).encrypt(plaintext.encode()).decode() if plaintext else ""


def unseal(secret_key: str, token: str) -> str:
    """The plaintext of a sealed secret; a token from another SECRET_KEY is refused with the fix."""
    if not token:
        return ""
    try:
        return _fernet(secret_key).decrypt(token.encode()).decode()
    except InvalidToken:
        raise DomainError(
            lazy_gettext("the stored cXML SharedSecret cannot be decrypted (SECRET_KEY changed since it was saved): "
                         "enter the supplier's SharedSecret again"), field="shared_secret", status=409,
        ) from None  # fmt: skip
