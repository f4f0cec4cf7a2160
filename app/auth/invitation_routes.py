"""Pages on the auth blueprint for invitations, password resets and the Account page's email section:
/invite/<token>, /reset/<token>, /forgot, /account/email and /account/notices."""
from functools import wraps

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from app.auth import bp, limits
from app.auth.routes import account_form_page
from app.errors import LockerError
from app.formatting import human_size
from app.services import account_email, invitations, mail, oidc, password_resets


class NewPasswordForm(FlaskForm):
    password = PasswordField("New password (at least 8 characters)", validators=[DataRequired(), Length(min=8)],
                             render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("Repeat new password",
                            validators=[DataRequired(), EqualTo("password", "Passwords do not match.")],
                            render_kw={"autocomplete": "new-password"})
    submit = SubmitField("Set new password")


class ForgotForm(FlaskForm):
    identifier = StringField("Username or email address", validators=[DataRequired(), Length(max=254)],
                             render_kw={"autocomplete": "username"})
    submit = SubmitField("Send me a link")


class EmailForm(FlaskForm):
    email = StringField("Email address", validators=[Length(max=account_email.MAX_EMAIL_LENGTH)],
                        render_kw={"autocomplete": "email", "type": "email", "spellcheck": "false"})
    submit = SubmitField("Save address")


class NoticesForm(FlaskForm):
    notify_downloads = BooleanField("Email me when a link of mine is downloaded")
    notify_deliveries = BooleanField("Email me when files arrive through one of my upload requests")
    submit = SubmitField("Save notices")


def ended_page(error):
    return render_template("errors/error.html", status=error.status, message=error.message), error.status


def with_passwords(view):
    """A page that sets a password: while LOCAL_LOGIN is off it says so instead, before any form is shown."""

    @wraps(view)
    def guarded(*args, **kwargs):
        try:
            oidc.require_local_login()
        except LockerError as error:
            return ended_page(error)
        return view(*args, **kwargs)

    return guarded


@bp.route("/invite/<token>", methods=["GET", "POST"])
@with_passwords
def accept_invitation(token):
    """The sign-up form an invitation link opens, whatever REGISTRATION says (an admin chose to invite)."""
    try:
        invitation = invitations.open_invitation(token)
    except LockerError as error:  # NotFound or InvitationEnded (410)
        return ended_page(error)
    offer = {"is_admin": invitation.is_admin,
             "quota": None if invitation.quota_bytes is None else
             ("no limit" if invitation.quota_bytes == 0 else human_size(invitation.quota_bytes))}
    return account_form_page(
        "auth/invite.html", lambda username, password: invitations.accept(token, username, password),
        "Welcome, {username}! Drop files below to upload them.", offer=offer)


@bp.route("/reset/<token>", methods=["GET", "POST"])
@with_passwords
def reset_password(token):
    try:
        reset = password_resets.open_reset(token)
    except LockerError as error:
        return ended_page(error)
    form, status = NewPasswordForm(), 200
    if form.validate_on_submit():
        try:
            user, ended = password_resets.use(token, form.password.data)
        except LockerError as error:
            if error.code != "weak_password":
                return ended_page(error)
            form.password.errors.append(error.message)
            status = error.status
        else:
            if current_user.is_authenticated and current_user.id == user.id:
                logout_user()  # this browser's own session was among those ended
            flash(f"Your password is changed. Every sign-in of {user.username} has ended"
                  f"{f' ({ended} of them)' if ended else ''}; log in with the new password.", "info")
            return redirect(url_for("auth.login"))
    elif form.errors:
        status = 400
    return render_template("auth/reset.html", form=form, username=reset.user.username), status


@bp.route("/forgot", methods=["GET", "POST"])
@with_passwords
def forgot_password():
    """Self-service reset by email: only when mail is configured, always the same answer."""
    if not mail.is_configured():
        abort(404)
    form = ForgotForm()
    if form.validate_on_submit():
        # Counted openly (a 429 says so): the answer below must not depend on whether an account matched.
        limits.spend((password_resets.address_budget(),))
        password_resets.forgot(form.identifier.data)
        flash(password_resets.FORGOT_ANSWER, "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/forgot.html", form=form), 400 if form.errors else 200


def email_forms(user):
    """The Account page's email section: its two forms, filled from the account (never from another form's post)."""
    return {"email_form": EmailForm(formdata=None, email=user.email or ""),
            "notices_form": NoticesForm(formdata=None, notify_downloads=user.notify_downloads,
                                        notify_deliveries=user.notify_deliveries),
            "mail_configured": mail.is_configured()}


@bp.post("/account/email")
@login_required
def set_email():
    form = EmailForm()
    if not form.validate_on_submit():
        flash(" ".join(error for errors in form.errors.values() for error in errors), "error")
        return redirect(url_for("auth.account"))
    before = current_user.email
    try:
        user = account_email.set_email(current_user, form.email.data)
    except LockerError as error:
        flash(error.message, "error")
        return redirect(url_for("auth.account"))
    if user.email == before:
        flash("Your email address is unchanged.", "info")
    else:
        flash(f"Your email address is now {user.email}." if user.email else "Your email address is removed.", "info")
    return redirect(url_for("auth.account"))


@bp.post("/account/notices")
@login_required
def set_notices():
    form = NoticesForm()  # CSRFProtect has checked the token; two checkboxes can hold nothing invalid
    account_email.set_notices(current_user, form.notify_downloads.data, form.notify_deliveries.data)
    flash("Your notice settings are saved." if current_user.email else
          "Your notice settings are saved; add an email address for them to reach you.", "info")
    return redirect(url_for("auth.account"))
