"""Password reset links: one-time, expiring links that set a new password.

An admin makes one for a user (emailed to the user's address when mail is configured and
they have one, else shown to the admin to pass on), or a user asks for one by email at
/forgot. Only the token's hash is stored. A newer link voids the user's older ones; using a
link claims it with one conditional UPDATE, sets the password and ends every sign-in of the
account, in one transaction.
"""
from datetime import timedelta

from flask import current_app
from werkzeug.security import generate_password_hash

from app.auth.limits import Budget, address
from app.errors import InvalidInput, LockerError, NotFound
from app.extensions import db
from app.models import LoginSession, PasswordReset, User, utcnow
from app.security import hash_token, new_token
from app.services import account_email, admin, audit, mail, mail_budget, oidc, users
from app.services.site_links import absolute_url
from app.text import is_plain_text

ENDED_MESSAGES = {
    "used": "This reset link has already been used. If you still can't sign in, ask for a new one.",
    "expired": "This reset link has expired. Ask for a new one.",
}
# What /forgot always answers, whether or not an account matched, so it tells nobody which exist.
FORGOT_ANSWER = "If an account with an email address matches, a link is on its way."
MAX_IDENTIFIER_LENGTH = 254


class ResetEnded(LockerError):
    status, code = 410, "reset_ended"


def lifetime():
    return timedelta(seconds=current_app.config["PASSWORD_RESET_LIFETIME"])


def issue(user, created_by=None, send_mail=True, source="asked for by email"):
    """A new reset link for `user`, voiding older ones. Returns (url, emailed): when mail is configured, the
    user has an address and send_mail is on, the link goes there and url is None (whoever asked never sees a
    link meant for the user's inbox); otherwise url is the link, to be shown once. `source` tells the activity
    log who asked when no admin did (the /forgot page, or the command line)."""
    token = new_token()
    now = utcnow()
    emailing = send_mail and bool(user.email) and mail.is_configured()
    # Voided by removal, not by marking them used: an unused old link simply stops existing.
    db.session.execute(db.delete(PasswordReset).where(PasswordReset.user_id == user.id,
                                                      PasswordReset.used_at.is_(None)))
    db.session.add(PasswordReset(user_id=user.id, token_hash=hash_token(token), created_by_id=getattr(
        created_by, "id", None), created_at=now, expires_at=now + lifetime()))
    audit.record("password_reset_created", owner_id=user.id, actor=created_by,
                 detail=("" if created_by else f"{source}, ") +
                 ("emailed to the account's address" if emailing else "link shown, not emailed"))
    db.session.commit()
    url = absolute_url("auth.reset_password", token=token)
    # Queued after the commit, so the link works by the time the mail is read.
    if emailing and mail.send(user.email, "Reset your Locker password", reset_mail(user, url, created_by)):
        return None, True
    return url, False


def reset_mail(user, url, created_by):
    who = f"An administrator ({created_by.username})" if created_by else "Someone (hopefully you)"
    return "\n".join([
        f"{who} asked for a new password for your Locker account {user.username}.", "",
        "Choose one here:", "", url, "",
        f"The link works once, for {human_lifetime()}. Using it signs the account out everywhere.", "",
        "If you did not ask for this, ignore this message: your password stays as it is."])


def human_lifetime():
    hours = current_app.config["PASSWORD_RESET_LIFETIME"] / 3600
    return f"{hours:g} hour{'s' if hours != 1 else ''}"


def create_for_user(creator, user_id):
    """An admin's reset link for an account (see issue); returns (user, url, emailed)."""
    admin.require_admin(creator)
    oidc.require_local_login()  # a password nobody may sign in with is no use
    user = admin.find_user(user_id)
    if user.deleting_at is not None:
        raise InvalidInput("This account is being deleted.", code="user_deleting")
    url, emailed = issue(user, created_by=creator)
    return user, url, emailed


def open_reset(token):
    """The live reset a link names, with its user; NotFound or ResetEnded otherwise."""
    reset = None
    if isinstance(token, str) and token and is_plain_text(token):
        reset = db.session.execute(db.select(PasswordReset).filter_by(
            token_hash=hash_token(token))).scalar_one_or_none()
    if reset is None or not reset.user.is_active_account or reset.user.deleting_at is not None:
        # Also a voided link (a newer one was made) and one for a disabled account: nothing to say about them.
        raise NotFound("This reset link is not valid. It may have been replaced by a newer one; "
                       "use the latest link you were given.", code="no_such_reset")
    if reset.used_at is not None:
        raise ResetEnded(ENDED_MESSAGES["used"])
    if reset.expires_at <= utcnow():
        raise ResetEnded(ENDED_MESSAGES["expired"])
    return reset


def use(token, password):
    """Set the new password through a reset link, once; every sign-in of the account ends.
    Returns (user, how many sessions were ended)."""
    oidc.require_local_login()
    reset = open_reset(token)
    user = reset.user
    problem = users.password_problem(password, user.username)
    if problem:
        raise InvalidInput(problem, code="weak_password")
    new_hash = generate_password_hash(password)  # slow on purpose: before the write transaction
    reset_id, user_id, username = reset.id, user.id, user.username
    # End the read first: on SQLite a write after a stale snapshot fails at once rather than waiting.
    db.session.commit()
    now = utcnow()
    # The account's state is checked in the same statement: one disabled (or whose deletion began) since the
    # link was opened gets no new password.
    account_usable = db.select(User.id).where(User.id == user_id, User.is_active_account.is_(True),
                                              User.deleting_at.is_(None)).exists()
    claimed = db.session.execute(db.update(PasswordReset).where(
        PasswordReset.id == reset_id, PasswordReset.used_at.is_(None), PasswordReset.expires_at > now,
        account_usable).values(used_at=now)).rowcount
    if not claimed:
        db.session.rollback()
        raise ResetEnded(ENDED_MESSAGES["used"])
    db.session.execute(db.update(User).where(User.id == user_id).values(password_hash=new_hash))
    ended = db.session.execute(db.delete(LoginSession).where(LoginSession.user_id == user_id)).rowcount
    audit.record("password_reset", owner_id=user_id, actor_name=username,
                 detail=f"{ended} sign-in{'s' if ended != 1 else ''} ended")
    db.session.commit()
    return db.session.get(User, user_id), ended


def account_budget(user):
    return Budget("RESET_LIMIT_PER_ACCOUNT", "reset-account", f"user:{user.id}")


def address_budget():
    return Budget("RESET_LIMIT_PER_ADDRESS", "reset-address", address())


def forgot(identifier):
    """Self-service: email a reset link to the stored address of the account this username or email names.

    Answers nothing (the page says FORGOT_ANSWER whatever happened). No mail goes out for no match, an
    account without an address or a disabled one, or past the account's budget (so nobody can flood an
    inbox); the caller has already spent the address's budget, which refuses openly."""
    oidc.require_local_login()
    if not mail.is_configured():
        raise NotFound("Password reset by email is not available here. Ask an administrator.",
                       code="mail_not_configured")
    if not isinstance(identifier, str) or not is_plain_text(identifier) or len(identifier) > MAX_IDENTIFIER_LENGTH:
        return
    text = identifier.strip()
    user = account_email.find_by_email(text) if "@" in text else db.session.execute(
        db.select(User).filter_by(username=users.normalize_username(text))).scalar_one_or_none()
    if user is None or not user.email or not user.is_active:
        return
    if not mail_budget.has_room(account_budget(user)):
        return
    issue(user)

