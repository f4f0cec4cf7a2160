"""Two-factor sign-in: a TOTP authenticator app, or one of ten single-use recovery codes.

The TOTP secret is kept encrypted (AES-GCM) under a key derived from
SECRET_KEY, authenticated with the user's id so a ciphertext copied to another
row is useless there. Two-factor counts as on only once a first code was
checked (users.totp_enabled_at); a secret without it is an enrolment begun.

Every check that changes something is one conditional UPDATE, so two requests
with the same code cannot both pass: the time step of the last accepted TOTP
code (users.totp_last_step) only moves forwards, and a recovery code is marked
used only if it was not already.

verify() does not count guesses: callers that take a code from a person wrap it
in the sign-in budgets (app.auth.limits.guess), as the pages and the API do.
"""
import hashlib
import secrets
import time

import pyotp
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.errors import Conflict, InvalidInput, Unauthorized
from app.extensions import db
from app.models import RecoveryCode, SiteSetting, User, utcnow
from app.security import seal, unseal
from app.services import admin, audit

ISSUER = "Locker"
RECOVERY_CODE_COUNT = 10
# Ten characters from 31 (no 0/o, 1/l/i to misread): about 50 bits each, and every guess is rate-limited.
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
RECOVERY_CODE_LENGTH = 10
# One step either side of now: a phone clock a little off, or a code typed just as it changed.
VALID_WINDOW = 1
# Names this key's purpose, so the same SECRET_KEY gives unrelated keys for anything else.
SECRET_KEY_INFO = b"locker: two-factor TOTP secrets"
REQUIRE_SETTING = "require_two_factor"
MAX_CODE_LENGTH = 64

WRONG_CODE = "That code is not right. Enter the 6-digit code your app shows now, or an unused recovery code."

def bound_to(user_id):
    return f"users:{user_id}:totp".encode()


def seal_secret(user_id, secret):
    return seal(secret, SECRET_KEY_INFO, bound_to(user_id))


def secret_of(user):
    """The user's TOTP secret, or None: none kept, or kept under another SECRET_KEY (or tampered with)."""
    return unseal(user.totp_secret_encrypted, SECRET_KEY_INFO, bound_to(user.id))


def provisioning_uri(user, secret):
    """The otpauth:// address an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def begin_enrolment(user):
    """The secret of the enrolment this user has begun, or of a new one. The same secret comes back until it is
    confirmed, so reloading the page does not void a QR code already scanned."""
    if user.two_factor_enabled:
        raise Conflict("Two-factor sign-in is already on.", code="two_factor_enabled")
    secret = secret_of(user)
    if secret is not None:
        return secret
    secret = pyotp.random_base32()
    changed = db.session.execute(
        db.update(User).where(User.id == user.id, User.totp_enabled_at.is_(None))
        .values(totp_secret_encrypted=seal_secret(user.id, secret), totp_last_step=None)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    if not changed:  # turned on meanwhile, in another tab
        raise Conflict("Two-factor sign-in is already on.", code="two_factor_enabled")
    db.session.refresh(user)
    return secret_of(user)


def clean_code(code):
    """What the person typed, without the spaces and dashes apps and printouts add; "" if it cannot be a code."""
    if not isinstance(code, str) or len(code) > MAX_CODE_LENGTH:
        return ""
    return "".join(code.split()).replace("-", "").lower()


def matching_step(secret, code, now=None):
    """The time step whose TOTP code this is (within VALID_WINDOW of now), newest first; None if none."""
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp, now = pyotp.TOTP(secret), time.time() if now is None else now
    for offset in range(VALID_WINDOW, -VALID_WINDOW - 1, -1):
        moment = now + offset * totp.interval
        if totp.verify(code, for_time=moment):
            return totp.timecode(moment)
    return None


def confirm_enrolment(user, code):
    """Turn two-factor on with a first code from the app. Returns the ten recovery codes, shown this once."""
    if user.two_factor_enabled:
        raise Conflict("Two-factor sign-in is already on.", code="two_factor_enabled")
    secret = secret_of(user)
    if secret is None:
        raise InvalidInput("Start setting up two-factor sign-in again: no set-up is under way.",
                           code="no_enrolment")
    step = matching_step(secret, clean_code(code))
    if step is None:
        raise Unauthorized("That code is not right. Enter the 6-digit code your app shows now.", code="invalid_code")
    # Only the secret this page showed, and only if nobody turned it on meanwhile.
    changed = db.session.execute(
        db.update(User).where(User.id == user.id, User.totp_enabled_at.is_(None),
                              User.totp_secret_encrypted == user.totp_secret_encrypted)
        .values(totp_enabled_at=utcnow(), totp_last_step=step)
        .execution_options(synchronize_session=False)).rowcount
    if not changed:
        db.session.rollback()
        raise Conflict("Two-factor sign-in was turned on or set up again meanwhile. Reload the page.",
                       code="two_factor_enabled")
    codes = replace_recovery_codes(user.id)
    audit.record("two_factor_on", owner_id=user.id, actor=user)
    db.session.commit()
    db.session.refresh(user)
    return codes


def recovery_hash(user_id, code):
    # Bound to the account, so one code hash says nothing about another account's codes.
    return hashlib.sha256(f"{user_id}:{clean_code(code)}".encode()).hexdigest()


def new_recovery_code():
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def replace_recovery_codes(user_id):
    """Ten new codes in place of the old ones, in the caller's transaction; returns them as shown to the user."""
    db.session.execute(db.delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    db.session.add_all(RecoveryCode(user_id=user_id, code_hash=recovery_hash(user_id, code)) for code in codes)
    return codes


def verify(user, code):
    """Whether `code` is a current TOTP code of this user's, or one of their unused recovery codes; commits.

    A TOTP code is accepted once: its time step must be later than the last one accepted.
    A recovery code is used up. False for a user without two-factor."""
    code = clean_code(code)
    if not code or not user.two_factor_enabled:
        return False
    if len(code) == 6 and code.isdigit():
        secret = secret_of(user)
        step = matching_step(secret, code) if secret else None
        if step is None:
            return False
        accepted = db.update(User).where(
            User.id == user.id, User.totp_enabled_at.is_not(None),
            db.or_(User.totp_last_step.is_(None), User.totp_last_step < step)).values(totp_last_step=step)
    else:
        accepted = db.update(RecoveryCode).where(
            RecoveryCode.user_id == user.id, RecoveryCode.code_hash == recovery_hash(user.id, code),
            RecoveryCode.used_at.is_(None)).values(used_at=utcnow())
    changed = db.session.execute(accepted.execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return changed == 1


def require_code(user, code):
    """verify(), raising Unauthorized (code invalid_code) for a wrong code: what the guess budgets count."""
    if not verify(user, code):
        raise Unauthorized(WRONG_CODE, code="invalid_code")


def remaining_recovery_codes(user):
    return db.session.execute(db.select(db.func.count(RecoveryCode.id)).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).scalar_one()


def regenerate_recovery_codes(user, code):
    """Ten new recovery codes (the old ones stop working), after a code proves it is the user."""
    if not user.two_factor_enabled:
        raise Conflict("Two-factor sign-in is off.", code="two_factor_disabled")
    require_code(user, code)
    codes = replace_recovery_codes(user.id)
    audit.record("recovery_codes_renewed", owner_id=user.id, actor=user)
    db.session.commit()
    return codes


def turn_off(user, code):
    """Turn two-factor off after a code proves it is the user: the secret and the recovery codes are deleted."""
    if not user.two_factor_enabled:
        raise Conflict("Two-factor sign-in is off.", code="two_factor_disabled")
    if is_required():
        raise Conflict("An administrator requires two-factor sign-in for every account, so it stays on. "
                       "You can make new recovery codes instead.", code="two_factor_required")
    require_code(user, code)
    clear(user.id)
    audit.record("two_factor_off", owner_id=user.id, actor=user)
    db.session.commit()
    db.session.refresh(user)
    return True


def clear(user_id):
    db.session.execute(db.update(User).where(User.id == user_id).values(
        totp_secret_encrypted=None, totp_enabled_at=None, totp_last_step=None)
        .execution_options(synchronize_session=False))
    db.session.execute(db.delete(RecoveryCode).where(RecoveryCode.user_id == user_id))


def reset(user, actor=None, actor_name=None):
    """An admin clears a user's two-factor (a lost phone and no recovery codes): they sign in with the
    password alone, and set it up again (at once if it is required). Recorded in the user's activity."""
    was_on = user.two_factor_enabled
    clear(user.id)
    audit.record("two_factor_reset", owner_id=user.id, actor=actor, actor_name=actor_name, name=user.username)
    db.session.commit()
    db.session.refresh(user)
    return was_on


def is_required():
    """Whether an admin requires two-factor sign-in for every account."""
    value = db.session.execute(db.select(SiteSetting.value).where(SiteSetting.name == REQUIRE_SETTING)).scalar()
    return value == "on"


def set_required(required, actor=None):
    """Turn the requirement on or off, as `actor` (an admin; None: the command line); one upsert, so two admins
    at once cannot collide on the row."""
    if not isinstance(required, bool):
        raise InvalidInput("require_two_factor is true or false.", code="invalid_require_two_factor")
    insert = postgresql_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    statement = insert(SiteSetting).values(name=REQUIRE_SETTING, value="on" if required else "off")
    db.session.execute(statement.on_conflict_do_update(index_elements=[SiteSetting.name],
                                                       set_={"value": statement.excluded.value}))
    audit.record("two_factor_requirement", owner_id=actor.id if actor is not None else None,
                 detail="required" if required else "not required",
                 **admin.acted_by(actor))
    db.session.commit()
    return required


def needs_enrolment(user):
    """A signed-in user who must set up two-factor before going on: it is required and theirs is off."""
    return user.is_authenticated and not user.two_factor_enabled and is_required()
