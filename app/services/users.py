"""Accounts: registration, sign-in checks, and the first admin."""
import re
import threading

from flask import current_app
from werkzeug.security import check_password_hash, generate_password_hash
from sqlalchemy.exc import IntegrityError
from zxcvbn import zxcvbn

from app.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from app.extensions import db
from app.models import SetupToken, User
from app.security import hash_token, new_token
from app.services import audit
from app.text import is_encodable, is_plain_text

# Checked against when the account does not exist, so a miss costs as long as a wrong password.
DUMMY_PASSWORD_HASH = generate_password_hash("no such account")

USERNAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{2,31}$")
MIN_PASSWORD_LENGTH = 8
# zxcvbn's scale runs 0–4; 3 is "safely unguessable" (at least 10^8 guesses), some protection even
# if the password hashes leak. Below it fall common passwords, repeats, sequences and keyboard runs.
MIN_PASSWORD_SCORE = 3
# zxcvbn refuses longer input, as its cost grows with length; a password whose first 72
# characters are hard to guess is no easier whole.
ESTIMATED_LENGTH = 72
# zxcvbn keeps the user inputs of a call in a module-level dictionary, so two calls at once
# (threaded workers) could judge one password against another person's username.
_estimator_lock = threading.Lock()


def normalize_username(username):
    """The stored form of a username; "" for anything that cannot be one."""
    return username.strip().lower() if is_plain_text(username) else ""


def password_problem(password, username=""):
    """Why this password may not be set for this username, or None: the one rule for every account."""
    if not is_encodable(password) or len(password) < MIN_PASSWORD_LENGTH:
        return f"Passwords need at least {MIN_PASSWORD_LENGTH} characters."
    username = normalize_username(username or "")
    if username and username in password.lower():
        return "A password may not contain your username."
    with _estimator_lock:
        estimate = zxcvbn(password[:ESTIMATED_LENGTH], user_inputs=[username] if username else [])
    if estimate["score"] >= MIN_PASSWORD_SCORE:
        return None
    feedback = estimate["feedback"]
    return " ".join(filter(None, ["This password is too easy to guess.", feedback["warning"], *feedback["suggestions"]]))


def validate_new_account(username, password):
    username = normalize_username(username)
    if not USERNAME_PATTERN.match(username):
        raise InvalidInput("Usernames are 3–32 characters: letters, digits, '.', '_' or '-', "
                           "starting with a letter or digit.", code="invalid_username")
    problem = password_problem(password, username)
    if problem:
        raise InvalidInput(problem, code="weak_password")
    return username


def create_user(username, password, is_admin=False):
    """A new account; raises Conflict when the name is taken (case-insensitively)."""
    username = validate_new_account(username, password)
    user = User(username=username, is_admin=is_admin)
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:
        # The unique index, not a prior SELECT, decides: two sign-ups can race.
        db.session.rollback()
        raise Conflict("That username is taken.", code="username_taken") from None
    return user


# REGISTRATION: open (anyone signs up at /register), invite (only through an admin's invitation link),
# closed (admins make accounts). Invitation links work in every mode: an admin chose to invite.
REGISTRATION_MODES = ("open", "invite", "closed")


def registration_mode():
    """The one place that reads REGISTRATION; every page and service asks here."""
    return current_app.config["REGISTRATION"]


def registration_open():
    return registration_mode() == "open"


def register(username, password):
    """Self-service sign-up, allowed only while REGISTRATION is open."""
    if not registration_open():
        message = ("Sign-up is by invitation only. Ask an administrator for an invitation link."
                   if registration_mode() == "invite" else
                   "Registration is closed. Ask an administrator for an account.")
        raise Forbidden(message, code="registration_closed")
    return create_user(username, password)


def authenticate(username, password):
    """The active user with these credentials; the same error for every kind of failure."""
    username = normalize_username(username)
    user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none() if username else None
    password = password if is_encodable(password) else ""
    if user is None:
        check_password_hash(DUMMY_PASSWORD_HASH, password)
        raise refused_sign_in(None, username)
    if user.password_hash is None:
        # An account made by single sign-on has no password: cost as much as a wrong one, so that
        # timing does not tell which accounts those are.
        check_password_hash(DUMMY_PASSWORD_HASH, password)
    if not user.check_password(password):
        raise refused_sign_in(user.id, username)
    if not user.is_active:
        # Only after the right password: a guesser learns nothing about the account's state.
        raise refused_disabled(user)
    # Committed by the caller with the session or token this sign-in makes.
    audit.record("sign_in", owner_id=user.id, actor=user)
    return user


def refused_disabled(user):
    """Record a sign-in (a right password, or single sign-on) into a disabled account; returns the error to raise."""
    if user.deleting_at is not None:
        message = "This account is being deleted."
    else:
        message = "This account is disabled. Ask an administrator if you think that is a mistake."
    audit.record("sign_in_failed", owner_id=user.id, actor_name=user.username, detail=message)
    db.session.commit()
    return Forbidden(message, code="account_disabled")


def refused_sign_in(user_id, username):
    """Record a failed attempt (the name tried, never the password); returns the error to raise."""
    audit.record("sign_in_failed", owner_id=user_id, actor_name=username)
    db.session.commit()
    return Unauthorized("Wrong username or password.", code="invalid_credentials")


def has_users():
    return db.session.execute(db.select(User.id).limit(1)).first() is not None


def ensure_admin_from_config():
    """Create the admin named by LOCKER_ADMIN_USERNAME/PASSWORD if it does not exist yet."""
    username = current_app.config.get("LOCKER_ADMIN_USERNAME")
    password = current_app.config.get("LOCKER_ADMIN_PASSWORD")
    if not username or not password:
        return None
    existing = db.session.execute(
        db.select(User).filter_by(username=normalize_username(username))).scalar_one_or_none()
    return existing or create_user(username, password, is_admin=True)


def issue_setup_token():
    """A fresh one-time token for creating the first admin; earlier ones stop working."""
    token = new_token()
    db.session.execute(db.delete(SetupToken))
    db.session.add(SetupToken(token_hash=hash_token(token)))
    db.session.commit()
    return token


def setup_token_is_valid(token):
    if has_users():
        return False
    return db.session.execute(
        db.select(SetupToken).filter_by(token_hash=hash_token(token or ""))).scalar_one_or_none() is not None


def create_first_admin(token, username, password):
    """Use the setup token once to create the first admin account."""
    if not setup_token_is_valid(token):
        raise NotFound("This setup link is invalid or was already used.", code="invalid_setup_token")
    user = create_user(username, password, is_admin=True)
    db.session.execute(db.delete(SetupToken))
    db.session.commit()
    return user
