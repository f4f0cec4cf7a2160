"""A signed-in user's own account: confirming it is really them, and changing the password."""
from app.errors import InvalidInput
from app.extensions import db
from app.models import LoginSession
from app.security import hash_token
from app.services import audit, oidc, two_factor, users
from app.text import is_encodable


def confirm_identity(user, password, code=None, second_factor=False):
    """True when `password` is the user's and, with `second_factor` asked for and two-factor sign-in on for the
    account, `code` is a valid second factor: the one check before anything that changes how the account signs
    in (the password: the session already passed the second factor) or removes it (both). Callers count it as
    a sign-in guess (limits.confirm_identity)."""
    if not is_encodable(password or "") or not user.check_password(password or ""):
        return False
    if second_factor and user.two_factor_enabled:
        return two_factor.verify(user, code)
    return True


def change_password(user, current_token, new_password):
    """Set a new password (checked as every password is) and end every other sign-in of the account; this
    one (`current_token`, its session's token) stays. Returns how many other sessions ended. API tokens stay:
    they are separate credentials the user manages on the same page. Call confirm_identity first."""
    oidc.require_local_login()
    problem = users.password_problem(new_password, user.username)
    if problem:
        raise InvalidInput(problem, code="weak_password")
    user.set_password(new_password)
    ended = db.session.execute(db.delete(LoginSession).where(
        LoginSession.user_id == user.id, LoginSession.token_hash != hash_token(current_token or ""))).rowcount
    audit.record("password_changed", owner_id=user.id, actor=user,
                 detail=f"signed out on {ended} other device{'' if ended == 1 else 's'}")
    db.session.commit()
    return ended
