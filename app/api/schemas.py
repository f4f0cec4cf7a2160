"""The JSON API's shapes. They validate requests and generate the OpenAPI document.

The services check everything again: these schemas are the API's contract,
the services are the rules.
"""
from marshmallow import EXCLUDE, Schema, fields, validate

from app.formatting import iso_utc


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


class Error(Schema):
    error = fields.Nested(ErrorDetail, required=True)


class NewToken(Loose):
    name = fields.String(validate=validate.Length(1, 100),
                         metadata={"description": "What the token is for, shown on the account page."})
    expires_in_days = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, 3650),
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


class File(Schema):
    id = fields.String(required=True, attribute="public_id")
    name = fields.String(required=True)
    size = fields.Integer(required=True)
    content_type = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    sha256 = fields.String(required=True, allow_none=True)
    sha256_verified = fields.Boolean(required=True, metadata={
        "description": "true when storage or Locker computed sha256 from the stored bytes"})
    visible_to_everyone = fields.Boolean(required=True, metadata={
        "description": "true: every signed-in user can find and download it"})
    owner = fields.String(required=True, attribute="owner.username", metadata={"description": "the owner's username"})


class FileUpdate(Loose):
    visible_to_everyone = fields.Boolean(required=True, metadata={
        "description": "true: every signed-in user can find and download it; false: only you"})


class FilePage(Schema):
    items = fields.List(fields.Nested(File), required=True)
    next_cursor = fields.String(required=True, allow_none=True)


class ListFilesQuery(Loose):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    cursor = fields.String(metadata={"description": "next_cursor of the previous page"})
    sort = fields.String(load_default="date", validate=validate.OneOf(["date", "name", "size"]))
    order = fields.String(validate=validate.OneOf(["asc", "desc"]))
    q = fields.String(validate=validate.Length(max=100), metadata={
        "description": "names containing this, ignoring case (1 or 2 characters: names starting with it)"})
    scope = fields.String(validate=validate.OneOf(["mine", "everyone", "all"]), metadata={
        "description": "mine (the default without q), everyone (files visible to everyone), "
                       "all (both; the default with q)"})


class DownloadQuery(Loose):
    redirect = fields.Boolean(load_default=True, metadata={"description": "false: answer the URL as JSON"})


class DownloadLink(Schema):
    url = fields.String(required=True)
    expires_at = UtcDateTime(required=True)


SHA256_HEX = validate.Regexp(r"^[0-9a-fA-F]{64}$", error="Not 64 hexadecimal digits.")


class UploadRequest(Loose):
    name = fields.String(required=True, validate=validate.Length(1, 255), metadata={
        "description": 'shown to people; no < > : " / \\ | ? * or control characters'})
    size = fields.Integer(required=True, strict=True, metadata={"description": "bytes, at least 1"})
    content_type = fields.String(allow_none=True, metadata={"example": "application/pdf"})
    sha256 = fields.String(allow_none=True, validate=SHA256_HEX, metadata={
        "description": "hex SHA-256 of the whole file"})
    part_checksums = fields.Boolean(load_default=False, metadata={
        "description": "multipart only: every part URL request names its part's SHA-256, checked by storage"})


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


class Upload(Schema):
    """A pending upload: either one signed PUT (method, url, headers) or multipart."""

    id = fields.String(required=True, attribute="public_id")
    name = fields.String(required=True)
    size = fields.Integer(required=True)
    content_type = fields.String(required=True)
    created_at = UtcDateTime(required=True)
    method = fields.String(metadata={"example": "PUT"})
    url = fields.String()
    headers = fields.Dict(keys=fields.String(), values=fields.String())
    multipart = fields.Nested(MultipartInfo)


class PendingUpload(Upload):
    parts = fields.List(fields.Nested(StoredPart), required=True)


class PendingUploads(Schema):
    items = fields.List(fields.Nested(PendingUpload), required=True)


class PartsRequest(Loose):
    numbers = fields.List(fields.Integer(strict=True), required=True, validate=validate.Length(1, 1000))
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
    number = fields.Integer(required=True, strict=True)
    etag = fields.String(required=True)


class CompleteRequest(Loose):
    parts = fields.List(fields.Nested(CompletedPart), metadata={"description": "multipart: every part, in order"})
    sha256 = fields.String(allow_none=True, validate=SHA256_HEX)


class ShareRequest(Loose):
    file_id = fields.String(required=True)
    expires_at = fields.String(allow_none=True, metadata={
        "description": "ISO 8601 date-time; without a zone it is UTC", "example": "2026-12-31T18:00:00Z"})
    expires_in = fields.String(allow_none=True, metadata={"description": "or a duration: 30m, 12h, 7d, 2w"})
    password = fields.String(allow_none=True, load_only=True)
    max_downloads = fields.Integer(strict=True, allow_none=True, validate=validate.Range(1, 1_000_000))
    note = fields.String(allow_none=True, validate=validate.Length(max=1000))


class ShareInfo(Schema):
    id = fields.String(required=True, attribute="public_id")
    file_id = fields.String(required=True, allow_none=True)
    file_name = fields.String(required=True, allow_none=True)
    state = fields.String(required=True, validate=validate.OneOf(["active", "expired", "used_up", "revoked"]))
    created_at = UtcDateTime(required=True)
    expires_at = UtcDateTime(required=True, allow_none=True)
    has_password = fields.Boolean(required=True)
    max_downloads = fields.Integer(required=True, allow_none=True)
    download_count = fields.Integer(required=True)
    last_download_at = UtcDateTime(required=True, allow_none=True)
    note = fields.String(required=True, allow_none=True)


class NewShare(ShareInfo):
    url = fields.String(required=True, metadata={"description": "Shown only this once: Locker keeps only its hash."})


class Shares(Schema):
    items = fields.List(fields.Nested(ShareInfo), required=True)
