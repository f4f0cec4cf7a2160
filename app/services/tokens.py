"""Personal API tokens: shown once, stored as hashes, revocable."""
from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.models import ApiToken, utcnow
from app.security import hash_token, new_token
from app.text import is_plain_text

TOKEN_PREFIX = "lk_"
MAX_NAME_LENGTH = 100


def create_token(user, name="API token", expires_at=None):
    """A new token for `user`: returns the row and the only copy of the secret."""
    if name is not None and not is_plain_text(name):
        raise InvalidInput("Token names can't contain control characters.", code="invalid_name")
    name = (name or "").strip() or "API token"
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidInput(f"Token names are at most {MAX_NAME_LENGTH} characters.", code="invalid_name")
    secret = new_token(TOKEN_PREFIX)
    token = ApiToken(user_id=user.id, name=name, token_hash=hash_token(secret), expires_at=expires_at)
    db.session.add(token)
    db.session.commit()
    return token, secret


def user_for_token(secret):
    """The active owner of a live token, or None; notes when the token was used."""
    if not is_plain_text(secret) or not secret.startswith(TOKEN_PREFIX):
        return None
    token = db.session.execute(
        db.select(ApiToken).filter_by(token_hash=hash_token(secret))).scalar_one_or_none()
    now = utcnow()
    if token is None or (token.expires_at and token.expires_at <= now) or not token.user.is_active:
        return None
    token.last_used_at = now
    db.session.commit()
    return token.user


def list_tokens(user):
    return db.session.execute(
        db.select(ApiToken).filter_by(user_id=user.id).order_by(ApiToken.created_at.desc())).scalars().all()


def revoke_token(user, token_id):
    token = db.session.execute(
        db.select(ApiToken).filter_by(id=token_id, user_id=user.id)).scalar_one_or_none()
    if token is None:
        raise NotFound("No such token.")
    db.session.delete(token)
    db.session.commit()


def revoke_secret(secret):
    db.session.execute(db.delete(ApiToken).filter_by(token_hash=hash_token(secret or "")))
    db.session.commit()
