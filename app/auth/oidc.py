"""Single sign-on pages: the sign-in button's redirect to the provider, and the provider's callback.

The button is a link (GET /login/sso). A form could not be used: the pages'
CSP form-action covers where a submitted form is redirected, and the
provider's authorization endpoint is known only from its metadata. Starting a
sign-in needs no CSRF protection: another site that sends a browser there can
only have that browser's own person sign in. Login CSRF (signing someone in
as the attacker) would need the attacker's code at the callback, and the
callback is refused unless its state matches the one Authlib kept in this
browser's session when this browser started the sign-in.
"""
from flask import current_app, flash, redirect, render_template, session, url_for
from flask_login import current_user

from app.auth import bp
from app.auth.forms import LoginForm
from app.auth.routes import safe_next, sign_in
from app.errors import LockerError
from app.extensions import db
from app.services import oidc, two_factor

NEXT_KEY = "sso_next"


@bp.app_context_processor
def sign_in_methods():
    """What the sign-in page offers: the provider's button (its name) and the password form."""
    return {"sso_button": oidc.provider_name() if oidc.is_configured() else None,
            "local_login": oidc.local_login_enabled()}


def callback_url():
    """Where the provider sends the browser back: under PUBLIC_URL when set, as registered at the provider."""
    public_url = current_app.config.get("PUBLIC_URL")
    if public_url:
        return public_url.rstrip("/") + url_for("auth.sso_callback")
    return url_for("auth.sso_callback", _external=True)


def refused(error):
    """The sign-in page again, with the reason; nothing was signed in or made."""
    db.session.rollback()
    flash(error.message, "error")
    return render_template("auth/login.html", form=LoginForm(formdata=None)), error.status


@bp.get("/login/sso")
def sso_login():
    if current_user.is_authenticated:
        return redirect(url_for("web.list_files"))
    session[NEXT_KEY] = safe_next()
    try:
        return oidc.authorization_redirect(callback_url())
    except LockerError as error:
        return refused(error)


@bp.get("/login/sso/callback")
def sso_callback():
    if current_user.is_authenticated:
        return redirect(url_for("web.list_files"))
    next_url = session.pop(NEXT_KEY, None) or ""
    try:
        user = oidc.sign_in_user(oidc.verified_claims())
    except LockerError as error:
        return refused(error)
    if two_factor.is_required():
        # An admin asked for Locker's own second factor from everyone: single sign-on too.
        from app.auth.two_factor import finish_sign_in  # imports app.auth.routes, as this module does
        return finish_sign_in(user, False, safe_next(next_url))
    # Otherwise two-factor is not asked here: the provider decides how its users prove who they are.
    sign_in(user)
    return redirect(safe_next(next_url))
