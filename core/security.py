"""Password and token hashing with the standard library (scrypt), constant-time comparison."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_SCRYPT_N = 2**14
_SCRYPT_R = 8
_SCRYPT_P = 1


def hash_secret(secret: str) -> str:
    """Hash a password or PIN with a random salt; the result names its parameters."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    salt_text, digest_text = base64.b64encode(salt).decode(), base64.b64encode(digest).decode()
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${salt_text}${digest_text}"


def verify_secret(secret: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    digest = hashlib.scrypt(secret.encode(), salt=base64.b64decode(salt_b64), n=int(n), r=int(r), p=int(p), dklen=32)
    return hmac.compare_digest(digest, base64.b64decode(digest_b64))


def new_token() -> str:
    """A bearer token for a device or gateway: prefix for recognisability, 32 random bytes."""
    return "vt_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Tokens are long and random, so one SHA-256 is enough and lets us look them up by hash."""
    return hashlib.sha256(token.encode()).hexdigest()
