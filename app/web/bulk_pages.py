"""Many files and folders at once, from the checkboxes of the files page and of the trash page.

The pages' checkboxes (name="file" and name="folder", the items' public ids) belong to one form whose submit
buttons name the action; these views call the services, which change all of the chosen items or none. A refusal
(a name taken in the target, a folder moved into itself, nothing chosen) is flashed and changes nothing; an id
that is not one of the user's items is a 404, as on the one-item pages. static/bulk.js adds range selection, the
count and the zip download; without it, everything here works the same.
"""
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import RadioField, SubmitField
from wtforms.validators import DataRequired

from app.auth.routes import safe_next
from app.errors import Conflict, InvalidInput
from app.extensions import db
from app.models import Folder
from app.services import files, folders, trash
from app.shares import share_form_page
from app.web import bp

FILES_ACTIONS = ("move", "trash", "visible", "private", "share")
TRASH_ACTIONS = ("restore", "purge")


class BulkMoveForm(FlaskForm):
    to = RadioField("Move to", validators=[DataRequired("Choose a folder.")], validate_choice=False)
    submit = SubmitField("Move here")


class ConfirmForm(FlaskForm):
    """Only the CSRF token (CSRFProtect checks every POST; this names the confirming one)."""


def selection():
    """The chosen ids, each once, in the order given: (file ids, folder ids)."""
    values = request.values
    return (list(dict.fromkeys(v for v in values.getlist("file") if v)),
            list(dict.fromkeys(v for v in values.getlist("folder") if v)))


def count_words(file_ids, folder_ids):
    """'2 files and 1 folder', '3 files', '1 folder'."""
    parts = [f"{count:,} {kind}{'s' if count != 1 else ''}"
             for count, kind in ((len(file_ids), "file"), (len(folder_ids), "folder")) if count]
    return " and ".join(parts) or "nothing"


def selection_args(file_ids, folder_ids):
    return {"file": file_ids, "folder": folder_ids}


def refused(message, back):
    flash(message, "error")
    return redirect(back)


@bp.post("/files/bulk")
@login_required
def bulk_files():
    """The files page's toolbar: each button names its action; the checked rows are the selection."""
    action = request.form.get("action")
    if action not in FILES_ACTIONS:
        abort(400)
    back = safe_next(request.form.get("next") or url_for("web.list_files"))
    file_ids, folder_ids = selection()
    if not file_ids and not folder_ids:
        return refused("Choose at least one file or folder first: tick its checkbox.", back)
    if action == "move":
        return redirect(url_for("web.bulk_move", **selection_args(file_ids, folder_ids), next=back))
    if action in ("visible", "private", "share") and folder_ids:
        what = "made visible to everyone" if action == "visible" else "made private" if action == "private" \
            else "shared as one link"
        return refused(f"Only files can be {what}: untick the folders first. Nothing was changed.", back)
    if action == "share":
        return redirect(url_for("web.bulk_share", file=file_ids, next=back))
    try:
        if action == "trash":
            trash.trash(current_user, file_ids=file_ids, folder_ids=folder_ids)
            flash(f"Moved {count_words(file_ids, folder_ids)} to the trash.", "info")
        else:
            visible = action == "visible"
            changed = files.set_visibility_of(current_user, file_ids, visible)
            flash(f"{count_words(file_ids, [])} now {'visible to everyone' if visible else 'private'}"
                  f" ({changed:,} changed).", "info")
    except (InvalidInput, Conflict) as refusal:
        return refused(refusal.message, back)
    return redirect(back)


def chosen_items(file_ids, folder_ids):
    """The user's chosen files and folders (a 404 for any other id), for naming them on a page."""
    return ([files.get_file(current_user, public_id) for public_id in file_ids],
            [real_folder(public_id) for public_id in folder_ids])


def real_folder(public_id):
    folder = folders.get_folder(current_user, public_id)
    if folder.is_root:
        abort(404)
    return folder


@bp.route("/files/bulk/move", methods=["GET", "POST"])
@login_required
def bulk_move():
    """Choose one folder for the whole selection; a move the service refuses is flashed and moves nothing."""
    file_ids, folder_ids = selection()
    if not file_ids and not folder_ids:
        return refused("Choose at least one file or folder first: tick its checkbox.", url_for("web.list_files"))
    chosen_files, chosen_folders = chosen_items(file_ids, folder_ids)
    first = (chosen_files or chosen_folders)[0]
    current = first.folder if chosen_files else first.parent
    back = safe_next(request.values.get("next") or url_for("web.list_files", folder=None if current.is_root else
                                                           current.public_id))
    # Where none of the chosen folders could go: not into one of them, nor below one.
    below = set()
    for folder in chosen_folders:
        below.update(db.session.execute(db.select(Folder.id).filter(Folder.id.in_(folders.subtree_ids(folder.id))))
                     .scalars())
    choices = [(folder, path) for folder, path in folders.folder_choices(current_user) if folder.id not in below]
    form = BulkMoveForm(to=current.public_id)
    if form.validate_on_submit():
        try:
            target = folders.move(current_user, form.to.data, file_ids=file_ids, folder_ids=folder_ids)
        except (InvalidInput, Conflict) as refusal:
            return refused(refusal.message, url_for("web.bulk_move", **selection_args(file_ids, folder_ids),
                                                    next=back))
        flash(f"Moved {count_words(file_ids, folder_ids)} to {folders.path_of(target) or 'Your files'}.", "info")
        return redirect(back)
    for errors in form.errors.values():
        for error in errors:
            flash(error, "error")
    return render_template("files/bulk_move.html", form=form, choices=choices, current=current, back=back,
                           files=chosen_files, folders=chosen_folders,
                           what=count_words(file_ids, folder_ids)), 400 if form.errors else 200


@bp.route("/files/bulk/share", methods=["GET", "POST"])
@login_required
def bulk_share():
    """A link to the selected files: the usual link form, then the new link."""
    file_ids, folder_ids = selection()
    if folder_ids:
        return refused("Only files can be shared as one link: untick the folders first.", url_for("web.list_files"))
    if not file_ids:
        return refused("Choose at least one file first: tick its checkbox.", url_for("web.list_files"))
    chosen = [files.get_file(current_user, public_id) for public_id in file_ids]
    back = safe_next(request.values.get("next") or url_for("web.list_files"))
    return share_form_page(dict(file_ids=file_ids), selection=chosen, name=count_words(file_ids, []), back=back)


@bp.post("/trash/bulk")
@login_required
def bulk_trash():
    """The trash page's "Restore selected" and "Delete forever selected" (which asks first)."""
    action = request.form.get("action")
    if action not in TRASH_ACTIONS:
        abort(400)
    file_ids, folder_ids = selection()
    back = url_for("web.list_trash")
    if not file_ids and not folder_ids:
        return refused("Choose at least one item of the trash first: tick its checkbox.", back)
    if action == "purge":
        return redirect(url_for("web.bulk_purge", **selection_args(file_ids, folder_ids)))
    try:
        trash.restore(current_user, file_ids=file_ids, folder_ids=folder_ids)
    except (InvalidInput, Conflict) as refusal:
        return refused(refusal.message, back)
    flash(f"Restored {count_words(file_ids, folder_ids)} to where they were deleted from.", "info")
    return redirect(back)


@bp.route("/trash/bulk/purge", methods=["GET", "POST"])
@login_required
def bulk_purge():
    """Deleting many trash items for good asks here first, naming them."""
    file_ids, folder_ids = selection()
    back = url_for("web.list_trash")
    if not file_ids and not folder_ids:
        return refused("Choose at least one item of the trash first: tick its checkbox.", back)
    # Each id must be in the user's trash (a 404 in the service's words otherwise).
    for public_id in file_ids:
        trash.trashed_file(current_user, public_id)
    for public_id in folder_ids:
        trash.trashed_folder(current_user, public_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        trash.purge(current_user, file_ids=file_ids, folder_ids=folder_ids)
        flash(f"Deleted {count_words(file_ids, folder_ids)} for good.", "info")
        return redirect(back)
    wanted = {("file", public_id) for public_id in file_ids} | {("folder", public_id) for public_id in folder_ids}
    items = [row for row in trash.items(current_user) if (row.kind, row.public_id) in wanted]
    return render_template("trash/purge_selected.html", items=items, file_ids=file_ids, folder_ids=folder_ids,
                           what=count_words(file_ids, folder_ids))
