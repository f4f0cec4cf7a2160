"""The trash page: what was deleted, restoring it, and deleting it for good (which asks first)."""
from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.formatting import wait_in_words
from app.services import folders, trash
from app.web import bp

KINDS = ("file", "folder")


def retention_words(seconds):
    """TRASH_RETENTION as people say it: '30 days', or for less than a day '2 hours'."""
    if seconds >= 86400:
        days = round(seconds / 86400)
        return f"{days} day" + ("s" if days != 1 else "")
    return wait_in_words(seconds)


@bp.get("/trash")
@login_required
def list_trash():
    return render_template("trash/list.html", items=trash.items(current_user), held=trash.held_bytes(current_user),
                           retention=retention_words(current_app.config["TRASH_RETENTION"]))


def chosen(kind, item_id):
    """The service's keyword arguments for one trash item."""
    if kind not in KINDS:
        abort(404)
    return {"file_ids": [item_id]} if kind == "file" else {"folder_ids": [item_id]}


def trash_item(kind, item_id):
    """One item of the user's trash, or 404."""
    chosen(kind, item_id)
    return trash.trashed_file(current_user, item_id) if kind == "file" else trash.trashed_folder(current_user, item_id)


@bp.post("/trash/<kind>/<item_id>/restore")
@login_required
def restore_item(kind, item_id):
    item = trash_item(kind, item_id)
    name = item.name
    target, = trash.restore(current_user, **chosen(kind, item_id))
    # A name taken there meanwhile was numbered (the service reloads the row: item.name is the new one).
    renamed = f" as {item.name}" if item.name != name else ""
    flash(f"Restored {name} to {folders.path_of(target) or 'Your files'}{renamed}.", "info")
    return redirect(url_for("web.list_trash"))


@bp.get("/trash/<kind>/<item_id>/purge")
@login_required
def confirm_purge(kind, item_id):
    """Without JavaScript as with it, deleting for good asks here first."""
    item = next((row for row in trash.items(current_user) if row.kind == kind and row.public_id == item_id), None)
    if item is None:
        trash_item(kind, item_id)  # a 404 in the service's words
        abort(404)
    return render_template("trash/purge.html", item=item)


@bp.post("/trash/<kind>/<item_id>/purge")
@login_required
def purge_item(kind, item_id):
    name = trash_item(kind, item_id).name
    trash.purge(current_user, **chosen(kind, item_id))
    flash(f"Deleted {name} for good.", "info")
    return redirect(url_for("web.list_trash"))


@bp.get("/trash/empty")
@login_required
def confirm_empty_trash():
    return render_template("trash/empty.html", items=trash.items(current_user), held=trash.held_bytes(current_user))


@bp.post("/trash/empty")
@login_required
def empty_trash():
    count = trash.empty(current_user)
    flash(f"Emptied the trash: {count:,} item{'s' if count != 1 else ''} deleted for good." if count else
          "The trash was already empty.", "info")
    return redirect(url_for("web.list_trash"))

