"""Admin pages: /admin/invitations (make, list, copy, revoke invitation links) and the password reset
link an admin makes for a user (/admin/users/<id>/reset-password, its form in admin/_user_reset.html)."""
from flask import flash, redirect, render_template, request, session, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, ValidationError

from app.errors import LockerError
from app.models import utcnow
from app.services import admin, invitations, password_resets
from app.web import bp
from app.web.admin_pages import admin_required, section
from config import parse_size

NEW_INVITATION = "new_invitation"
NEW_RESET = "new_reset_link"


class InvitationForm(FlaskForm):
    expires_in = SelectField("Link works for", default=invitations.DEFAULT_EXPIRY, choices=[
        SelectChoice(value, label) for value, label in
        [("1d", "1 day"), ("3d", "3 days"), ("7d", "7 days"), ("14d", "14 days"), ("30d", "30 days")]])
    quota = StringField("Storage quota (optional, e.g. 10 GiB; 0 for no limit)", validators=[Optional(), Length(max=32)],
                        render_kw={"autocomplete": "off", "spellcheck": "false"})
    is_admin = BooleanField("Make the account an administrator")
    email = StringField("Email address (optional)", validators=[Optional(), Length(max=254)],
                        render_kw={"autocomplete": "off", "type": "email", "spellcheck": "false"})
    note = StringField("Note (optional, for you and in the email)",
                       validators=[Optional(), Length(max=invitations.MAX_NOTE_LENGTH)], render_kw={"autocomplete": "off"})
    submit = SubmitField("Make invitation")

    def validate_quota(self, field):
        try:
            self.quota_bytes()
        except ValueError:
            raise ValidationError("Write a size such as 500 MiB, 10 GiB or 0 (no limit).") from None

    def quota_bytes(self):
        """The quota typed, in bytes; None when left empty (the default quota applies)."""
        text = (self.quota.data or "").strip()
        return parse_size(text) if text else None


class ResetForm(FlaskForm):
    """Only its CSRF token: the button is in admin/_user_reset.html, on whichever page includes it."""


section("web.admin_invitations", "Invitations")


@bp.route("/admin/invitations", methods=["GET", "POST"])
@admin_required
def admin_invitations():
    form, status = InvitationForm(), 200
    if form.validate_on_submit():
        try:
            invitation, _, emailed = invitations.create(
                current_user, expires_in=form.expires_in.data, quota_bytes=form.quota_bytes(),
                is_admin=form.is_admin.data, email=form.email.data, note=form.note.data)
        except LockerError as error:
            field = {"invalid_email": form.email, "invalid_note": form.note, "invalid_quota": form.quota,
                     "invalid_expiry": form.expires_in}.get(error.code)
            if field is None:
                flash(error.message, "error")
            else:
                field.errors = [*field.errors, error.message]
            status = error.status
        else:
            # Post/Redirect/Get: a reload must not make a second invitation. The page lists its link.
            session[NEW_INVITATION] = invitation.public_id
            flash(f"Invitation made and emailed to {invitation.email}." if emailed else
                  "Invitation made. Copy its link below and send it to the person you invite" +
                  (" (mail is not configured, so it was not emailed)." if invitation.email else "."), "info")
            return redirect(url_for("web.admin_invitations"))
    elif form.errors:
        status = 400
    new_id = session.pop(NEW_INVITATION, None) if request.method == "GET" else None
    return render_template("admin/invitations.html", form=form, invitations=invitations.list_invitations(
        current_user), state_of=invitations.state, link_url=invitations.link_url, new_id=new_id,
        now=utcnow()), status


@bp.post("/admin/invitations/<invitation_id>/revoke")
@admin_required
def revoke_invitation(invitation_id):
    try:
        invitations.revoke(current_user, invitation_id)
    except LockerError as error:
        if error.code != "invitation_used":
            raise
        flash(error.message, "error")
    else:
        flash("Invitation withdrawn: its link no longer works.", "info")
    return redirect(url_for("web.admin_invitations"))


@bp.route("/admin/users/<int:user_id>/reset-password", methods=["GET", "POST"])
@admin_required
def admin_reset_password(user_id):
    """POST (the form in admin/_user_reset.html) makes the link; the GET after it shows it once."""
    user = admin.find_user(user_id)
    form = ResetForm()
    if form.validate_on_submit():
        _, url, emailed = password_resets.create_for_user(current_user, user_id)
        # Shown once, on the page this redirects to: the link rides in the admin's own session, not a URL.
        session[NEW_RESET] = {"user_id": user.id, "url": url, "emailed": emailed}
        return redirect(url_for("web.admin_reset_password", user_id=user.id))
    made = session.get(NEW_RESET) if request.method == "GET" else None
    if made and made.get("user_id") == user.id:
        session.pop(NEW_RESET)
    else:
        made = None
    return render_template("admin/reset_password.html", user=user, made=made, form=form,
                           reset_lifetime=password_resets.human_lifetime()), 400 if form.errors else 200
