"""The Account page's self-service sections: change password, signed-in devices, delete the account.

Each form posts to its own route here and comes back to the Account page (Post/Redirect/Get) with
what happened flashed; the page's data for these sections comes from sections()."""
from flask import flash, redirect, url_for
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from app.auth import bp, limits
from app.errors import LockerError
from app.formatting import wait_in_words
from app.services import accounts, deletion, devices, users


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField("New password (at least 8 characters)", validators=[DataRequired(), Length(min=8)],
                                 render_kw={"autocomplete": "new-password"})
    repeat = PasswordField("Repeat new password",
                           validators=[DataRequired(), EqualTo("new_password", "The new passwords do not match.")],
                           render_kw={"autocomplete": "new-password"})
    submit = SubmitField("Change password")


class DeleteAccountForm(FlaskForm):
    password = PasswordField("Your password", validators=[DataRequired()],
                             render_kw={"autocomplete": "current-password"})
    code = StringField("Two-factor code", render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})
    confirm = StringField("Type your username to confirm", validators=[DataRequired()],
                          render_kw={"autocomplete": "off", "spellcheck": "false"})
    submit = SubmitField("Delete my account and all my files")


def sections():
    """The keyword arguments the Account page's self-service sections need."""
    return {"password_form": PasswordChangeForm(prefix="password"), "delete_form": DeleteAccountForm(prefix="delete"),
            "devices": devices.list_devices(current_user, current_user.session_token),
            "deletion_holdings": deletion.describe(deletion.holdings(current_user))}


def back(anchor):
    return redirect(url_for("auth.account", _anchor=anchor))


def too_many(error):
    """A spent guess budget, flashed on the Account page: the app's 429 handler would send a form back to
    request.url, and these routes take POSTs only."""
    flash(f"Too many attempts. Try again in {wait_in_words(error.retry_after)}.", "error")


def first_error(form):
    return next(error for errors in form.errors.values() for error in errors)


@bp.post("/account/password")
@login_required
def change_password():
    form = PasswordChangeForm(prefix="password")
    if not form.validate_on_submit():
        flash(first_error(form), "error")
        return back("password-heading")
    try:
        limits.confirm_identity(current_user, form.current_password.data)
        ended = accounts.change_password(current_user, current_user.session_token, form.new_password.data)
    except limits.Spent as error:
        too_many(error)
        return back("password-heading")
    except LockerError as error:
        flash(error.message, "error")
        return back("password-heading")
    others = f"{ended} other device{'' if ended == 1 else 's'}"
    flash(f"Password changed. You were signed out on {others}; this one stays signed in and your API tokens "
          "keep working.", "info")
    return back("password-heading")


@bp.post("/account/sessions/<int:session_id>/end")
@login_required
def end_session(session_id):
    if devices.sign_out_device(current_user, session_id):
        logout_user()
        flash("You are logged out.", "info")
        return redirect(url_for("auth.login"))
    flash("That device was signed out.", "info")
    return back("sessions-heading")


@bp.post("/account/sessions/end-others")
@login_required
def end_other_sessions():
    ended = devices.sign_out_others(current_user, current_user.session_token)
    flash(f"Signed out on {ended} other device{'' if ended == 1 else 's'}." if ended
          else "No other device was signed in.", "info")
    return back("sessions-heading")


@bp.post("/account/delete")
@login_required
def delete_account():
    form = DeleteAccountForm(prefix="delete")
    if not form.validate_on_submit():
        flash(first_error(form), "error")
        return back("delete-heading")
    if users.normalize_username(form.confirm.data) != current_user.username:
        flash(f"Type your username, {current_user.username}, to confirm.", "error")
        return back("delete-heading")
    try:
        deletion.check_deletable(current_user)
        limits.confirm_identity(current_user, form.password.data, form.code.data or None, second_factor=True)
        outcome = deletion.delete_own(current_user._get_current_object())
    except limits.Spent as error:
        too_many(error)
        return back("delete-heading")
    except LockerError as error:
        flash(error.message, "error")
        return back("delete-heading")
    logout_user()
    flash("Your account and all your files were deleted." if outcome.finished else
          "Your account was deleted; the last of your files are removed from storage shortly.", "info")
    return redirect(url_for("auth.login"))
