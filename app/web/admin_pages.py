"""The admin area's pages (/admin/...): admins only. Each section adds its views to the web blueprint here
or in a module of its own, guarded by admin_required."""
from functools import wraps

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Optional

from app.errors import LockerError
from app.services import admin
from app.web import bp

# The admin area's sections, in the order its navigation shows them: (endpoint, label).
SECTIONS = []


def admin_required(view):
    """A signed-in admin, or 403 (signed-out visitors go to the login page first)."""

    @wraps(view)
    @login_required
    def guarded(*args, **kwargs):
        admin.require_admin(current_user)
        return view(*args, **kwargs)

    return guarded


def section(endpoint, label):
    """Name an admin page in the admin area's navigation."""
    SECTIONS.append((endpoint, label))


@bp.app_context_processor
def admin_navigation():
    return {"admin_sections": SECTIONS}


# --- Overview and Users: the admin area's own pages ----------------------------------------------------

class NewUserForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=32)],
                           render_kw={"autocomplete": "off", "spellcheck": "false"})
    password = PasswordField("Password", validators=[DataRequired()], render_kw={"autocomplete": "new-password"})
    email = EmailField("Email (optional)", validators=[Optional(), Length(max=admin.MAX_EMAIL_LENGTH)],
                       render_kw={"autocomplete": "off"})
    quota = StringField("Quota (optional)", validators=[Optional(), Length(max=40)],
                        description="Like 10 GiB or 500 MiB; 0 for no limit; empty for the default.")
    is_admin = BooleanField("Administrator")
    submit = SubmitField("Create user")


class QuotaForm(FlaskForm):
    quota = StringField("Quota", validators=[Length(max=40)],
                        description="Like 10 GiB or 500 MiB; 0 for no limit; empty for the default.")
    submit = SubmitField("Set quota")


class EmailForm(FlaskForm):
    email = EmailField("Email", validators=[Length(max=admin.MAX_EMAIL_LENGTH)], render_kw={"autocomplete": "off"})
    submit = SubmitField("Save email")


class ActionForm(FlaskForm):
    """A button that changes one thing (enable, disable, make or remove an admin): only CSRF to check."""


section("web.admin_overview", "Overview")
section("web.admin_users", "Users")


@bp.get("/admin")
@admin_required
def admin_overview():
    return render_template("admin/overview.html", overview=admin.overview())


def users_page(form, status=200):
    page = admin.list_users(request.args.get("q"), request.args.get("cursor") or None)
    return render_template("admin/users.html", page=page, form=form, q=request.args.get("q", "")), status


@bp.get("/admin/users")
@admin_required
def admin_users():
    return users_page(NewUserForm())


@bp.post("/admin/users")
@admin_required
def admin_create_user():
    form = NewUserForm()
    if not form.validate_on_submit():
        return users_page(form, 400)
    try:
        quota = admin.parse_quota(form.quota.data)
        user = admin.create_user(current_user, form.username.data, form.password.data, email=form.email.data,
                                 quota_bytes=quota, is_admin=form.is_admin.data)
    except LockerError as error:
        # Beside the field to change, with what was typed kept (the password is typed again).
        target = {"invalid_quota": form.quota, "invalid_email": form.email, "email_taken": form.email,
                  "weak_password": form.password}.get(error.code, form.username)
        target.errors = [*target.errors, error.message]
        return users_page(form, error.status)
    flash(f"Created {'administrator ' if user.is_admin else ''}{user.username}.", "info")
    return redirect(url_for("web.admin_user", user_id=user.id))


@bp.get("/admin/users/<int:user_id>")
@admin_required
def admin_user(user_id):
    user = admin.find_user(user_id)
    quota_form = QuotaForm(quota=quota_text(user.quota_bytes))
    email_form = EmailForm(email=user.email)
    return render_template("admin/user.html", user=user, row=admin.user_details(user), quota_form=quota_form,
                           email_form=email_form, action_form=ActionForm())


def quota_text(quota_bytes):
    """The quota as the form shows it: exact (1 GiB, not 1.0 GiB) so saving it unchanged changes nothing."""
    if quota_bytes is None:
        return ""
    for unit, size in (("TiB", 1024 ** 4), ("GiB", 1024 ** 3), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if quota_bytes and quota_bytes % size == 0:
            return f"{quota_bytes // size} {unit}"
    return str(quota_bytes)


def change(user_id, form_class, apply, done):
    """Post one change of the user page: check the form, apply it, flash what happened (or why not), and back."""
    user = admin.find_user(user_id)
    form = form_class()
    if not form.validate_on_submit():
        flash(next(iter(form.errors.values()), ["The form expired; try again."])[0], "error")
    else:
        try:
            apply(user, form)
        except LockerError as error:
            flash(error.message, "error")
        else:
            flash(done(user), "info")
            if not current_user.is_admin:
                # The admin took their own rights away: the admin area is closed to them now.
                return redirect(url_for("web.list_files"))
    return redirect(url_for("web.admin_user", user_id=user.id))


@bp.post("/admin/users/<int:user_id>/quota")
@admin_required
def admin_set_quota(user_id):
    def done(user):
        return (f"{user.username} now has the default quota." if user.quota_bytes is None else
                f"{user.username} now has a quota of {admin.quota_words(user.quota_bytes)}.")

    return change(user_id, QuotaForm,
                  lambda user, form: admin.set_quota(current_user, user, admin.parse_quota(form.quota.data)), done)


@bp.post("/admin/users/<int:user_id>/email")
@admin_required
def admin_set_email(user_id):
    return change(user_id, EmailForm, lambda user, form: admin.set_email(current_user, user, form.email.data),
                  lambda user: f"Saved {user.username}'s email address." if user.email else
                  f"Removed {user.username}'s email address.")


@bp.post("/admin/users/<int:user_id>/disable")
@admin_required
def admin_disable_user(user_id):
    return change(user_id, ActionForm, lambda user, form: admin.set_active(current_user, user, False),
                  lambda user: f"Disabled {user.username}: their sessions ended, and their tokens and links "
                               "stop working until the account is enabled again.")


@bp.post("/admin/users/<int:user_id>/enable")
@admin_required
def admin_enable_user(user_id):
    return change(user_id, ActionForm, lambda user, form: admin.set_active(current_user, user, True),
                  lambda user: f"Enabled {user.username}.")


@bp.post("/admin/users/<int:user_id>/make-admin")
@admin_required
def admin_grant_admin(user_id):
    return change(user_id, ActionForm, lambda user, form: admin.set_admin(current_user, user, True),
                  lambda user: f"{user.username} is now an administrator.")


@bp.post("/admin/users/<int:user_id>/remove-admin")
@admin_required
def admin_revoke_admin(user_id):
    return change(user_id, ActionForm, lambda user, form: admin.set_admin(current_user, user, False),
                  lambda user: f"{user.username} is no longer an administrator.")
