"""Upload requests in the browser: the owner's pages (create, list, change, revoke) and the public /r/<token> pages.

A guest's uploads go through JSON endpoints under /r/<token>/uploads that mirror
the API's (start, sign parts, list parts, complete, abort) and are authorised by
the link, its password when it has one, and the visit: the page sets a random
secret in the guest's session once, and each upload is stored with the visit's
hash (services.guest_uploads.visit_hash). The upload calls never change the
session, because a browser runs several at once and their cookies would
overwrite each other's.
"""
import secrets

from flask import Blueprint, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from wtforms import IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from app.api import Parser
from app.api.files import upload_payload
from app.api.schemas import CompleteRequest, File, GuestUploadRequest, PartsRequest, StoredParts, Upload
from app.errors import Conflict, LockerError
from app.extensions import limiter
from app.links import LinkEditForm, LinkForm, keep_links_private, password_gate, require_unlocked
from app.services import file_requests, folders, guest_uploads, links

bp = Blueprint("file_requests", __name__)
parser = Parser()
MIB = 1024 * 1024
# One random secret per browser, set by the first request page it opens; the visit to each
# request is derived from it (guest_uploads.visit_hash), so the cookie never grows with uploads.
VISIT_SECRET = "request_visit"


class RequestSettings(LinkForm):
    """What an upload request has beside its expiry and password, the same when it is made and changed."""

    fields_of_codes = {"invalid_max_bytes": "max_mib"}
    title = StringField("Title (what you are asking for)",
                        validators=[DataRequired(), Length(max=file_requests.MAX_TITLE_LENGTH)])
    message = TextAreaField("Message for the people who upload (optional)",
                            validators=[Optional(), Length(max=file_requests.MAX_MESSAGE_LENGTH)])
    max_files = IntegerField("Most files (empty: no limit)",
                             validators=[Optional(), NumberRange(1, file_requests.MAX_FILES)])
    max_mib = IntegerField("Most total size in MiB (empty: no limit)", validators=[Optional(), NumberRange(1, 2 ** 40)])
    # The owner's folders, set by offer_folders; the service refuses one that is not theirs.
    folder = SelectField("Files arrive in", validate_choice=False)

    def offer_folders(self, user, current=None):
        self.folder.choices = [("root" if folder.is_root else folder.public_id, path or "Your files (the root folder)")
                               for folder, path in folders.folder_choices(user)]
        if current is not None and not self.folder.data:
            self.folder.data = "root" if current.is_root else current.public_id
        return self


class RequestForm(RequestSettings):
    submit = SubmitField("Create upload link")


class EditRequestForm(LinkEditForm, RequestSettings):
    submit = SubmitField("Save changes")


def shown_mib(max_bytes):
    # Rounded up, so a limit set in bytes through the API shows as a size that holds it.
    return -(-max_bytes // MIB) if max_bytes else None


@bp.get("/requests")
@login_required
def list_requests():
    return render_template("requests/list.html", requests=file_requests.list_requests(current_user),
                           state=file_requests.state, link_url=file_requests.link_url)


@bp.route("/requests/new", methods=["GET", "POST"])
@login_required
def create_request():
    form = RequestForm().offer_folders(current_user)
    if form.validate_on_submit():
        expires_at, expires_in = form.expiry()
        try:
            file_request, url = file_requests.create_request(
                current_user, form.title.data, message=form.message.data or None, expires_at=expires_at,
                expires_in=expires_in, max_files=form.max_files.data,
                max_bytes=form.max_mib.data * MIB if form.max_mib.data else None, password=form.password.data or None,
                folder=form.folder.data or None)
        except LockerError as error:
            form.refuse(error)
            return render_template("requests/new.html", form=form), error.status
        return render_template("requests/created.html", file_request=file_request, url=url), 201
    return render_template("requests/new.html", form=form), 400 if form.errors else 200


@bp.route("/requests/<request_id>/edit", methods=["GET", "POST"])
@login_required
def edit_request(request_id):
    file_request = file_requests.editable_request(current_user, request_id)
    form = EditRequestForm(obj=file_request, max_mib=shown_mib(file_request.max_bytes)).offer_folders(
        current_user, folders.request_target(file_request))
    if form.validate_on_submit():
        # The size field shows the limit rounded to MiB: left as shown, the exact limit stays.
        max_bytes = (links.UNCHANGED if form.max_mib.data == shown_mib(file_request.max_bytes)
                     else form.max_mib.data * MIB if form.max_mib.data else None)
        try:
            _, changed = file_requests.update_request(
                current_user, request_id, **form.link_changes(), title=form.title.data,
                message=form.message.data or None, max_files=form.max_files.data, max_bytes=max_bytes,
                folder=form.folder.data or links.UNCHANGED)
        except LockerError as error:
            form.refuse(error)
            return render_edit_page(file_request, form), error.status
        flash(f"Upload request changed: {', '.join(changed)}." if changed
              else "Nothing to change: the upload request is as it was.", "info")
        return redirect(url_for("file_requests.list_requests"))
    return render_edit_page(file_request, form), 400 if form.errors else 200


def render_edit_page(file_request, form):
    return render_template("requests/edit.html", file_request=file_request, form=form,
                           url=file_requests.link_url(file_request))


@bp.post("/requests/<request_id>/revoke")
@login_required
def revoke_request(request_id):
    guest_uploads.close_request(current_user, request_id)
    flash("Upload link closed. Nobody can upload through it any more.", "info")
    return redirect(url_for("file_requests.list_requests"))


# --- The guest's side -------------------------------------------------------------


def visit(file_request):
    """This browser's visit to the request (a visit_hash), or None before it opened the request's page."""
    secret = session.get(VISIT_SECRET)
    return None if secret is None else guest_uploads.visit_hash(secret, file_request)


def guest_request(token):
    """The open request a guest's upload call names, once its password (if any) has been given."""
    file_request = file_requests.open_request(token)
    require_unlocked(file_request)
    return file_request


@bp.route("/r/<token>", methods=["GET", "POST"])
def show_request(token):
    file_request = file_requests.open_request(token)
    gate = password_gate(file_request, "requests/password.html")
    if gate is not None:
        return gate
    if VISIT_SECRET not in session:
        session[VISIT_SECRET] = secrets.token_urlsafe(32)
    sent = guest_uploads.visit_files(file_request, visit(file_request))
    if request.args.get("fragment") == "regions":
        return render_template("requests/_regions.html", sent=sent)
    bytes_left = None if file_request.max_bytes is None else file_request.max_bytes - file_request.bytes_used
    files_left = None if file_request.max_files is None else file_request.max_files - file_request.files_used
    return render_template("requests/public.html", file_request=file_request, token=token, sent=sent,
                           state=file_requests.state(file_request), bytes_left=bytes_left, files_left=files_left)


upload_limit = limiter.limit(lambda: current_app.config["REQUEST_UPLOAD_LIMIT_PER_ADDRESS"],
                             scope="request-upload-address")


@bp.post("/r/<token>/uploads")
@upload_limit
def start_upload(token):
    file_request = guest_request(token)
    current = visit(file_request)
    if current is None:
        # Starting a visit here would change the cookie while other uploads run.
        raise Conflict("Reload this link's page, then send the files again: this browser has not opened it "
                       "(or its cookies were cleared).", code="visit_required")
    body = parser.parse(GuestUploadRequest(), request, location="json")
    file, signed = guest_uploads.start(file_request, current, body["name"], body["size"], body.get("content_type"),
                                       body.get("sha256"), part_checksums=body["part_checksums"],
                                       guest_name=body.get("guest_name"))
    return jsonify(Upload().dump(upload_payload(file, signed))), 201


@bp.post("/r/<token>/uploads/<upload_id>/parts")
def sign_parts(token, upload_id):
    file_request = guest_request(token)
    body = parser.parse(PartsRequest(), request, location="json")
    return jsonify(parts=guest_uploads.sign_parts(file_request, upload_id, visit(file_request), body["numbers"],
                                                  body.get("checksums")))


@bp.get("/r/<token>/uploads/<upload_id>/parts")
def list_parts(token, upload_id):
    file_request = guest_request(token)
    file, parts = guest_uploads.uploaded_parts(file_request, upload_id, visit(file_request))
    return jsonify(StoredParts().dump({"parts": parts, "part_size": file.part_size, "part_count": file.part_count}))


@bp.post("/r/<token>/uploads/<upload_id>/complete")
def complete_upload(token, upload_id):
    file_request = guest_request(token)
    body = parser.parse(CompleteRequest(), request, location="json")
    file = guest_uploads.complete(file_request, upload_id, visit(file_request), body.get("parts"),
                                  body.get("sha256"))
    return jsonify({**File().dump(file), "name": file.sent_name})


@bp.delete("/r/<token>/uploads/<upload_id>")
def abort_upload(token, upload_id):
    file_request = guest_request(token)
    guest_uploads.abort(file_request, upload_id, visit(file_request))
    return "", 204


bp.after_request(keep_links_private)
