"""A user's email address and the notices they opt into.

The address is where password-reset links and notices go; it is stored lower-case and
unique (the unique index, not a prior look, decides between two people claiming one).
"""
import re

from sqlalchemy.exc import IntegrityError

from app.errors import Conflict, InvalidInput
from app.extensions import db
from app.models import User
from app.services import audit
from app.text import CONTROL_CHARACTERS, is_plain_text

MAX_EMAIL_LENGTH = 254
# A simple check, not RFC 5322: one @, something before it, a dotted domain after it, no spaces or
# control characters. What really proves an address is mail arriving there. Written with explicit
# ranges only (no \s, whose meaning differs), so that JSON Schema reads it as Python does and the API's
# document states this very rule.
NOT_IN_EMAIL = CONTROL_CHARACTERS + r" @\u00a0\u2000-\u200b\u2028\u2029\u3000\ufeff"
EMAIL_PATTERN = re.compile(f"^[^{NOT_IN_EMAIL}]+@[^{NOT_IN_EMAIL}.]+(\\.[^{NOT_IN_EMAIL}.]+)+$")


def clean_email(value):
    """The stored form of an address (lower-case, stripped), None for an empty one; InvalidInput otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    text = value.strip().lower() if isinstance(value, str) else ""
    if not is_plain_text(text) or len(text) > MAX_EMAIL_LENGTH or not EMAIL_PATTERN.fullmatch(text):
        raise InvalidInput("That is not an email address (like ann@example.org).", code="invalid_email")
    return text


def set_email(user, email):
    """Set (or with None/"" clear) the user's address; Conflict when another account has it."""
    email = clean_email(email)
    if email == user.email:
        return user
    try:
        # The UPDATE itself meets the unique index, so it raises here (on either database).
        db.session.execute(db.update(User).where(User.id == user.id).values(email=email))
        audit.record("email_changed", owner_id=user.id, actor=user, detail="removed" if email is None else "set")
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise Conflict("Another account already uses that email address.", code="email_taken") from None
    db.session.refresh(user)
    return user


def set_notices(user, downloads, deliveries):
    """Which notices the user gets by email: a link of theirs was downloaded, files arrived through a request."""
    db.session.execute(db.update(User).where(User.id == user.id).values(
        notify_downloads=bool(downloads), notify_deliveries=bool(deliveries)))
    db.session.commit()
    db.session.refresh(user)
    return user


def find_by_email(email):
    try:
        email = clean_email(email)
    except InvalidInput:
        return None
    if email is None:
        return None
    return db.session.execute(db.select(User).filter_by(email=email)).scalar_one_or_none()
