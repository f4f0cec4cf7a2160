"""The browser side both kinds of public link share: the settings form, the password gate and its limits.

A link with a password shows a password page first; the right password lets
that browser through for SHARE_UNLOCK_MINUTES. Wrong passwords count against
the link and the address, whichever kind of link they were tried on.
"""
import time
from datetime import datetime, timedelta

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, PasswordField, SelectField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from app.auth.limits import failed, not_an_attempt
from app.errors import Unauthorized
from app.extensions import limiter
from app.security import hash_token
from app.services import links

UNLOCKED = "unlocked_links"


class LinkForm(FlaskForm):
    """When a link stops working and its password; each kind adds its own limits."""

    expires_in = SelectField("Link works for", default="7d", choices=[
        SelectChoice(value, label) for value, label in
        [("1h", "1 hour"), ("1d", "1 day"), ("7d", "7 days"), ("30d", "30 days"), ("", "no time limit")]])
    expires_on = DateField("Or until the end of (date)", validators=[Optional()])
    # Filled by the page's script with the viewer's offset from UTC, so a date means their day.
    utc_offset_minutes = HiddenField(default="0")
    password = PasswordField("Password (optional)", validators=[Optional(), Length(max=links.MAX_PASSWORD_LENGTH)],
                             render_kw={"autocomplete": "new-password"})

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


def unlocked(link):
    if link.password_hash is None:
        return True
    return session.get(UNLOCKED, {}).get(link.public_id, 0) > time.time()


def remember_unlock(link):
    """The browser that gave the password may use the link for a while without giving it again."""
    now = time.time()
    kept = {key: until for key, until in session.get(UNLOCKED, {}).items() if until > now}
    kept[link.public_id] = now + current_app.config["SHARE_UNLOCK_MINUTES"] * 60
    session[UNLOCKED] = kept


def require_unlocked(link):
    """For what a link's page calls: refused until this browser has given the link's password."""
    if not unlocked(link):
        raise Unauthorized("Enter the link's password first.", code="password_required")


def password_gate(link, template, **context):
    """None once this browser may use the link; otherwise the response to give: the password page, or
    after the right password a redirect back to the link's page (so a reload does not post it again)."""
    if unlocked(link):
        return None
    form = UnlockForm()
    if form.validate_on_submit():
        if links.password_matches(link, form.password.data):
            remember_unlock(link)
            return redirect(url_for(request.endpoint, **request.view_args))
        flash("That password is not right.", "error")
        return render_template(template, form=form, **context), 401
    return render_template(template, form=form, **context), 400 if form.errors else 200


def link_key():
    return "link:" + hash_token(request.view_args.get("token", ""))


per_link = limiter.shared_limit(lambda: current_app.config["SHARE_PASSWORD_LIMIT_PER_LINK"], scope="link-password",
                                key_func=link_key, deduct_when=failed, exempt_when=not_an_attempt)
per_address = limiter.shared_limit(lambda: current_app.config["SHARE_PASSWORD_LIMIT_PER_ADDRESS"],
                                   scope="link-password-address", deduct_when=failed, exempt_when=not_an_attempt)


def keep_links_private(response):
    """Link pages are for whoever has the link: never for search engines, caches or other sites' logs."""
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
