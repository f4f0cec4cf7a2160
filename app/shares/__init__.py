"""Share links in the browser: the owner's pages (create, list, change, revoke) and the public /s/<token> pages."""
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from wtforms import IntegerField, SubmitField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

from app.errors import LockerError
from app.links import LinkEditForm, LinkForm, keep_links_private, password_gate, require_unlocked
from app.models import utcnow
from app.services import files, previews, shares

bp = Blueprint("shares", __name__)


class ShareSettings(LinkForm):
    """What a share link has beside its expiry and password, the same when it is made and changed."""

    max_downloads = IntegerField("Most downloads (empty: no limit)",
                                 validators=[Optional(), NumberRange(1, shares.MAX_DOWNLOADS)])
    note = TextAreaField("Note for the recipient (optional)", validators=[Optional(), Length(max=shares.MAX_NOTE_LENGTH)])


class ShareForm(ShareSettings):
    submit = SubmitField("Create link")


class EditShareForm(LinkEditForm, ShareSettings):
    submit = SubmitField("Save changes")


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
            form.refuse(error)
            return render_template("shares/new.html", form=form, file=file), error.status
        return render_template("shares/created.html", share=share, url=url, file=file), 201
    return render_template("shares/new.html", form=form, file=file), 400 if form.errors else 200


@bp.get("/shares")
@login_required
def list_shares():
    return render_template("shares/list.html", shares=shares.list_shares(current_user), now=utcnow(),
                           link_url=shares.link_url)


@bp.route("/shares/<share_id>/edit", methods=["GET", "POST"])
@login_required
def edit_share(share_id):
    share = shares.editable_share(current_user, share_id)
    form = EditShareForm(obj=share)
    if form.validate_on_submit():
        try:
            _, changed = shares.update_share(current_user, share_id, **form.link_changes(),
                                             max_downloads=form.max_downloads.data, note=form.note.data or None)
        except LockerError as error:
            form.refuse(error)
            return render_edit_page(share, form), error.status
        flash(f"Link changed: {', '.join(changed)}." if changed else "Nothing to change: the link is as it was.",
              "info")
        return redirect(url_for("shares.list_shares"))
    return render_edit_page(share, form), 400 if form.errors else 200


def render_edit_page(share, form):
    return render_template("shares/edit.html", share=share, form=form, url=shares.link_url(share))


@bp.post("/shares/<share_id>/revoke")
@login_required
def revoke_share(share_id):
    shares.revoke_share(current_user, share_id)
    flash("Link turned off. Nobody can download through it any more.", "info")
    return redirect(url_for("shares.list_shares"))


@bp.route("/s/<token>", methods=["GET", "POST"])
def show_share(token):
    share, file = shares.open_share(token)
    gate = password_gate(share, "shares/password.html")
    if gate is not None:
        return gate
    return render_template("shares/public.html", share=share, file=file, token=token,
                           preview=previews.share_preview(share, file))


@bp.post("/s/<token>/download")
def download_share(token):
    share, _ = shares.open_share(token)
    require_unlocked(share)
    return redirect(shares.download_through_share(token), code=302)


bp.after_request(keep_links_private)
