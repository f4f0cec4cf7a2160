"""Share links in the browser: the owner's pages (create, list, revoke) and the public /s/<token> pages."""
import time
from datetime import datetime, timedelta

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, PasswordField, SelectField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.auth.limits import failed, not_an_attempt
from app.errors import LockerError, Unauthorized
from app.extensions import limiter
from app.models import utcnow
from app.security import hash_token
from app.services import files, previews, shares

bp = Blueprint("shares", __name__)
UNLOCKED = "unlocked_shares"


class ShareForm(FlaskForm):
    expires_in = SelectField("Link works for", default="7d", choices=[
        SelectChoice(value, label) for value, label in
        [("1h", "1 hour"), ("1d", "1 day"), ("7d", "7 days"), ("30d", "30 days"), ("", "no time limit")]])
    expires_on = DateField("Or until the end of (date)", validators=[Optional()])
    # Filled by the page's script with the viewer's offset from UTC, so a date means their day.
    utc_offset_minutes = HiddenField(default="0")
    max_downloads = IntegerField("Most downloads (empty: no limit)", validators=[Optional(), NumberRange(1, 1_000_000)])
    password = PasswordField("Password (optional)", validators=[Optional(), Length(max=200)],
                             render_kw={"autocomplete": "new-password"})
    note = TextAreaField("Note for the recipient (optional)", validators=[Optional(), Length(max=1000)])
    submit = SubmitField("Create link")

    def expiry(self):
        """(expires_at, expires_in) for the service: a chosen date wins over the duration."""
        if self.expires_on.data:
            try:
                offset = int(self.utc_offset_minutes.data or 0)
            except ValueError:
                offset = 0
            end_of_day = datetime.combine(self.expires_on.data, datetime.max.time()).replace(microsecond=0)
            return end_of_day + timedelta(minutes=offset), None
        return None, self.expires_in.data or None


class UnlockForm(FlaskForm):
    password = PasswordField("Password", validators=[DataRequired()], render_kw={"autocomplete": "off"})
    submit = SubmitField("Unlock")


@bp.route("/files/<file_id>/share", methods=["GET", "POST"])
@login_required
def create_share(file_id):
    file = files.get_file(current_user, file_id)
    form = ShareForm()
    if form.validate_on_submit():
        expires_at, expires_in = form.expiry()
        try:
            share, url = shares.create_share(current_user, file_id, expires_at=expires_at, expires_in=expires_in,
                                             password=form.password.data or None,
                                             max_downloads=form.max_downloads.data, note=form.note.data or None)
        except LockerError as error:
            flash(error.message, "error")
            return render_template("shares/new.html", form=form, file=file), error.status
        return render_template("shares/created.html", share=share, url=url, file=file), 201
    return render_template("shares/new.html", form=form, file=file), 400 if form.errors else 200


@bp.get("/shares")
@login_required
def list_shares():
    return render_template("shares/list.html", shares=shares.list_shares(current_user), now=utcnow())


@bp.post("/shares/<share_id>/revoke")
@login_required
def revoke_share(share_id):
    shares.revoke_share(current_user, share_id)
    flash("Link turned off. Nobody can download through it any more.", "info")
    return redirect(url_for("shares.list_shares"))


def unlocked(share):
    if share.password_hash is None:
        return True
    return session.get(UNLOCKED, {}).get(share.public_id, 0) > time.time()


def remember_unlock(share):
    """The browser that gave the password may download for a while without giving it again."""
    now = time.time()
    kept = {key: until for key, until in session.get(UNLOCKED, {}).items() if until > now}
    kept[share.public_id] = now + current_app.config["SHARE_UNLOCK_MINUTES"] * 60
    session[UNLOCKED] = kept


def link_key():
    return "share:" + hash_token(request.view_args.get("token", ""))


per_link = limiter.shared_limit(lambda: current_app.config["SHARE_PASSWORD_LIMIT_PER_LINK"], scope="share-password-link",
                                key_func=link_key, deduct_when=failed, exempt_when=not_an_attempt)
per_address = limiter.shared_limit(lambda: current_app.config["SHARE_PASSWORD_LIMIT_PER_ADDRESS"],
                                   scope="share-password-address", deduct_when=failed, exempt_when=not_an_attempt)


@bp.route("/s/<token>", methods=["GET", "POST"])
@per_link
@per_address
def show_share(token):
    share, file = shares.open_share(token)
    if not unlocked(share):
        form = UnlockForm()
        if form.validate_on_submit():
            if shares.password_matches(share, form.password.data):
                remember_unlock(share)
                return redirect(url_for("shares.show_share", token=token))
            flash("That password is not right.", "error")
            return render_template("shares/password.html", form=form, file=file), 401
        return render_template("shares/password.html", form=form, file=file), 400 if form.errors else 200
    return render_template("shares/public.html", share=share, file=file, token=token,
                           preview=previews.share_preview(share, file))


@bp.post("/s/<token>/download")
def download_share(token):
    share, _ = shares.open_share(token)
    if not unlocked(share):
        raise Unauthorized("Enter the link's password first.", code="password_required")
    return redirect(shares.download_through_share(token), code=302)


@bp.after_request
def keep_links_private(response):
    # Share pages are for whoever has the link, never for search engines or caches.
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
