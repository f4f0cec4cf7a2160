"""What share links and upload requests have in common: their settings' rules, their password, their token.

Both kinds of public link are rows with a public_id, the hash of their token,
an optional expiry and an optional password hash; this module checks the
settings an owner gives and finds the row a token or id names.

A link's token is looked up by its hash alone. So that the owner can copy the
link again, the token is also kept encrypted (AES-GCM) under a key derived
from SECRET_KEY, which the database never holds: a leaked database yields no
working link, and after SECRET_KEY changes old links still work but can no
longer be shown.
"""
import re
import uuid
from datetime import datetime, timedelta, timezone

from werkzeug.security import check_password_hash, generate_password_hash

from app.errors import InvalidInput, NotFound
from app.extensions import db
from app.models import utcnow
from app.security import hash_token, new_token, seal, unseal
from app.services.common import is_public_id
from app.text import is_encodable, is_plain_text

MAX_PASSWORD_LENGTH = 200
DURATION_PATTERN = re.compile(r"^(\d{1,6})([mhdw])$")
DURATION_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
# The furthest a link may be set to expire (100 years): far enough for any real date, near enough that
# no date arithmetic overflows. For longer, a link can have no time limit at all.
MAX_EXPIRY_DAYS = 36525
MAX_EXPIRY = timedelta(days=MAX_EXPIRY_DAYS)
TOO_LATE = f"A link expires at most {MAX_EXPIRY_DAYS:,} days (100 years) from now; leave it empty for no limit."
# Real time zones are from UTC-12:00 to UTC+14:00; allow 14 hours either way.
MAX_UTC_OFFSET = timedelta(hours=14)
# Names this key's purpose, so the same SECRET_KEY gives unrelated keys for anything else.
TOKEN_KEY_INFO = b"locker: link tokens kept for their owner"
# What an update leaves as it is (None means "none": no expiry, no password, no limit).
UNCHANGED = object()


class ExpiryInPast(InvalidInput):
    """An expiry at or before now: a form shows it in its own words."""

    def __init__(self):
        super().__init__("expires_at is in the past.", code="invalid_expiry")


def parse_expiry(expires_at=None, expires_in=None, now=None):
    """A naive-UTC expiry from an ISO date-time (any real zone; no zone means UTC) or a duration like '7d'.

    Both are bounded by MAX_EXPIRY_DAYS, so no date arithmetic on what a user sent can overflow.
    """
    now = now or utcnow()
    latest = now + MAX_EXPIRY
    if expires_at not in (None, "") and expires_in not in (None, ""):
        raise InvalidInput("Give expires_at or expires_in, not both.", code="invalid_expiry")
    if expires_in not in (None, ""):
        match = DURATION_PATTERN.match(expires_in) if isinstance(expires_in, str) else None
        if not match or int(match.group(1)) == 0:
            raise InvalidInput("expires_in is a number and a unit: 30m, 12h, 7d or 2w.", code="invalid_expiry")
        # The pattern caps the number at 6 digits, so this timedelta always fits; the sum is checked below.
        duration = timedelta(**{DURATION_UNITS[match.group(2)]: int(match.group(1))})
        if duration > MAX_EXPIRY:
            raise InvalidInput(TOO_LATE, code="invalid_expiry")
        return now + duration
    if expires_at in (None, ""):
        return None
    try:
        moment = datetime.fromisoformat(expires_at) if isinstance(expires_at, str) else expires_at
    except ValueError:
        moment = None
    if not isinstance(moment, datetime):
        raise InvalidInput("expires_at is a date and time such as 2026-12-31T18:00:00Z.", code="invalid_expiry")
    offset = moment.utcoffset()
    if offset is not None:
        if abs(offset) > MAX_UTC_OFFSET:
            raise InvalidInput("expires_at's time zone is at most 14 hours from UTC.", code="invalid_expiry")
        try:
            moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:
            # Only a moment within 14 hours of year 1 or of the end of year 9999 lands outside datetime's range.
            raise (ExpiryInPast() if moment.year == 1 else InvalidInput(TOO_LATE, code="invalid_expiry")) from None
    if moment <= now:
        raise ExpiryInPast()
    if moment > latest:
        raise InvalidInput(TOO_LATE, code="invalid_expiry")
    return moment


def clean_text(value, field, max_length, multiline=False):
    """Plain text of at most max_length characters, stripped; None when empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    checked = value.replace("\r", " ").replace("\n", " ").replace("\t", " ") if multiline and isinstance(value, str) \
        else value
    if not isinstance(value, str) or len(value) > max_length or not is_plain_text(checked):
        lines = "; line breaks are fine" if multiline else ", without control characters"
        raise InvalidInput(f"A {field} is plain text of at most {max_length} characters{lines}.",
                           code=f"invalid_{field}")
    return value.strip()


def clean_limit(value, field, largest, unit):
    """A whole number from 1 to `largest`, or None for no limit."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= largest:
        raise InvalidInput(f"{field} is a whole number of {unit} from 1 to {largest:,} (or empty for no limit).",
                           code=f"invalid_{field}")
    return value


def password_hash(password):
    """The hash to keep for a link's password, or None for a link without one."""
    if password is None:
        return None
    if not is_encodable(password) or not 1 <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"A link password is 1 to {MAX_PASSWORD_LENGTH} characters.", code="invalid_password")
    return generate_password_hash(password)


def password_matches(link, password):
    return link.password_hash is not None and is_encodable(password) and check_password_hash(link.password_hash,
                                                                                              password)


def by_token(model, token, message):
    """The link of this kind a public URL's token names, or NotFound(message)."""
    if not is_plain_text(token):
        raise NotFound(message)
    link = db.session.execute(db.select(model).filter_by(token_hash=hash_token(token))).scalar_one_or_none()
    if link is None:
        raise NotFound(message)
    return link


def owned(model, user, public_id, message):
    """One of the user's links of this kind, or NotFound(message)."""
    if not is_public_id(public_id):
        raise NotFound(message)
    link = db.session.execute(db.select(model).filter_by(public_id=public_id, owner_id=user.id)).scalar_one_or_none()
    if link is None:
        raise NotFound(message)
    return link


def new(model, user, **columns):
    """A new link of this kind (added to the session) and its token, stored only hashed and encrypted."""
    token = new_token()
    link = model(public_id=uuid.uuid4().hex, owner_id=user.id, token_hash=hash_token(token), **columns)
    link.token_encrypted = encrypt_token(link, token)
    db.session.add(link)
    db.session.flush()
    return link, token


def bound_to(link):
    return f"{link.__tablename__}:{link.public_id}".encode()


def encrypt_token(link, token):
    return seal(token, TOKEN_KEY_INFO, bound_to(link))


def recover_token(link):
    """The link's token, or None when it can't be shown again: made before tokens were kept, or under
    another SECRET_KEY (or tampered with)."""
    token = unseal(link.token_encrypted, TOKEN_KEY_INFO, bound_to(link))
    return token if token is not None and hash_token(token) == link.token_hash else None


def expiry_and_password_changes(link, expires_at=UNCHANGED, expires_in=UNCHANGED, password=UNCHANGED):
    """(columns to set, what changed in words) for an owner's new expiry and password, checked by the rules a new
    link's are. Giving either expires_at or expires_in replaces the expiry (both None: no time limit);
    password None removes it."""
    values, changed = {}, []
    if expires_at is not UNCHANGED or expires_in is not UNCHANGED:
        expiry = parse_expiry(None if expires_at is UNCHANGED else expires_at,
                              None if expires_in is UNCHANGED else expires_in)
        note_change(link, values, changed, "expires_at", expiry, "expiry")
    if password is not UNCHANGED:
        if password is not None:
            values["password_hash"] = password_hash(password)
            changed.append("new password")
        elif link.password_hash is not None:
            values["password_hash"] = None
            changed.append("password removed")
    return values, changed


def note_change(link, values, changed, column, value, words):
    if value != getattr(link, column):
        values[column] = value
        changed.append(words)


def update_if_live(link, values, *conditions):
    """Set `values` in one conditional UPDATE, only while the link is neither revoked nor expired (nor fails
    `conditions`), so a change racing a revocation or the last download cannot bring a link back."""
    model = type(link)
    now = utcnow()
    return bool(db.session.execute(
        db.update(model).where(model.id == link.id, model.revoked_at.is_(None),
                               db.or_(model.expires_at.is_(None), model.expires_at > now), *conditions)
        .values(**values)).rowcount)


def revoke(link):
    """Turn a link off at once, in the caller's transaction; True only for the call that did, however many race."""
    model = type(link)
    return bool(db.session.execute(db.update(model).where(model.id == link.id, model.revoked_at.is_(None))
                                   .values(revoked_at=utcnow())).rowcount)
