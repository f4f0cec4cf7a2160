"""The JSON API's shapes. They validate requests and generate the OpenAPI document.

The services check everything again: these schemas are the API's contract,
the services are the rules.
"""
from flask import g
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from app.formatting import iso_utc
from app.models import FileProblem
from app.services import audit, file_requests, files, folders, links, previews, shares, tokens, trash, uploads
from app.services.audit import ACTIONS, SCOPES
from app.services.common import CURSOR_PATTERN
from app.text import MULTILINE_TEXT_PATTERN, PLAIN_TEXT_PATTERN


class Pattern(validate.Regexp):
    """A Regexp the whole value must match (re.match would let "$" pass a trailing line feed).

    apispec writes it into the document as the field's `pattern`, which JSON Schema also
    reads as a whole-value match here because every pattern is anchored with ^ and $.
    """

    def __call__(self, value):
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


PLAIN_TEXT = Pattern(PLAIN_TEXT_PATTERN, error="Control and text-direction characters are not allowed.")
MULTILINE_TEXT = Pattern(MULTILINE_TEXT_PATTERN,
                         error="Control and text-direction characters are not allowed (line breaks are fine).")
CURSOR = Pattern(CURSOR_PATTERN, error="Not a page cursor: send next_cursor as it came.")
FOLDER_ID = Pattern(r"^(root|[0-9a-f]{32})$", error="A folder id, or root.")


class Loose(Schema):
    """Unknown fields are ignored, so newer clients keep working with this server."""

    class Meta:
        unknown = EXCLUDE


class UtcDateTime(fields.DateTime):
    """A naive-UTC column written as ISO 8601 with a Z."""

    def _serialize(self, value, attr, obj, **kwargs):
        return iso_utc(value)


class ErrorDetail(Schema):
    code = fields.String(required=True, metadata={"example": "not_found"})
    message = fields.String(required=True, metadata={"example": "No such file."})
    index = fields.Integer(metadata={
        "description": "batch requests only (POST /uploads/batch, /uploads/complete): the position in items of the "
                       "item refused"})


class Error(Schema):
    error = fields.Nested(ErrorDetail, required=True)


class NewToken(Loose):
    name = fields.String(validate=[validate.Length(1, tokens.MAX_NAME_LENGTH), PLAIN_TEXT],
                         metadata={"description": "What the token is for, shown on the account page."})
    expires_in_days = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, tokens.MAX_LIFETIME_DAYS),
                                     metadata={"description": "omit or null: never expires"})


class TokenRequest(NewToken):
    username = fields.String(required=True)
    password = fields.String(required=True, load_only=True)


class TokenInfo(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    last_used_at = UtcDateTime(required=True, allow_none=True)
    expires_at = UtcDateTime(required=True, allow_none=True)


class Token(TokenInfo):
    token = fields.String(required=True, metadata={"description": "Shown only this once."})


class Tokens(Schema):
    items = fields.List(fields.Nested(TokenInfo), required=True)


class Me(Schema):
    username = fields.String(required=True)
    is_admin = fields.Boolean(required=True)
    used_bytes = fields.Integer(required=True)
    quota_bytes = fields.Integer(required=True, allow_none=True, metadata={"description": "null: no limit"})
    remaining_bytes = fields.Integer(required=True, allow_none=True)
    multipart_threshold = fields.Integer(required=True, metadata={
        "description": "files larger than this are uploaded in parts; a client may then hash while sending "
                       "and give sha256 at completion"})


class RequestTitle(fields.String):
    """The title of the upload request a file arrived through (null for the owner's own uploads)."""

    def get_value(self, obj, attr, accessor=None, default=None):
        return obj.file_request.title if obj.file_request is not None else None


class FileFacts(Schema):
    """What a listed file and a pending upload both say of themselves."""

    id = fields.String(required=True, attribute="public_id")
    name = fields.String(required=True)
    size = fields.Integer(required=True)
    content_type = fields.String(required=True)
    created_at = UtcDateTime(required=True)


class File(FileFacts):
    sha256 = fields.String(required=True, allow_none=True)
    sha256_verified = fields.Boolean(required=True, metadata={
        "description": "true when storage or Locker computed sha256 from the stored bytes"})
    preview = fields.Function(previews.preview_kind, required=True, metadata={
        "type": "string", "nullable": True, "enum": [*previews.KINDS, None],
        "description": "how a browser may show the file inline (from the type of its stored bytes), "
                       "or null: only as a download"})
    guest_name = fields.String(required=True, allow_none=True, metadata={
        "description": "the name a guest gave when uploading through an upload request"})
    request = RequestTitle(required=True, allow_none=True, metadata={
        "description": "the title of the upload request the file arrived through"})
    visible_to_everyone = fields.Boolean(required=True, metadata={
        "description": "true: every signed-in user can find and download it"})
    owner = fields.String(required=True, attribute="owner.username", metadata={"description": "the owner's username"})
    folder = fields.String(required=True, allow_none=True, attribute="folder.public_id", metadata={
        "description": "the id of the folder it is in (see /folders)"})
    path = fields.Function(lambda file: files.shown_path(file, g.get("api_user")), required=True, metadata={
        "type": "string", "nullable": True,
        "description": "the folder it is in as a path (\"\" for the root folder) when you own it; else null"})
    problem = fields.String(required=True, allow_none=True, metadata={
        "enum": [FileProblem.MISSING, FileProblem.CHANGED, None],
        "description": "null when the stored bytes are fine; 'missing' (storage no longer holds them) or "
                       "'changed' (their SHA-256 differs) as found by sweep or verify: such a file can't be "
                       "downloaded or shared"})


class FileUpdate(Loose):
    """Only the fields given change; give at least one."""

    name = fields.String(validate=validate.Length(1, uploads.MAX_NAME_LENGTH), metadata={
        "pattern": uploads.NAME_PATTERN,
        "description": "a new name, by the rules uploads follow (see POST /uploads); 409 name_taken if another "
                       "of your files has it"})
    visible_to_everyone = fields.Boolean(metadata={
        "description": "true: every signed-in user can find and download it; false: only you"})
    folder = fields.String(validate=FOLDER_ID, metadata={
        "description": "move it into this folder of yours (\"root\": the root folder); its bytes stay where they are"})

    @validates_schema
    def something_to_change(self, data, **kwargs):
        if not data:
            raise ValidationError("Give name, visible_to_everyone or folder.")


class FilePage(Schema):
    items = fields.List(fields.Nested(File), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class ListFilesQuery(Loose):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, files.MAX_PAGE_SIZE))
    cursor = fields.String(validate=CURSOR, metadata={"description": "next_cursor of the previous page"})
    sort = fields.String(load_default="date", validate=validate.OneOf(["date", "name", "size"]))
    order = fields.String(validate=validate.OneOf(["asc", "desc"]))
    q = fields.String(validate=[validate.Length(max=files.MAX_QUERY_LENGTH), PLAIN_TEXT], metadata={
        "description": "names containing this, ignoring case (1 or 2 characters: names starting with it)"})
    scope = fields.String(validate=validate.OneOf(["mine", "everyone", "all"]), metadata={
        "description": "mine (the default without q), everyone (files visible to everyone), "
                       "all (both; the default with q)"})
    folder = fields.String(validate=FOLDER_ID, metadata={
        "description": "only the files directly in this folder of yours (\"root\": the root folder); without it, "
                       "every folder (results carry their path)"})


class DownloadQuery(Loose):
    redirect = fields.Boolean(load_default=True, metadata={"description": "false: answer the URL as JSON"})
    inline = fields.Boolean(load_default=False, metadata={
        "description": "true: a URL the browser shows instead of saving, for files whose preview is not null; "
                       "any other file still comes as an attachment"})


class DownloadLink(Schema):
    url = fields.String(required=True)
    expires_at = UtcDateTime(required=True)


SHA256_HEX = validate.Regexp(r"^[0-9a-fA-F]{64}$", error="Not 64 hexadecimal digits.")


class UploadRequest(Loose):
    name = fields.String(required=True, validate=validate.Length(1, uploads.MAX_NAME_LENGTH), metadata={
        # The service refuses these characters with words that name the one found.
        "pattern": uploads.NAME_PATTERN,
        "description": 'shown to people; no < > : " / \\ | ? * or control characters, not only dots, '
                       'no dot at the end, not a Windows device name (CON, LPT1, ...)'})
    size = fields.Integer(required=True, strict=True, metadata={
        # The service refuses sizes outside these (0 as empty_file, the upload page's words for it).
        "minimum": uploads.MIN_FILE_SIZE,
        "description": "bytes; the maximum is this server's MAX_FILE_SIZE, above it is 413 file_too_large"})
    content_type = fields.String(allow_none=True, metadata={"example": "application/pdf"})
    sha256 = fields.String(allow_none=True, validate=SHA256_HEX, metadata={
        "description": "hex SHA-256 of the whole file"})
    part_checksums = fields.Boolean(load_default=False, metadata={
        "description": "multipart only: every part URL request names its part's SHA-256, checked by storage"})


class OwnUploadRequest(UploadRequest):
    folder = fields.String(validate=FOLDER_ID, metadata={
        "description": "the folder of yours it goes in (default: the root folder)"})
    path = fields.String(validate=validate.Length(max=folders.MAX_PATH_LENGTH), metadata={
        "example": "Photos/2024",
        "description": "folders below `folder` it goes in, made where missing (a folder upload's relative path); "
                       f"at most {folders.MAX_DEPTH} levels, each named by the rules of file names"})


class GuestUploadRequest(UploadRequest):
    guest_name = fields.String(allow_none=True, validate=validate.Length(
        max=100, error="Your name can be at most {max} characters."), metadata={
        "description": "the uploader's name, shown to the request's owner (optional)"})


class MultipartInfo(Schema):
    part_size = fields.Integer(required=True)
    part_count = fields.Integer(required=True)
    part_checksums = fields.Boolean(required=True)


class StoredPart(Schema):
    number = fields.Integer(required=True)
    size = fields.Integer(required=True)
    etag = fields.String(required=True)
    sha256 = fields.String(allow_none=True, metadata={
        "description": "the part's SHA-256 (hex) when storage checked it, to confirm a resumed file is the same"})


class Upload(FileFacts):
    """A pending upload: either one signed PUT (method, url, headers) or multipart."""

    method = fields.String(metadata={"example": "PUT"})
    url = fields.String()
    headers = fields.Dict(keys=fields.String(), values=fields.String())
    multipart = fields.Nested(MultipartInfo)


class PendingUpload(Upload):
    parts = fields.List(fields.Nested(StoredPart), required=True)


class PendingUploads(Schema):
    items = fields.List(fields.Nested(PendingUpload), required=True)


class PartsRequest(Loose):
    numbers = fields.List(fields.Integer(strict=True, validate=validate.Range(1, uploads.MAX_PARTS)), required=True,
                          validate=validate.Length(1, uploads.PART_URLS_PER_REQUEST))
    checksums = fields.Dict(keys=fields.String(), values=fields.String(), metadata={
        "description": 'part number -> hex SHA-256, e.g. {"1": "9f86…"}'})


class SignedPart(Schema):
    number = fields.Integer(required=True)
    url = fields.String(required=True)
    headers = fields.Dict(keys=fields.String(), values=fields.String(), required=True)
    size = fields.Integer(required=True)


class SignedParts(Schema):
    parts = fields.List(fields.Nested(SignedPart), required=True)


class StoredParts(Schema):
    parts = fields.List(fields.Nested(StoredPart), required=True)
    part_size = fields.Integer(required=True)
    part_count = fields.Integer(required=True)


class CompletedPart(Loose):
    number = fields.Integer(required=True, strict=True, validate=validate.Range(1, uploads.MAX_PARTS))
    etag = fields.String(required=True)


class CompleteRequest(Loose):
    parts = fields.List(fields.Nested(CompletedPart), metadata={"description": "multipart: every part, in order"})
    sha256 = fields.String(allow_none=True, validate=SHA256_HEX)


class UploadBatchRequest(Loose):
    items = fields.List(fields.Nested(OwnUploadRequest), required=True,
                        validate=validate.Length(1, uploads.MAX_BATCH), metadata={
                            "description": "started all or none: a refused item's position is the error's index"})


class UploadBatch(Schema):
    items = fields.List(fields.Nested(Upload), required=True, metadata={"description": "in the order sent"})


class CompleteItem(CompleteRequest):
    id = fields.String(required=True, metadata={"description": "the upload's id"})


class CompleteBatchRequest(Loose):
    items = fields.List(fields.Nested(CompleteItem), required=True, validate=validate.Length(1, uploads.MAX_BATCH))


class CompletedItem(Schema):
    id = fields.String(required=True)
    file = fields.Nested(File, metadata={"description": "the listed file, when this item completed"})
    error = fields.Nested(ErrorDetail, metadata={
        "description": "why this item did not complete (as POST /uploads/{file_id}/complete would answer)"})


class CompletedBatch(Schema):
    items = fields.List(fields.Nested(CompletedItem), required=True, metadata={"description": "in the order sent"})


class LinkSettings(Loose):
    """What every public link may have: an end and a password."""

    expires_at = fields.String(allow_none=True, metadata={
        "description": "ISO 8601 date-time; without a zone it is UTC", "example": "2026-12-31T18:00:00Z"})
    expires_in = fields.String(allow_none=True, metadata={"description": "or a duration: 30m, 12h, 7d, 2w"})
    password = fields.String(allow_none=True, load_only=True, validate=validate.Length(1, links.MAX_PASSWORD_LENGTH),
                             metadata={"description": "null: no password"})


class ShareRequest(LinkSettings):
    """A link to one file (file_id), a folder with everything in it (folder_id), or a selection of files
    (file_ids): give exactly one of the three. Another user's ids, like unknown ones, are 404."""

    file_id = fields.String(metadata={"description": "one of your files"})
    folder_id = fields.String(validate=FOLDER_ID, metadata={
        "description": "one of your folders (\"root\": all your files): the link lists its files with their "
                       "paths, subfolders included, files added later too, trashed ones not"})
    file_ids = fields.List(fields.String(validate=Pattern(r"^[0-9a-f]{32}$", error="An id as Locker gives it.")),
                           validate=validate.Length(1, shares.MAX_SELECTION), metadata={
        "description": f"1 to {shares.MAX_SELECTION:,} of your ready files"})
    max_downloads = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, shares.MAX_DOWNLOADS),
                                   metadata={
        "description": "each download of a file, or of the zip of all, counts once"})
    note = fields.String(allow_none=True, validate=[validate.Length(max=shares.MAX_NOTE_LENGTH), MULTILINE_TEXT])

    @validates_schema
    def one_target(self, data, **kwargs):
        if sum(name in data for name in ("file_id", "folder_id", "file_ids")) != 1:
            raise ValidationError("Give exactly one of file_id, folder_id and file_ids.")


class LinkInfo(Schema):
    id = fields.String(required=True, attribute="public_id")
    created_at = UtcDateTime(required=True)
    expires_at = UtcDateTime(required=True, allow_none=True)
    has_password = fields.Boolean(required=True)


class ShareInfo(LinkInfo):
    kind = fields.String(required=True, validate=validate.OneOf(["file", "folder", "selection"]), metadata={
        "description": "what the link hands out: one file, a folder (with all in it) or a selection of files"})
    file_id = fields.String(required=True, allow_none=True, metadata={"description": "a link to one file: its id"})
    file_name = fields.String(required=True, allow_none=True)
    folder_id = fields.String(required=True, allow_none=True, metadata={"description": "a link to a folder: its id"})
    folder_name = fields.String(required=True, allow_none=True, metadata={"description": "\"\" for the root folder"})
    file_ids = fields.List(fields.String(), required=True, allow_none=True, metadata={
        "description": "a link to a selection: its files (those still there)"})
    state = fields.String(required=True, validate=validate.OneOf(["active", "expired", "used_up", "revoked"]))
    max_downloads = fields.Integer(required=True, allow_none=True)
    download_count = fields.Integer(required=True)
    last_download_at = UtcDateTime(required=True, allow_none=True)
    note = fields.String(required=True, allow_none=True)


class NewShare(ShareInfo):
    url = fields.String(required=True, metadata={"description": "The link to send."})


class ListedShare(ShareInfo):
    url = fields.String(required=True, allow_none=True, metadata={
        "description": "the link to copy again; null when Locker can't show it (made before links were kept, "
                       "or SECRET_KEY changed since): it still works, make a new one to get a URL"})


class Shares(Schema):
    items = fields.List(fields.Nested(ListedShare), required=True)


class ShareUpdate(LinkSettings):
    """Only the fields given change. expires_at or expires_in replaces the expiry (both null: no time limit);
    password null removes it; max_downloads null lifts the limit."""

    max_downloads = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, shares.MAX_DOWNLOADS),
                                   metadata={"description": "more than the downloads already made"})
    note = fields.String(allow_none=True, validate=[validate.Length(max=shares.MAX_NOTE_LENGTH), MULTILINE_TEXT])


class FileRequestCreate(LinkSettings):
    title = fields.String(required=True, validate=[validate.Length(1, file_requests.MAX_TITLE_LENGTH), PLAIN_TEXT],
                          metadata={"example": "Wedding photos"})
    message = fields.String(allow_none=True, validate=[validate.Length(max=file_requests.MAX_MESSAGE_LENGTH),
                                                       MULTILINE_TEXT], metadata={
        "description": "shown to the people who upload"})
    max_files = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, file_requests.MAX_FILES))
    max_bytes = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, file_requests.MAX_BYTES))
    folder = fields.String(validate=FOLDER_ID, metadata={
        "description": "the folder of yours the files arrive in (default: the root folder)"})


class FileRequestInfo(LinkInfo):
    title = fields.String(required=True)
    message = fields.String(required=True, allow_none=True)
    state = fields.String(required=True, validate=validate.OneOf(["open", "full", "expired", "revoked"]))
    max_files = fields.Integer(required=True, allow_none=True)
    max_bytes = fields.Integer(required=True, allow_none=True)
    files_used = fields.Integer(required=True, metadata={
        "description": "uploads started through the link, unfinished ones included"})
    bytes_used = fields.Integer(required=True)
    files_received = fields.Integer(required=True, metadata={"description": "completed files"})
    bytes_received = fields.Integer(required=True)
    folder = fields.String(required=True, metadata={"description": "the id of the folder files arrive in"})
    folder_path = fields.String(required=True, metadata={"description": "its path (\"\": the root folder)"})


class NewFileRequest(FileRequestInfo):
    url = fields.String(required=True, metadata={"description": "The link to send."})


class ListedFileRequest(FileRequestInfo):
    url = fields.String(required=True, allow_none=True, metadata={
        "description": "the upload link to copy again; null when Locker can't show it (made before links were "
                       "kept, or SECRET_KEY changed since): it still works, make a new request to get a URL"})


class FileRequests(Schema):
    items = fields.List(fields.Nested(ListedFileRequest), required=True)


class FileRequestUpdate(LinkSettings):
    """Only the fields given change. expires_at or expires_in replaces the expiry (both null: no time limit);
    null removes the password, message or a limit."""

    title = fields.String(validate=[validate.Length(1, file_requests.MAX_TITLE_LENGTH), PLAIN_TEXT])
    message = fields.String(allow_none=True, validate=[validate.Length(max=file_requests.MAX_MESSAGE_LENGTH),
                                                       MULTILINE_TEXT])
    max_files = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, file_requests.MAX_FILES),
                               metadata={"description": "at least files_used"})
    max_bytes = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, file_requests.MAX_BYTES),
                               metadata={"description": "at least bytes_used"})
    folder = fields.String(validate=FOLDER_ID, metadata={"description": "where files arrive from now on"})


class ActivityQuery(Loose):
    scope = fields.String(load_default="mine", validate=validate.OneOf(list(SCOPES)), metadata={
        "description": "mine: your account, files and links; all: everyone's (admins only, else 403)"})
    file = fields.String(metadata={"description": "only this file's events (a file id; admins: any file)"})
    action = fields.String(validate=validate.OneOf(list(ACTIONS)), metadata={"description": "only this kind of event"})
    cursor = fields.String(validate=CURSOR, metadata={"description": "next_cursor of the previous page"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, audit.MAX_PAGE_SIZE))


class ActivityEvent(Schema):
    id = fields.Integer(required=True)
    created_at = UtcDateTime(required=True)
    action = fields.String(required=True, metadata={"example": "share_download"})
    label = fields.String(required=True, metadata={"example": "downloaded through a link"})
    actor = fields.String(required=True, allow_none=True, metadata={
        "description": "the account that acted; null for someone without one"})
    actor_name = fields.String(required=True, allow_none=True, metadata={
        "description": "without an account: the username tried at a failed sign-in, or the name a guest gave"})
    who = fields.String(required=True, metadata={"example": "someone with the link"})
    owner = fields.String(required=True, allow_none=True, metadata={"description": "whose activity this is"})
    file_id = fields.String(required=True, allow_none=True, metadata={
        "description": "null once the file is deleted"})
    file_name = fields.String(required=True, allow_none=True, metadata={"description": "the name at the time"})
    share_id = fields.String(required=True, allow_none=True)
    file_request_id = fields.String(required=True, allow_none=True)
    address = fields.String(required=True, allow_none=True, metadata={"description": "the client's IP address"})
    detail = fields.String(required=True, allow_none=True)


class ActivityPage(Schema):
    items = fields.List(fields.Nested(ActivityEvent), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class FolderRef(Schema):
    id = fields.String(required=True, attribute="public_id")
    name = fields.String(required=True, metadata={"description": "\"\" for the root folder"})


class FolderSummary(Schema):
    id = fields.String(required=True, attribute="folder.public_id")
    name = fields.String(required=True, attribute="folder.name")
    created_at = UtcDateTime(required=True, attribute="folder.created_at")
    files = fields.Integer(required=True, metadata={"description": "files in it, at any depth"})
    size = fields.Integer(required=True, metadata={"description": "bytes of those files"})


class Folder(Schema):
    id = fields.String(required=True, attribute="public_id")
    name = fields.String(required=True, metadata={"description": "\"\" for the root folder"})
    path = fields.String(required=True, metadata={"example": "Photos/2024", "description": "\"\" for the root folder"})
    parent = fields.String(required=True, allow_none=True, attribute="parent.public_id")
    created_at = UtcDateTime(required=True)
    breadcrumbs = fields.List(fields.Nested(FolderRef), required=True, metadata={
        "description": "the root first, this folder last"})
    folders = fields.List(fields.Nested(FolderSummary), required=True, metadata={
        "description": "the folders directly in it, by name: a page of folders_limit"})
    folders_next_cursor = fields.String(required=True, allow_none=True, metadata={
        "description": "give it as folders_cursor for the next page of folders; null: no more"})


class FolderQuery(Loose):
    folders_limit = fields.Integer(load_default=folders.MAX_ITEMS, validate=validate.Range(1, folders.MAX_ITEMS))
    folders_cursor = fields.String(validate=CURSOR, metadata={"description": "folders_next_cursor of the last page"})


class FolderCreate(Loose):
    name = fields.String(required=True, validate=validate.Length(1, uploads.MAX_NAME_LENGTH), metadata={
        "pattern": uploads.NAME_PATTERN, "description": "by the rules of file names; 409 name_taken if the "
                                                        "folder already has a file or folder of that name"})
    parent = fields.String(validate=FOLDER_ID, metadata={"description": "default: the root folder"})


class FolderUpdate(Loose):
    """Only the fields given change; give at least one."""

    name = fields.String(validate=validate.Length(1, uploads.MAX_NAME_LENGTH), metadata={
        "pattern": uploads.NAME_PATTERN, "description": "409 name_taken if its folder has that name already"})
    parent = fields.String(validate=FOLDER_ID, metadata={
        "description": "move it (with all inside) into this folder; not into itself or below itself"})

    @validates_schema
    def something_to_change(self, data, **kwargs):
        if not data:
            raise ValidationError("Give name or parent.")


ITEM_IDS = dict(validate=validate.Length(max=folders.MAX_ITEMS), load_default=list)
PUBLIC_ID = Pattern(r"^[0-9a-f]{32}$", error="An id as Locker gives it (32 hexadecimal digits).")


class Selection(Loose):
    files = fields.List(fields.String(validate=PUBLIC_ID), **ITEM_IDS, metadata={"description": "file ids"})
    folders = fields.List(fields.String(validate=PUBLIC_ID), **ITEM_IDS, metadata={"description": "folder ids"})

    @validates_schema
    def something_chosen(self, data, **kwargs):
        if not data.get("files") and not data.get("folders"):
            raise ValidationError("Give at least one id in files or folders.")


class DownloadLinksRequest(Loose):
    files = fields.List(fields.String(validate=PUBLIC_ID),
                        required=True, validate=validate.Length(1, files.MAX_DOWNLOAD_LINKS),
                        metadata={"description": "file ids: your own, or files visible to everyone"})


class DownloadLinkItem(Schema):
    id = fields.String(required=True)
    url = fields.String(metadata={"description": "the signed URL, when this file can be downloaded"})
    error = fields.Nested(ErrorDetail, metadata={
        "description": "why not (as GET /files/{file_id}/download would answer)"})


class DownloadLinks(Schema):
    items = fields.List(fields.Nested(DownloadLinkItem), required=True, metadata={"description": "in the order sent"})
    expires_at = UtcDateTime(required=True, metadata={"description": "when every URL stops working"})


class VisibilityRequest(Loose):
    files = fields.List(fields.String(validate=PUBLIC_ID), required=True,
                        validate=validate.Length(1, folders.MAX_ITEMS), metadata={"description": "file ids"})
    visible_to_everyone = fields.Boolean(required=True)


class VisibilityResult(Schema):
    changed = fields.Integer(required=True, metadata={"description": "how many files were not that way already"})


class MoveRequest(Selection):
    to = fields.String(required=True, validate=FOLDER_ID, metadata={"description": "the folder to move them into"})


class TrashItem(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(["file", "folder"]))
    id = fields.String(required=True, attribute="public_id")
    name = fields.String(required=True)
    trashed_from = fields.String(required=True, metadata={"description": "the folder path it was deleted from"})
    trashed_at = UtcDateTime(required=True)
    size = fields.Integer(required=True, metadata={"description": "a folder: the bytes of every file in it"})
    files = fields.Integer(required=True, metadata={"description": "a folder: how many files went with it"})


class Trash(Schema):
    items = fields.List(fields.Nested(TrashItem), required=True, metadata={
        "description": f"newest first, at most {trash.PAGE_SIZE}"})
    bytes = fields.Integer(required=True, metadata={"description": "what the trash holds (still in your quota)"})
    retention_seconds = fields.Integer(required=True, metadata={
        "description": "items older than this are deleted for good by the server's housekeeping"})


class ZipEntry(Schema):
    path = fields.String(required=True, metadata={"example": "Photos/2024/beach.jpg",
                                                  "description": "where the file goes in the zip"})
    size = fields.Integer(required=True)
    sha256 = fields.String(required=True, allow_none=True)
    url = fields.String(required=True, metadata={"description": "a short-lived signed URL to GET the bytes from"})


class ZipList(Schema):
    name = fields.String(required=True, metadata={"example": "Photos.zip", "description": "a name for the zip"})
    files = fields.List(fields.Nested(ZipEntry), required=True)
