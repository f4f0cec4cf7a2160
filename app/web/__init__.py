"""The browser's file pages."""
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_from_directory, url_for
from flask_login import current_user, login_required

from app.formatting import human_size, iso_utc
from app.services import files

bp = Blueprint("web", __name__)
VENDOR_DIR = Path(__file__).resolve().parents[2] / "node_modules" / "uppy" / "dist"
VENDOR_FILES = {"uppy.min.mjs", "uppy.min.css"}


def register_template_helpers(app):
    app.add_template_filter(human_size, "human_size")
    app.add_template_filter(iso_utc, "iso_utc")


@bp.get("/")
def index():
    return redirect(url_for("web.list_files" if current_user.is_authenticated else "auth.login"))


@bp.get("/files")
@login_required
def list_files():
    page = files.list_files(current_user, sort=request.args.get("sort", "date"), order=request.args.get("order"),
                            cursor=request.args.get("cursor"), limit=current_app.config["FILES_PER_PAGE"])
    template = "files/_table.html" if request.args.get("fragment") == "table" else "files/index.html"
    return render_template(template, page=page, max_file_size=current_app.config["MAX_FILE_SIZE"])


@bp.get("/files/<file_id>/download")
@login_required
def download_file(file_id):
    url, _ = files.download_link(current_user, file_id)
    return redirect(url, code=302)


@bp.get("/files/<file_id>/delete")
@login_required
def confirm_delete(file_id):
    return render_template("files/delete.html", file=files.get_file(current_user, file_id))


@bp.post("/files/<file_id>/delete")
@login_required
def delete_file(file_id):
    file = files.get_file(current_user, file_id)
    name = file.name
    files.delete_file(current_user, file_id)
    flash(f"Deleted {name}.", "info")
    return redirect(url_for("web.list_files"))


@bp.get("/vendor/<name>")
def vendor(name):
    """Uppy's bundle from node_modules (installed by make), so no page needs a CDN."""
    if name not in VENDOR_FILES:
        abort(404)
    return send_from_directory(VENDOR_DIR, name, max_age=3600)
