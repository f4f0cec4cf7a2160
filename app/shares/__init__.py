"""Share links in the browser: the owner's pages (create, list, change, revoke) and the public /s/<token> pages."""
from flask import Blueprint, flash, jsonify, redirect, render_template, url_for
from flask_login import current_user, login_required
from wtforms import IntegerField, SubmitField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

from app.errors import LockerError
from app.links import LinkEditForm, LinkForm, keep_links_private, password_gate, require_unlocked
from app.models import utcnow
from app.services import files, folders, previews, shares

# A folder or selection link's page shows at most this many previews (each is a signed URL, a text one a read).
MAX_PREVIEWS = 20

bp = Blueprint("shares", __name__)
bp.add_app_template_global(shares.describe, "link_target")


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
    return share_form_page(dict(file_id=file_id), file=file, name=file.name)


@bp.route("/folders/<folder_id>/share", methods=["GET", "POST"])
@login_required
def create_folder_share(folder_id):
    folder = folders.get_folder(current_user, folder_id)
    return share_form_page(dict(folder_id=folder.public_id), folder=folder, name=folder.name or "all your files")


def share_form_page(target, **context):
    """The form that makes a link (to a file or a folder), and the page that shows the new link."""
    form = ShareForm()
    if form.validate_on_submit():
        expires_at, expires_in = form.expiry()
        try:
            share, url = shares.create_share(current_user, **target, expires_at=expires_at, expires_in=expires_in,
                                             password=form.password.data or None,
                                             max_downloads=form.max_downloads.data, note=form.note.data or None)
        except LockerError as error:
            form.refuse(error)
            return render_template("shares/new.html", form=form, **context), error.status
        return render_template("shares/created.html", share=share, url=url, **context), 201
    return render_template("shares/new.html", form=form, **context), 400 if form.errors else 200


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
    if file is not None:
        return render_template("shares/public.html", share=share, file=file, token=token,
                               preview=previews.share_preview(share, file))
    entries = shares.link_entries(share)
    shown = {}
    for entry in entries:
        if len(shown) >= MAX_PREVIEWS:
            break
        if previews.preview_kind(entry.file) and not entry.file.problem:
            shown[entry.file.id] = previews.share_preview(share, entry.file)
    return render_template("shares/public_many.html", share=share, token=token, entries=entries, previews=shown,
                           title=share.folder.name if share.kind == "folder" and share.folder.name else "Shared files",
                           total=sum(entry.file.size for entry in entries), zip_name=shares.zip_name_of(share))


@bp.post("/s/<token>/download")
def download_share(token):
    share, _ = shares.open_share(token)
    require_unlocked(share)
    return redirect(shares.download_through_share(token), code=302)


@bp.post("/s/<token>/files/<file_id>/download")
def download_share_file(token, file_id):
    """One file of a folder or selection link, counted as one download."""
    share, _ = shares.open_share(token)
    require_unlocked(share)
    return redirect(shares.download_through_share(token, file_id), code=302)


@bp.post("/s/<token>/zip-list")
def share_zip_list(token):
    """The link's files with a signed URL each, for the page's script to zip (counted as one download).

    The page sends its CSRF token (X-CSRFToken) and the session that gave the password, as its forms do.
    """
    share, _ = shares.open_share(token)
    require_unlocked(share)
    name, entries = shares.zip_list(token)
    response = jsonify({"name": name, "files": entries})
    response.headers["Cache-Control"] = "no-store"
    return response


bp.after_request(keep_links_private)
