"""The browser's file pages."""
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_from_directory, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired

from app.auth.routes import safe_next
from app.errors import Conflict, InvalidInput, Unavailable
from app.formatting import human_size, iso_utc
from app.models import FileProblem
from app.qr import qr_svg
from app.services import file_requests, files, folders, mail, previews, quotas, trash, uploads, users

bp = Blueprint("web", __name__)
LIST_ARGUMENTS = ("q", "sort", "order", "cursor", "scope", "folder", "everywhere")
NODE_MODULES = Path(__file__).resolve().parents[2] / "node_modules"
# The browser libraries the pages load, served from node_modules (installed from
# package-lock.json by make), so no page needs a CDN. Only these exact files are
# served: public name -> (npm package, file inside that package).
VENDOR_FILES = {
    "uppy.min.mjs": ("uppy", "dist/uppy.min.mjs"),
    "uppy.min.css": ("uppy", "dist/uppy.min.css"),
    "hash-wasm-sha256.umd.min.js": ("hash-wasm", "dist/sha256.umd.min.js"),
    # Streaming zips (static/zip.js, static/zip-sw.js): the service worker's classic build and the module.
    "client-zip.js": ("client-zip", "worker.js"),
    "client-zip.mjs": ("client-zip", "index.js"),
    # Swagger UI for /api/docs (flask-smorest loads these names from OPENAPI_SWAGGER_UI_URL).
    "swagger-ui.css": ("swagger-ui-dist", "swagger-ui.css"),
    "swagger-ui-bundle.js": ("swagger-ui-dist", "swagger-ui-bundle.js"),
    "swagger-ui-standalone-preset.js": ("swagger-ui-dist", "swagger-ui-standalone-preset.js"),
}
FRAGMENTS = {"table": "files/_table.html", "regions": "files/_regions.html"}


def register_template_helpers(app):
    app.add_template_filter(human_size, "human_size")
    app.add_template_filter(iso_utc, "iso_utc")
    app.add_template_filter(qr_svg, "qr_svg")
    # Inputs tell the browser the limits the services enforce.
    app.jinja_env.globals.update(max_query_length=files.MAX_QUERY_LENGTH, max_name_length=uploads.MAX_NAME_LENGTH,
                                 max_guest_name_length=file_requests.MAX_GUEST_NAME_LENGTH,
                                 problem_labels=FileProblem.LABELS, problem_messages=FileProblem.MESSAGES)

    @app.template_global()
    def this_list():
        """The list page being shown, as it is (search, sort, page), without the fragment a refresh asked for."""
        # Only what a list reads: any other name could be one of url_for's own (endpoint, _method, ...).
        args = {name: value for name, value in request.args.items() if name in LIST_ARGUMENTS}
        return url_for(request.endpoint, **(request.view_args or {}), **args)

    @app.context_processor
    def site_settings():
        # Every page (a re-rendered login form too) knows whether sign-up is open and whether mail can
        # carry a reset link (the sign-in page offers "Forgot your password?" only then).
        return {"registration_open": users.registration_open(), "registration_mode": users.registration_mode(),
                "mail_configured": mail.is_configured()}


@bp.get("/")
def index():
    return redirect(url_for("web.list_files" if current_user.is_authenticated else "auth.login"))


def pending_of(user):
    """Unfinished uploads with what has arrived, or None when storage can't say right now."""
    try:
        items = uploads.pending_uploads(user)
    except Unavailable:
        return None
    return [pending_item(file, parts) for file, parts in items]


def pending_item(file, parts):
    stored = [p for p in parts if p.size == file.expected_part_size(p.number)] if file.upload_id else []
    return {"file": file, "multipart": bool(file.upload_id), "part_count": file.part_count or 1,
            "stored_parts": len(stored), "stored_bytes": sum(p.size for p in stored)}


@bp.get("/files")
@login_required
def list_files():
    """One folder's subfolders and files (the root without ?folder=); a search looks in it, or with
    ?everywhere=1 in every folder and among the files shared with everyone."""
    q = request.args.get("q")
    folder = folders.get_folder(current_user, request.args.get("folder"))
    search = files.search_query(q)
    everywhere = bool(search) and request.args.get("everywhere") == "1"
    page = files.list_files(current_user, sort=request.args.get("sort", "date"), order=request.args.get("order"),
                            cursor=request.args.get("cursor"), limit=current_app.config["FILES_PER_PAGE"], q=q,
                            scope=files.default_scope(search) if everywhere else None,
                            folder=None if everywhere else folder)
    if everywhere:
        files.with_paths(current_user, page.items)
    # Folders are listed above the first page of files, and not among a search's results.
    subfolders, folders_next = folders.subfolders(folder, cursor=request.args.get("folders_cursor")) \
        if not search and page.prev_cursor is None else ([], None)
    context = {"page": page, "folder": folder, "subfolders": subfolders, "everywhere": everywhere,
               "folders_next": folders_next, "folder_page_size": folders.FOLDER_PAGE,
               "list_args": {"folder": None if folder.is_root else folder.public_id,
                             "everywhere": "1" if everywhere else None}}
    template = FRAGMENTS.get(request.args.get("fragment"), "files/index.html")
    if template == FRAGMENTS["table"]:
        # The table alone needs no usage or unfinished uploads (each of those is a storage call).
        return render_template(template, **context)
    return render_template(template, **context, breadcrumbs=folders.ancestors(folder),
                           usage=quotas.usage(current_user), trash_bytes=trash.held_bytes(current_user),
                           pending=pending_of(current_user))


def folder_page(folder):
    """The files page of a folder (the root's without a parameter)."""
    return url_for("web.list_files", folder=None if folder is None or folder.is_root else folder.public_id)


@bp.get("/everyone")
@login_required
def everyone():
    """Files their owners made visible to every signed-in user, newest first."""
    page = files.list_files(current_user, cursor=request.args.get("cursor"), q=request.args.get("q"),
                            scope="everyone", limit=current_app.config["FILES_PER_PAGE"])
    return render_template("files/everyone.html", page=page)


@bp.post("/files/<file_id>/visibility")
@login_required
def set_visibility(file_id):
    visible = request.form.get("visible") == "1"
    file = files.set_visibility(current_user, file_id, visible)
    flash(f"{file.name} is now visible to everyone." if visible else f"{file.name} is now private.", "info")
    # Back to the list the button was on, as it was.
    return redirect(safe_next(request.form.get("next") or url_for("web.list_files")))


@bp.get("/files/<file_id>/download")
@login_required
def download_file(file_id):
    url, _ = files.download_link(current_user, file_id)
    return redirect(url, code=302)


@bp.get("/files/<file_id>/view")
@login_required
def view_file(file_id):
    file = files.get_readable_file(current_user, file_id)
    return render_template("files/view.html", file=file,
                           preview=previews.preview(file, current_app.config["URL_EXPIRY"]))


@bp.get("/files/<file_id>/raw")
@login_required
def raw_file(file_id):
    """The file itself: shown by the browser when it is previewable, downloaded otherwise."""
    url, _ = files.download_link(current_user, file_id, inline=True)
    return redirect(url, code=302)


class RenameForm(FlaskForm):
    # The service checks the name (and says why in its words); this only makes sure one was given.
    name = StringField("New name", validators=[DataRequired("Give the file a name.")],
                       render_kw={"autocomplete": "off", "spellcheck": "false", "autofocus": True})
    submit = SubmitField("Rename")


@bp.route("/files/<file_id>/rename", methods=["GET", "POST"])
@login_required
def rename_file(file_id):
    file = files.get_file(current_user, file_id)
    form, status = RenameForm(name=file.name), 200
    back = safe_next(request.values.get("next") or folder_page(file.folder))  # the list it was opened from
    if form.validate_on_submit():
        old_name = file.name
        try:
            file = files.rename_file(current_user, file_id, form.name.data)
        except (InvalidInput, Conflict) as refusal:
            form.name.errors.append(refusal.message)
            status = refusal.status
        else:
            flash(f"Renamed {old_name} to {file.name}." if file.name != old_name else f"{file.name} kept its name.",
                  "info")
            return redirect(back)
    elif form.errors:
        status = 400
    return render_template("files/rename.html", file=file, form=form, back=back), status


@bp.get("/files/<file_id>/delete")
@login_required
def confirm_delete(file_id):
    return render_template("files/delete.html", file=files.get_file(current_user, file_id))


@bp.post("/files/<file_id>/delete")
@login_required
def delete_file(file_id):
    file = files.get_file(current_user, file_id)
    name, back = file.name, folder_page(file.folder)
    trash.trash(current_user, file_ids=[file_id])
    flash(f"Moved {name} to the trash.", "info")
    return redirect(back)


@bp.get("/uploads/<upload_id>/cancel")
@login_required
def confirm_cancel_upload(upload_id):
    """Without JavaScript, cancelling an unfinished upload asks here first (the page's script asks in place)."""
    return render_template("files/cancel_upload.html", upload=uploads.pending_upload(current_user, upload_id))


@bp.post("/uploads/<upload_id>/cancel")
@login_required
def cancel_upload(upload_id):
    name = uploads.pending_upload(current_user, upload_id).name
    uploads.abort_upload(current_user, upload_id)
    flash(f"Cancelled the upload of {name}.", "info")
    return redirect(url_for("web.list_files"))


@bp.get("/vendor/<name>")
def vendor(name):
    """A browser library from node_modules; anything not on the allow-list is 404."""
    if name not in VENDOR_FILES:
        abort(404)
    package, path = VENDOR_FILES[name]
    folder, _, filename = path.rpartition("/")
    return send_from_directory(NODE_MODULES / package / folder, filename, max_age=3600)


# Their views join bp (not named folders.py/trash.py: a submodule would replace the services of those names here).
from app.web import admin_pages, bulk_pages, deletion_pages, folder_pages, security_pages, trash_pages  # noqa: E402,F401
from app.web import invitation_pages  # noqa: E402,F401  (admin: invitations, password reset links)
