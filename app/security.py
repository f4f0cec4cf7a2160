"""Random tokens and how they are stored: only a hash ever reaches the database."""
import hashlib
import secrets


def new_token(prefix=""):
    """A URL-safe token with 256 bits from `secrets`."""
    return prefix + secrets.token_urlsafe(32)


def hash_token(token):
    # Tokens carry 256 random bits, so a fast hash is enough to make a leaked table useless.
    return hashlib.sha256(token.encode()).hexdigest()
