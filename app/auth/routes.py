"""Sign-in, sign-out, sign-up, first-admin setup and the account page."""
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_url, login_user, logout_user

from app.auth import account_pages, bp, limits
from app.auth.forms import AccountForm, LoginForm, TokenForm
from app.errors import LockerError
from app.extensions import login_manager
from app.services import oidc, sessions, tokens, users
from app.text import is_plain_text

LOGIN_MESSAGE = "Log in to see that page."
login_manager.login_view = "auth.login"
login_manager.user_loader(sessions.load_session_user)


@login_manager.unauthorized_handler
def ask_to_log_in():
    """To the login page, coming back here after. Flask-Login would flash its message on every refused request,
    and requests the login page never shows (the files page's list refresh) would pile copies up for it."""
    if LOGIN_MESSAGE not in (message for _, message in session.get("_flashes", [])):
        flash(LOGIN_MESSAGE, "info")
    return redirect(login_url(login_manager.login_view, next_url=request.url))


def safe_next(target=None):
    """Where to go next (after signing in, by default): only a path on this site, never another host."""
    target = request.args.get("next", "") if target is None else target
    parts = urlsplit(target)
    # Browsers read a backslash as a slash ("/\\host" is "//host") and drop tabs and newlines, so a
    # target with either is refused rather than trusted to mean a path here.
    if ("\\" in target or not is_plain_text(target) or not target.startswith("/") or target.startswith("//")
            or parts.netloc or parts.scheme):
        return url_for("web.list_files")
    return target


def sign_in(user, remember=False):
    login_user(sessions.start_session(user, remember), remember=remember)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("web.list_files"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = limits.authenticate(form.username.data, form.password.data)
        except LockerError as error:  # a wrong password, or password sign-in turned off (LOCAL_LOGIN)
            flash(error.message, "error")
            return render_template("auth/login.html", form=form), error.status
        from app.auth.two_factor import finish_sign_in  # imports this module
        return finish_sign_in(user, form.remember.data, safe_next())
    status = 400 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.post("/logout")
@login_required
def logout():
    sessions.end_session(current_user.session_token)
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


def account_form_page(template, create_account, welcome, **context):
    """Show a new-account form; on a valid post create the account, sign it in and greet it.
    `context` goes to the template as it is (an invitation page shows what the account comes with)."""
    form = AccountForm()
    if form.validate_on_submit():
        try:
            user = create_account(form.username.data, form.password.data)
        except LockerError as error:
            if error.code == "weak_password":
                form.password.errors.append(error.message)  # beside the field that has to change
            else:
                flash(error.message, "error")
            return render_template(template, form=form, **context), error.status
        sign_in(user)
        flash(welcome.format(username=user.username), "info")
        return redirect(url_for("web.list_files"))
    return render_template(template, form=form, **context), 400 if form.errors else 200


@bp.route("/register", methods=["GET", "POST"])
def register():
    if not users.registration_open() or not oidc.local_login_enabled():
        return render_template("auth/register.html", form=None), 403
    return account_form_page("auth/register.html", limits.register,
                             "Welcome, {username}! Drop files below to upload them.")


@bp.route("/setup/<token>", methods=["GET", "POST"])
def setup(token):
    if not users.setup_token_is_valid(token):
        return render_template("errors/error.html", status=404,
                               message="This setup link is invalid or was already used."), 404
    return account_form_page("auth/setup.html", lambda username, password: users.create_first_admin(
        token, username, password), "Admin account {username} created.")


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = TokenForm()
    if form.validate_on_submit():
        _, secret = tokens.create_token(current_user, form.name.data, form.expires_in_days.data or None)
        # Post/Redirect/Get: a reload must not make a second token. The secret rides in this
        # browser's own session cookie (it is their token) for exactly one view, never in a URL or log.
        session["new_token_secret"] = secret
        return redirect(url_for("auth.account"))
    new_secret = session.pop("new_token_secret", None) if request.method == "GET" else None
    # Imported here: that module builds its sign-up page on account_form_page, defined above.
    from app.auth.invitation_routes import email_forms
    status = 400 if form.errors else 200
    from app.auth.two_factor import account_section  # imports this module
    return render_template("auth/account.html", form=form, api_tokens=tokens.list_tokens(current_user),
                           new_secret=new_secret, two_factor=account_section(current_user),
                           **email_forms(current_user), **account_pages.sections()), status


@bp.post("/account/tokens/<int:token_id>/revoke")
@login_required
def revoke_token(token_id):
    tokens.revoke_token(current_user, token_id)
    flash("Token revoked.", "info")
    return redirect(url_for("auth.account"))
