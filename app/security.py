"""Random tokens and how they are stored: only a hash ever reaches the database; and the few secrets Locker
must read back, sealed under SECRET_KEY."""
import base64
import functools
import hashlib
import os
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def new_token(prefix=""):
    """A URL-safe token with 256 bits from `secrets`."""
    return prefix + secrets.token_urlsafe(32)


def hash_token(token):
    # Tokens carry 256 random bits, so a fast hash is enough to make a leaked table useless.
    return hashlib.sha256(token.encode()).hexdigest()


# Short secrets Locker must read back (link tokens for their owners, TOTP secrets) are sealed with AES-GCM
# under a key derived from SECRET_KEY for one purpose, so one SECRET_KEY gives unrelated keys for each.
NONCE_BYTES = 12


@functools.lru_cache(maxsize=8)
def cipher_for(secret, purpose):
    return AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret))


def current_cipher(purpose):
    secret = current_app.config["SECRET_KEY"]
    return cipher_for(secret.encode() if isinstance(secret, str) else secret, purpose)


def seal(text, purpose, bound_to):
    """`text` encrypted for `purpose`, authenticated with `bound_to` (naming the row it belongs to, so a sealed
    text copied onto another row reveals nothing there); URL-safe base64 of the nonce and the ciphertext."""
    nonce = os.urandom(NONCE_BYTES)
    return base64.urlsafe_b64encode(nonce + current_cipher(purpose).encrypt(nonce, text.encode(), bound_to)).decode()


def unseal(sealed, purpose, bound_to):
    """What seal() sealed, or None: nothing sealed, sealed under another SECRET_KEY or row, or tampered with."""
    if not sealed:
        return None
    try:
        raw = base64.urlsafe_b64decode(sealed)
        return current_cipher(purpose).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], bound_to).decode()
    except (InvalidTag, ValueError):  # ValueError: not base64, too short, not UTF-8
        return None
