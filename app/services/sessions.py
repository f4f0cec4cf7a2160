"""Browser sign-ins, kept server-side so that signing out really ends them.

The session cookie (and the remember-me cookie) hold only a random token.
Its hash names a LoginSession row; deleting the row or letting it idle past
SESSION_LIFETIME (REMEMBER_LIFETIME with "remember me") makes every copy of
the cookies worthless.
"""
from datetime import timedelta

from flask import current_app, has_request_context, request

from app.extensions import db
from app.models import LoginSession, User, utcnow
from app.security import hash_token, new_token

# Writing last_seen on every request would turn each page view into a write.
LAST_SEEN_GRANULARITY = timedelta(seconds=60)


def start_session(user, remember=False):
    """Record a sign-in (with the browser and address the Account page lists it by) and return the user
    ready for Flask-Login's login_user."""
    token = new_token()
    agent = request.headers.get("User-Agent") if has_request_context() else None
    address = request.remote_addr if has_request_context() else None  # the client's, once ProxyFix applied
    db.session.add(LoginSession(token_hash=hash_token(token), user_id=user.id, remember=remember,
                                user_agent=agent[:255] if agent else None,
                                address=address[:45] if address else None))
    user.last_sign_in_at = utcnow()
    db.session.commit()
    user.session_token = token
    return user


def idle_limit(login_session):
    config = current_app.config
    return config["REMEMBER_LIFETIME"] if login_session.remember else config["SESSION_LIFETIME"]


def load_session_user(token):
    """The user of a live session, or None when it ended or idled out."""
    login_session = db.session.execute(
        db.select(LoginSession).filter_by(token_hash=hash_token(token or ""))).scalar_one_or_none()
    if login_session is None:
        return None
    now = utcnow()
    if now - login_session.last_seen_at > idle_limit(login_session):
        db.session.delete(login_session)
        db.session.commit()
        return None
    if now - login_session.last_seen_at > LAST_SEEN_GRANULARITY:
        login_session.last_seen_at = now
        db.session.commit()
    user = db.session.get(User, login_session.user_id)
    if user is None or not user.is_active:
        return None
    user.session_token = token
    return user


def end_session(token):
    db.session.execute(db.delete(LoginSession).filter_by(token_hash=hash_token(token or "")))
    db.session.commit()
