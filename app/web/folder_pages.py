"""The browser's folder pages: a new folder, renaming one, moving a file or a folder, deleting a folder."""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import HiddenField, RadioField, StringField, SubmitField
from wtforms.validators import DataRequired

from app.auth.routes import safe_next
from app.errors import Conflict, InvalidInput, NotFound
from app.services import files, folders, trash
from app.web import bp, folder_page


class NewFolderForm(FlaskForm):
    # The service checks the name, by the rules file names follow; this only makes sure one was given.
    name = StringField("New folder", validators=[DataRequired("Give the folder a name.")],
                       render_kw={"autocomplete": "off", "spellcheck": "false"})
    parent = HiddenField()
    submit = SubmitField("Create folder")


class FolderRenameForm(FlaskForm):
    name = StringField("New name", validators=[DataRequired("Give the folder a name.")],
                       render_kw={"autocomplete": "off", "spellcheck": "false", "autofocus": True})
    submit = SubmitField("Rename")


class MoveForm(FlaskForm):
    # Choices are the owner's folders; the service says why a move can't be done.
    to = RadioField("Move to", validators=[DataRequired("Choose a folder.")], validate_choice=False)
    submit = SubmitField("Move here")


@bp.post("/folders")
@login_required
def create_folder():
    """The files page's "New folder" form: a refusal is flashed and nothing is made."""
    form = NewFolderForm()
    parent = folders.get_folder(current_user, form.parent.data or None)
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(folder_page(parent))
    try:
        folder = folders.create_folder(current_user, form.name.data, None if parent.is_root else parent.public_id)
    except (InvalidInput, Conflict) as refusal:
        flash(refusal.message, "error")
    else:
        flash(f"Made the folder {folder.name}.", "info")
    return redirect(folder_page(parent))


@bp.route("/folders/<folder_id>/rename", methods=["GET", "POST"])
@login_required
def rename_folder(folder_id):
    folder = real_folder(folder_id)
    form, status = FolderRenameForm(name=folder.name), 200
    back = safe_next(request.values.get("next") or folder_page(folder.parent))
    if form.validate_on_submit():
        old_name = folder.name
        try:
            folder = folders.rename_folder(current_user, folder_id, form.name.data)
        except (InvalidInput, Conflict) as refusal:
            form.name.errors.append(refusal.message)
            status = refusal.status
        else:
            flash(f"Renamed {old_name} to {folder.name}." if folder.name != old_name else
                  f"{folder.name} kept its name.", "info")
            return redirect(back)
    elif form.errors:
        status = 400
    return render_template("folders/rename.html", folder=folder, form=form, back=back), status


@bp.route("/files/<file_id>/move", methods=["GET", "POST"])
@login_required
def move_file(file_id):
    file = files.get_file(current_user, file_id)
    return move_page(file, file.folder, folders.folder_choices(current_user), file_ids=[file_id])


@bp.route("/folders/<folder_id>/move", methods=["GET", "POST"])
@login_required
def move_folder(folder_id):
    folder = real_folder(folder_id)
    return move_page(folder, folder.parent, folders.folder_choices(current_user, leaving_out=folder),
                     folder_ids=[folder_id])


def move_page(item, current, choices, file_ids=(), folder_ids=()):
    """Choose one of the owner's folders for `item`; a move the service refuses is flashed and changes nothing."""
    form = MoveForm(to=current.public_id)
    form.to.choices = [(folder.public_id, path) for folder, path in choices]
    back = safe_next(request.values.get("next") or folder_page(current))
    if form.validate_on_submit():
        try:
            target = folders.move(current_user, form.to.data, file_ids=file_ids, folder_ids=folder_ids)
        except (InvalidInput, Conflict) as refusal:
            flash(refusal.message, "error")
            return redirect(url_for(request.endpoint, **request.view_args, next=back))
        flash(f"Moved {item.name} to {folders.path_of(target) or 'Your files'}.", "info")
        return redirect(back)
    for errors in form.errors.values():
        for error in errors:
            flash(error, "error")
    return render_template("folders/move.html", item=item, kind="folder" if folder_ids else "file", form=form,
                           choices=choices, current=current, back=back), 400 if form.errors else 200


@bp.get("/folders/<folder_id>/delete")
@login_required
def confirm_delete_folder(folder_id):
    folder = real_folder(folder_id)
    summary, = folders.summaries([folder])
    return render_template("folders/delete.html", folder=folder, summary=summary)


@bp.post("/folders/<folder_id>/delete")
@login_required
def delete_folder(folder_id):
    folder = real_folder(folder_id)
    name, back = folder.name, folder_page(folder.parent)
    trash.trash(current_user, folder_ids=[folder_id])
    flash(f"Moved {name} and everything in it to the trash.", "info")
    return redirect(back)


def real_folder(folder_id):
    """One of the user's folders named by its id, not the root (which has no name to change and can't move or go)."""
    folder = folders.get_folder(current_user, folder_id or "missing")
    if folder.is_root:
        raise NotFound("No such folder.")
    return folder
