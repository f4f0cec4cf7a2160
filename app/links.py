"""The browser side both kinds of public link share: the settings form, the password gate and its limits.

A link with a password shows a password page first; the right password lets
that browser through for SHARE_UNLOCK_MINUTES. Wrong passwords count against
the address on that link, the address over all links, and the link itself,
whichever kind of link they were tried on.
"""
import re
import time

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, PasswordField, SelectField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from app.auth import limits
from app.errors import Unauthorized
from app.security import hash_token
from app.services import links

UNLOCKED = "unlocked_links"
KEEP = "keep"
# Refusals of the services written for the API, in a form's words.
PLAIN_WORDS = {links.ExpiryInPast: "Choose a date in the future."}


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
    # The field a service's error code is about, where its name is not the code's (invalid_<field>).
    fields_of_codes = {}

    def validate_expires_on(self, field):
        if field.data and self.utc_offset() is None:
            raise ValidationError("Your time zone could not be read; reload the page and choose the date again.")

    def utc_offset(self):
        """The page's offset from UTC in minutes (positive west of UTC, as the script's getTimezoneOffset
        gives), or None when it is not a real one: zones lie within 14 hours of UTC."""
        text = (self.utc_offset_minutes.data or "0").strip()
        if not re.fullmatch(r"[+-]?\d{1,4}", text) or abs(int(text)) > 14 * 60:
            return None
        return int(text)

    def expiry(self):
        """(expires_at, expires_in) for the service: a chosen date wins over the duration.

        The date goes on as the end of that day in the viewer's zone, an ISO string that the service
        bounds like one from the API (no arithmetic here that a far date could overflow).
        """
        if self.expires_on.data:
            east = -self.utc_offset()
            zone = f"{'-' if east < 0 else '+'}{abs(east) // 60:02d}:{abs(east) % 60:02d}"
            return f"{self.expires_on.data.isoformat()}T23:59:59{zone}", None
        return None, self.expires_in.data or None

    def refuse(self, error):
        """Show a service's refusal beside the field it is about (in plain words), else as a flashed message."""
        name = {"invalid_expiry": "expires_on" if self.expires_on.data else "expires_in", **self.fields_of_codes}.get(
            error.code, error.code.removeprefix("invalid_"))
        field = self._fields.get(name)
        if field is None:
            flash(error.message, "error")
            return
        field.errors = [*field.errors, PLAIN_WORDS.get(type(error), error.message)]


class LinkEditForm(LinkForm):
    """A link's new settings: what is left as it is stays so."""

    remove_password = BooleanField("Remove the password (anyone with the link can open it)")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, expires_in=KEEP, **kwargs)
        self.expires_in.choices = [SelectChoice(KEEP, "as it is now (see above)"), *self.expires_in.choices]
        self.password.label.text = "New password (empty: keep the current one)"

    def validate_remove_password(self, field):
        if field.data and self.password.data:
            raise ValidationError("Set a new password or remove it, not both.")

    def link_changes(self):
        """The expiry and password changes for the service: only what the owner touched."""
        changes = {}
        if self.expires_on.data or self.expires_in.data != KEEP:
            changes["expires_at"], changes["expires_in"] = self.expiry()
        if self.remove_password.data:
            changes["password"] = None
        elif self.password.data:
            changes["password"] = self.password.data
        return changes


class UnlockForm(FlaskForm):
    password = PasswordField("Password", validators=[DataRequired()], render_kw={"autocomplete": "off"})
    submit = SubmitField("Unlock")


def unlocked(link):
    if link.password_hash is None:
        return True
    return session.get(UNLOCKED, {}).get(unlock_key(link), 0) > time.time()


def unlock_key(link):
    # Names the password too, so when the owner sets a new one every browser must give it.
    return f"{link.public_id}:{hash_token(link.password_hash)[:16]}"


def remember_unlock(link):
    """The browser that gave the password may use the link for a while without giving it again."""
    now = time.time()
    kept = {key: until for key, until in session.get(UNLOCKED, {}).items() if until > now}
    kept[unlock_key(link)] = now + current_app.config["SHARE_UNLOCK_MINUTES"] * 60
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
        if limits.guess(password_budgets(link), lambda: links.password_matches(link, form.password.data)):
            remember_unlock(link)
            return redirect(url_for(request.endpoint, **request.view_args))
        flash("That password is not right.", "error")
        return render_template(template, form=form, **context), 401
    return render_template(template, form=form, **context), 400 if form.errors else 200


def password_budgets(link):
    """Guesses at a link's password. Each address has a small budget on the link (and one over all links),
    so one address cannot lock out the recipient; the link's own ceiling is far above what people type
    and only stops guessing spread over many addresses."""
    address = limits.address()
    return (limits.Budget("SHARE_PASSWORD_LIMIT_PER_ADDRESS_AND_LINK", "link-password-address-link",
                          f"{link.__tablename__}:{link.public_id}:{address}"),
            limits.Budget("SHARE_PASSWORD_LIMIT_PER_ADDRESS", "link-password-address", address),
            limits.Budget("SHARE_PASSWORD_LIMIT_PER_LINK", "link-password", f"{link.__tablename__}:{link.public_id}"))


def keep_links_private(response):
    """Link pages are for whoever has the link: never for search engines or caches.

    Other sites' logs never see a link either: every page's Referrer-Policy, same-origin, sends the
    Referer to Locker alone. Not no-referrer: over https Locker refuses a form sent without a Referer
    from its own site (Flask-WTF's strict check), and these pages' forms (unlock, download, create
    or edit a link) would all fail."""
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response
