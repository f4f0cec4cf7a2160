"""Two-factor pages: setting it up from the Account page, the second step of signing in, and the
admin's requirement, enforced on every page.

After a right password, an account with two-factor gets no session yet but a pending sign-in in Flask's signed
session cookie: whose, "remember me", where to go next, until when, and a fingerprint of the password hash and
of the two-factor set-up, so that a password changed (or two-factor reset) meanwhile voids it. Each code tried
there is one guess in the same budgets as passwords (limits.sign_in_budgets), so codes cannot be guessed faster
than passwords.
"""
import hashlib
import time

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length

from app.auth import bp, limits
from app.auth.routes import safe_next, sign_in
from app.errors import Forbidden, LockerError, Unauthorized, error_response
from app.extensions import db
from app.models import User
from app.qr import qr_svg
from app.services import audit, two_factor

PENDING = "two_factor_pending"
# Long enough to find the phone and type a code, short enough that a cookie left behind is soon worthless.
PENDING_SECONDS = 300
NEW_CODES = "new_recovery_codes"
SETUP_NEEDED = "An administrator requires two-factor sign-in for every account: set it up to go on."
# What a signed-in user who must still set up two-factor may open: setting it up, signing out, and what
# those pages load. Storage's signed URLs and health checks carry no session that matters.
OPEN_WHILE_SETTING_UP = {"auth.two_factor_setup", "auth.recovery_codes", "auth.logout", "static", "web.vendor"}
OPEN_BLUEPRINTS = {"health", "local"}


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=two_factor.MAX_CODE_LENGTH)],
                       render_kw={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false"})
    submit = SubmitField("Continue")


class SetupForm(CodeForm):
    code = StringField("6-digit code from your app", validators=[DataRequired(), Length(max=two_factor.MAX_CODE_LENGTH)],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})
    submit = SubmitField("Turn on two-factor sign-in")


class SignInCodeForm(CodeForm):
    code = StringField("Code from your app, or a recovery code",
                       validators=[DataRequired(), Length(max=two_factor.MAX_CODE_LENGTH)],
                       render_kw={"autocomplete": "one-time-code", "autocapitalize": "none", "spellcheck": "false",
                                  "autofocus": True})
    submit = SubmitField("Sign in")


class RenewForm(CodeForm):
    submit = SubmitField("Make new recovery codes")


class TurnOffForm(CodeForm):
    submit = SubmitField("Turn off two-factor sign-in")


def fingerprint(user):
    """Changes when the password or the two-factor set-up does. A hash of the hash: the cookie, which the
    browser can read, carries nothing of the password hash itself."""
    material = f"{user.id}:{user.password_hash or ''}:{user.totp_secret_encrypted or ''}"
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def second_factor(user, code):
    """The second step of a sign-in: `code` checked as one guess in the account's and the address's sign-in
    budgets. A wrong code is recorded as a failed sign-in and raises Unauthorized (code invalid_code); a right
    one records the sign-in, which the caller commits with the session or token it makes."""
    # The password's "sign_in" record (users.authenticate) waits for the code: verify() commits.
    db.session.rollback()

    def check():
        if two_factor.verify(user, code):
            return True
        audit.record("sign_in_failed", owner_id=user.id, actor_name=user.username, detail="wrong two-factor code")
        db.session.commit()
        raise Unauthorized(two_factor.WRONG_CODE, code="invalid_code")

    limits.guess(limits.sign_in_budgets(user.username), check)
    audit.record("sign_in", owner_id=user.id, actor=user)


def finish_sign_in(user, remember, next_url):
    """After a right password (or any first factor): sign in, or, for an account with two-factor, ask for a
    code first. Returns the response. Single sign-on ends here too while an admin requires two-factor."""
    if not user.two_factor_enabled:
        sign_in(user, remember)
        return redirect(next_url)
    pending = {"user_id": user.id, "remember": bool(remember), "next": next_url,
               "expires": int(time.time()) + PENDING_SECONDS, "fingerprint": fingerprint(user)}
    db.session.rollback()  # the sign-in is recorded when the code is right
    session[PENDING] = pending
    return redirect(url_for("auth.login_two_factor"))


def pending_sign_in():
    """(user, pending) of this browser's sign-in waiting for a code, or None when there is none, it expired,
    or the password or two-factor changed since."""
    pending = session.get(PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("expires"), int) \
            or pending["expires"] < time.time() or not isinstance(pending.get("user_id"), int):
        return None
    user = db.session.get(User, pending["user_id"])
    if user is None or not user.is_active or not user.two_factor_enabled \
            or pending.get("fingerprint") != fingerprint(user):
        return None
    return user, pending


@bp.route("/login/two-factor", methods=["GET", "POST"])
def login_two_factor():
    if current_user.is_authenticated:
        return redirect(url_for("web.list_files"))
    found = pending_sign_in()
    if found is None:
        if session.pop(PENDING, None) is not None:
            flash("That sign-in took too long or changed. Log in again.", "info")
        return redirect(url_for("auth.login"))
    user, pending = found
    form = SignInCodeForm()
    if form.validate_on_submit():
        try:
            second_factor(user, form.code.data)
        except Unauthorized as error:
            flash(error.message, "error")
            form.code.data = ""  # a wrong code is typed again, not edited
            return render_template("auth/login_two_factor.html", form=form), 401
        session.pop(PENDING, None)
        sign_in(user, pending.get("remember", False))
        return redirect(safe_next(pending.get("next") or ""))
    return render_template("auth/login_two_factor.html", form=form), 400 if form.errors else 200


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_required
def two_factor_setup():
    """Set up two-factor: a QR code (and the secret as text), then a first code from the app."""
    if current_user.two_factor_enabled:
        return redirect(url_for("auth.account"))
    form = SetupForm()
    user = current_user._get_current_object()
    if form.validate_on_submit():
        try:
            codes = limits.guess(limits.sign_in_budgets(user.username),
                                 lambda: two_factor.confirm_enrolment(user, form.code.data))
        except LockerError as error:
            flash(error.message, "error")
            return redirect(url_for("auth.two_factor_setup"))
        return show_codes_once(codes, "Two-factor sign-in is on.")
    secret = two_factor.begin_enrolment(user)
    uri = two_factor.provisioning_uri(user, secret)
    return render_template("auth/two_factor_setup.html", form=form, secret=secret,
                           qr=qr_svg(uri, "QR code to scan with your authenticator app"),
                           required=two_factor.is_required()), 400 if form.errors else 200


def show_codes_once(codes, message):
    # Post/Redirect/Get: the codes ride in this browser's own session cookie for exactly one view, never in a URL.
    session[NEW_CODES] = codes
    flash(message, "info")
    return redirect(url_for("auth.recovery_codes"))


@bp.get("/account/two-factor/recovery-codes")
@login_required
def recovery_codes():
    codes = session.pop(NEW_CODES, None)
    if not codes:
        return redirect(url_for("auth.account"))
    return render_template("auth/recovery_codes.html", codes=codes)


@bp.post("/account/two-factor/recovery-codes")
@login_required
def renew_recovery_codes():
    form = RenewForm(prefix="renew")
    if not form.validate_on_submit():
        flash("Enter a code from your app, or a recovery code, to make new recovery codes.", "error")
        return redirect(url_for("auth.account"))
    user = current_user._get_current_object()
    try:
        codes = limits.guess(limits.sign_in_budgets(user.username),
                             lambda: two_factor.regenerate_recovery_codes(user, form.code.data))
    except LockerError as error:
        flash(error.message, "error")
        return redirect(url_for("auth.account"))
    return show_codes_once(codes, "New recovery codes made: the old ones no longer work.")


@bp.post("/account/two-factor/off")
@login_required
def two_factor_off():
    form = TurnOffForm(prefix="off")
    if not form.validate_on_submit():
        flash("Enter a code from your app, or a recovery code, to turn two-factor sign-in off.", "error")
        return redirect(url_for("auth.account"))
    user = current_user._get_current_object()
    try:
        limits.guess(limits.sign_in_budgets(user.username), lambda: two_factor.turn_off(user, form.code.data))
    except LockerError as error:
        flash(error.message, "error")
        return redirect(url_for("auth.account"))
    flash("Two-factor sign-in is off.", "info")
    return redirect(url_for("auth.account"))


def account_section(user):
    """What the Account page's two-factor section shows."""
    enabled = user.two_factor_enabled
    return {"enabled": enabled, "required": two_factor.is_required(),
            "remaining": two_factor.remaining_recovery_codes(user) if enabled else 0,
            "renew_form": RenewForm(prefix="renew", formdata=None),
            "off_form": TurnOffForm(prefix="off", formdata=None)}


def signed_in_here():
    """Whether this request carries a sign-in at all (a session one, or a remember-me cookie), without loading it."""
    return "_user_id" in session or bool(request.cookies.get(current_app.config.get("REMEMBER_COOKIE_NAME",
                                                                                       "remember_token")))


@bp.before_app_request
def require_set_up():
    """While an admin requires two-factor, a signed-in user without it sets it up before anything else.
    Pages redirect there; the API answers 403 two_factor_setup_required to calls made with the browser's session
    (tokens are refused earlier: a password makes none until two-factor is on)."""
    if request.endpoint in OPEN_WHILE_SETTING_UP or request.blueprint in OPEN_BLUEPRINTS \
            or request.endpoint is None:
        return None
    if request.blueprint == "api" and request.headers.get("Authorization"):
        return None
    if not signed_in_here():
        # Asking current_user would have Flask-Login look at the session, and its session protection
        # then writes to a session that holds no sign-in (a guest's visit): a Set-Cookie on every guest
        # upload call, which parallel uploads would race to overwrite.
        return None
    if not current_user.is_authenticated or not two_factor.needs_enrolment(current_user):
        return None
    if request.blueprint == "api":
        return error_response(403, "two_factor_setup_required", SETUP_NEEDED)
    if SETUP_NEEDED not in (message for _, message in session.get("_flashes", [])):
        flash(SETUP_NEEDED, "info")
    return redirect(url_for("auth.two_factor_setup"))


def require_for_token(user, code):
    """A token made with a password: for an account with two-factor, also a code (counted as a sign-in guess);
    while two-factor is required, none for an account that has not set it up."""
    if user.two_factor_enabled:
        if not isinstance(code, str) or not code.strip():
            raise Unauthorized("This account has two-factor sign-in: send the code from its app (or a recovery "
                               "code) as \"code\".", code="two_factor_required")
        second_factor(user, code)
    elif two_factor.is_required():
        raise Forbidden(SETUP_NEEDED + " Sign in on the web, set it up on the Account page, then make the token.",
                        code="two_factor_setup_required")
