"""Local-disk storage: files under STORAGE_DIR, served by signed, expiring URLs.

The URLs carry an itsdangerous token that pins the key, the method, the exact
size and content type (for uploads) or the name and type to answer with (for
downloads), and an expiry. A small blueprint streams bytes both ways in fixed
chunks, so memory stays flat whatever the file size.
"""
import hashlib
import io
import json
import os
import re
import shutil
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, jsonify, request, url_for
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.utils import send_file as werkzeug_send_file
from werkzeug.wsgi import wrap_file

from app.storage.base import (Check, Health, ObjectInfo, PendingMultipart, Storage, StorageError, StoredObject,
                              StoredPart, StorageRejected, UploadRequest, content_disposition)

# The size gunicorn.conf.py has the server receive request bodies in: a read of just what
# was received is handed on without gunicorn copying a remainder, so uploads in flight hold little memory.
CHUNK_SIZE = 128 * 1024
KEY_PATTERN = re.compile(r"^[a-z]/[0-9]+/[0-9a-f]{32}$")
UPLOAD_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
PART_NAME_PATTERN = re.compile(r"^[0-9]+$")
SAFE_RESPONSE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
}
# Browsers draw PDFs with a viewer that a sandboxed document may not load (Chrome also
# needs inline styles for it), and Locker's own page frames it, so an inline PDF gets
# this policy instead. The viewers run a PDF's own scripts, if at all, apart from the page's origin.
PDF_VIEWER_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'",
    "X-Frame-Options": "SAMEORIGIN",
}


class LocalStorage(Storage):
    name = "local"

    def __init__(self, root, secret_key, public_url=None):
        self.root = Path(root)
        self.public_url = public_url
        self.partial_dir = self.root / ".partial"
        self.multipart_dir = self.root / ".multipart"
        self.signer = URLSafeSerializer(secret_key, salt="locker.local-storage")

    def browser_origin(self):
        """PUBLIC_URL's origin, which signed URLs use (_external_url), when set; the page's own otherwise.

        A page reached under another name (a LAN address while PUBLIC_URL names the host) loads bytes from there."""
        if not self.public_url:
            return None
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    def prepare(self):
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        self.multipart_dir.mkdir(parents=True, exist_ok=True)

    def setup(self, origins):
        existed = self.multipart_dir.exists()
        self.prepare()
        return not existed

    def check(self, origin):
        writable = os.access(self.root, os.W_OK)
        yield Check("folder", writable, f"{self.root} is {'' if writable else 'not '}writable")
        yield Check("signed urls", True, "Locker serves and checks its own signed, expiring URLs")

    def path_for(self, key):
        if not KEY_PATTERN.match(key):
            raise StorageError(f"not a storage key: {key!r}")
        return self.root / key

    def sign(self, claims, expires):
        return self.signer.dumps({**claims, "e": int(time.time()) + int(expires)})

    def read_token(self, token, key, method):
        """The claims of a valid, unexpired token for this key and method, else None."""
        try:
            claims = self.signer.loads(token)
        except BadSignature:
            return None
        if claims.get("k") != key or claims.get("m") != method or claims.get("e", 0) < time.time():
            return None
        return claims

    def presign_upload(self, key, size, content_type, expires, sha256=None):
        self.path_for(key)
        token = self.sign({"k": key, "m": "PUT", "s": size, "t": content_type, "h": sha256}, expires)
        return UploadRequest("PUT", _external_url(key, token), {"Content-Type": content_type})

    def stat(self, key):
        path = self.path_for(key)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return None
        digest = _read_sidecar(path)
        return ObjectInfo(size=size, etag=digest, sha256=digest)

    def download_url(self, key, filename, content_type, expires, inline=False):
        self.path_for(key)
        token = self.sign({"k": key, "m": "GET", "t": content_type,
                           "d": content_disposition(filename, inline)}, expires)
        return _external_url(key, token)

    def delete(self, key):
        path = self.path_for(key)
        for victim in (path, _sidecar(path)):
            try:
                victim.unlink()
            except FileNotFoundError:
                pass

    def health(self):
        if not os.access(self.root, os.W_OK):
            raise StorageError(f"{self.root} is not writable")
        return Health()


    def receive(self, key, claims, stream, declared_length):
        """Take an upload (a whole object or one part) and put it in place only when complete.

        Bytes go to a temporary file first, so a broken upload never leaves a
        half file under the real name. Returns (etag, None) on success, or
        (None, (status, code, message)) describing the refusal.
        """
        path = self.path_for(key)
        if claims.get("n") is not None:
            return self.receive_part(claims, stream, declared_length)
        if path.exists():
            return None, (409, "already_uploaded", "This upload was already received.")
        if declared_length != claims["s"]:
            return None, (400, "size_mismatch", f"This upload must be exactly {claims['s']} bytes.")
        partial = self.partial_dir / uuid.uuid4().hex
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                received, digest = _write_at(stream, fd, 0, claims["s"])
            finally:
                os.close(fd)
            refusal = _check_received(claims, received, digest)
            if refusal:
                return None, refusal
            path.parent.mkdir(parents=True, exist_ok=True)
            if not _place(partial, path):
                # Another PUT with the same link finished while this one was streaming.
                return None, (409, "already_uploaded", "This upload was already received.")
            _sidecar(path).write_text(digest)
            return digest, None
        finally:
            partial.unlink(missing_ok=True)

    def receive_part(self, claims, stream, declared_length):
        """Write one part straight into the upload's data file at its offset, so completing copies nothing.

        The part's record is removed first and written last: a part sent again
        that fails midway reads as missing (to be sent once more), never as done.
        """
        upload_dir = self.upload_dir(claims["u"])
        if not upload_dir.is_dir():
            return None, (404, "no_such_upload", "This upload was cancelled or has expired.")
        if declared_length != claims["s"]:
            return None, (400, "size_mismatch", f"This part must be exactly {claims['s']} bytes.")
        record = upload_dir / f"{claims['n']}.part"
        record.unlink(missing_ok=True)
        fd = os.open(upload_dir / "data", os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            received, digest = _write_at(stream, fd, claims["o"], claims["s"])
        finally:
            os.close(fd)
        refusal = _check_received(claims, received, digest)
        if refusal:
            return None, refusal
        record.write_text(json.dumps({"size": received, "sha256": digest}))
        return digest, None

    def open_read(self, key):
        try:
            return self.path_for(key).open("rb")
        except FileNotFoundError as error:
            raise StorageError(f"{key} is not stored") from error

    def read_head(self, key, length):
        with self.open_read(key) as stream:
            return stream.read(length)

    def iter_objects(self, prefix):
        for path in sorted((self.root / prefix).rglob("*") if (self.root / prefix).is_dir() else []):
            key = path.relative_to(self.root).as_posix()
            if KEY_PATTERN.match(key) and path.is_file():
                info = path.stat()
                yield StoredObject(key, info.st_size, _utc(info.st_mtime))

    # Multipart: each part is a file in .multipart/<upload id>/, joined on completion.

    def upload_dir(self, upload_id):
        if not UPLOAD_ID_PATTERN.match(upload_id or ""):
            raise StorageError(f"not an upload id: {upload_id!r}")
        return self.multipart_dir / upload_id

    def create_multipart(self, key, content_type, part_checksums=False, part_size=None):
        self.path_for(key)
        upload_id = uuid.uuid4().hex
        upload_dir = self.upload_dir(upload_id)
        upload_dir.mkdir(parents=True)
        (upload_dir / "upload.json").write_text(json.dumps({"key": key, "initiated": time.time(),
                                                            "part_size": part_size}))
        return upload_id

    def presign_part(self, key, upload_id, number, size, expires, sha256=None):
        self.path_for(key)
        try:
            part_size = json.loads((self.upload_dir(upload_id) / "upload.json").read_text())["part_size"]
        except (FileNotFoundError, ValueError, KeyError) as error:
            raise StorageRejected("This upload was cancelled or has expired.") from error
        if not part_size:
            raise StorageError("this upload was started without a part size")
        token = self.sign({"k": key, "m": "PUT", "u": upload_id, "n": number, "s": size, "h": sha256,
                           "o": (number - 1) * part_size}, expires)
        return UploadRequest("PUT", _external_url(key, token), {})

    def list_parts(self, key, upload_id):
        upload_dir = self.upload_dir(upload_id)
        if not upload_dir.is_dir():
            return None
        parts = []
        for record in upload_dir.glob("*.part"):
            number = record.name[:-len(".part")]
            if PART_NAME_PATTERN.match(number):
                facts = json.loads(record.read_text())
                parts.append(StoredPart(int(number), facts["size"], facts["sha256"], facts["sha256"]))
        return sorted(parts, key=lambda part: part.number)

    def complete_multipart(self, key, upload_id, parts):
        """Check the parts' records, hash the data file they were written into, and move it into place."""
        path = self.path_for(key)
        upload_dir = self.upload_dir(upload_id)
        stored = {part.number: part for part in (self.list_parts(key, upload_id) or [])}
        if not upload_dir.is_dir():
            raise StorageRejected("This upload was cancelled or has expired.")
        for part in parts:
            if part.number not in stored or stored[part.number].etag != part.etag:
                raise StorageRejected(f"Part {part.number} is missing or was sent again since it was listed.")
        data = upload_dir / "data"
        total = sum(part.size for part in parts)
        digest = hashlib.sha256()
        with data.open("rb+") as joined:
            joined.truncate(total)
            while chunk := joined.read(CHUNK_SIZE):
                digest.update(chunk)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not _place(data, path):
            raise StorageRejected("This upload was already completed.")
        _sidecar(path).write_text(digest.hexdigest())
        shutil.rmtree(upload_dir, ignore_errors=True)
        return ObjectInfo(size=total, etag=digest.hexdigest(), sha256=digest.hexdigest())

    def abort_multipart(self, key, upload_id):
        shutil.rmtree(self.upload_dir(upload_id), ignore_errors=True)

    def iter_multipart_uploads(self, prefix):
        for upload_dir in sorted(self.multipart_dir.iterdir()):
            try:
                info = json.loads((upload_dir / "upload.json").read_text())
            except (FileNotFoundError, ValueError):
                continue
            if info["key"].startswith(prefix):
                yield PendingMultipart(info["key"], upload_dir.name, _utc(info["initiated"]))


def _utc(timestamp):
    return datetime.fromtimestamp(timestamp, timezone.utc).replace(tzinfo=None)


def _write_at(stream, fd, offset, limit):
    """Copy the stream to `fd` from `offset`, stopping past `limit` bytes, fsynced; returns (bytes read, sha256 hex)."""
    digest = hashlib.sha256()
    received = 0
    while chunk := stream.read(CHUNK_SIZE):
        if received + len(chunk) > limit:
            received += len(chunk)
            break
        os.pwrite(fd, chunk, offset + received)
        digest.update(chunk)
        received += len(chunk)
    os.fsync(fd)
    return received, digest.hexdigest()


def _check_received(claims, received, digest):
    """The refusal for bytes that do not match what the URL was signed for, or None."""
    if received != claims["s"]:
        return 400, "size_mismatch", f"Received {received} bytes; this upload must be exactly {claims['s']}."
    if claims.get("h") and digest != claims["h"]:
        return 400, "checksum_mismatch", "The bytes received do not match the declared SHA-256."
    return None


def _place(partial, path):
    """Put a finished upload at `path` unless something is already there; False if it was.

    A hard link fails when `path` exists, so two PUTs racing on one key cannot
    both win (a plain rename would let the second silently replace the first).
    """
    try:
        os.link(partial, path)
    except FileExistsError:
        return False
    except OSError:
        # No hard links on this file system (exFAT, some network mounts): best effort.
        if path.exists():
            return False
        os.replace(partial, path)
    return True


def _sidecar(path):
    return path.with_name(path.name + ".sha256")


def _read_sidecar(path):
    try:
        return _sidecar(path).read_text().strip() or None
    except FileNotFoundError:
        return None


def _external_url(key, token):
    """An absolute URL for the object, on PUBLIC_URL when set, else the host the client used."""
    public_url = current_app.config.get("PUBLIC_URL")
    if public_url:
        return public_url.rstrip("/") + url_for("storage.serve_object", key=key, sig=token)
    return url_for("storage.serve_object", key=key, sig=token, _external=True)


def _range_as_rfc_9110_reads_it(environ, parsed, size):
    """The environ to answer with, its Range restated where Werkzeug would wrongly answer 416.

    RFC 9110 answers 416 only for a valid range the file cannot satisfy. A malformed Range, or
    several ranges, may be ignored (as S3 does): without the header, the whole file. A suffix
    longer than the file means the whole file, sent as a 206.
    """
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        return {name: value for name, value in environ.items() if name != "HTTP_RANGE"}
    start, stop = parsed.ranges[0]
    if start < 0 and stop is None and -start > size:
        return {**environ, "HTTP_RANGE": "bytes=0-"}
    return environ


class _FileSlice(io.RawIOBase):
    """A file that ends at `stop`, opened at `start`; positions are the file's own.

    fileno() and seek() are the file's, for sendfile (socket.sendfile seeks the file it sends).
    """

    def __init__(self, path, start, stop):
        super().__init__()
        self.file = open(path, "rb")
        self.file.seek(start)
        self.stop = stop

    def readable(self):
        return True

    def seekable(self):
        return True

    def fileno(self):
        return self.file.fileno()

    def seek(self, offset, whence=io.SEEK_SET):
        return self.file.seek(offset, whence)

    def tell(self):
        return self.file.tell()

    def read(self, size=-1):
        left = max(0, self.stop - self.file.tell())
        size = left if size is None or size < 0 else min(size, left)
        return self.file.read(size) if size else b""

    def readinto(self, buffer):
        chunk = self.read(len(buffer))
        buffer[:len(chunk)] = chunk
        return len(chunk)

    def close(self):
        self.file.close()
        super().close()


bp = Blueprint("storage", __name__)


@bp.after_request
def _safe_headers(response):
    # Every answer from storage, refusals and framework errors included, is never
    # sniffed, rendered with scripts, or cached; an inline PDF gets the viewer's policy.
    response.headers.update(SAFE_RESPONSE_HEADERS)
    if (response.mimetype == "application/pdf"
            and response.headers.get("Content-Disposition", "").startswith("inline")):
        response.headers.update(PDF_VIEWER_HEADERS)
    return response


def _refuse(status, code, message):
    response = jsonify(error={"code": code, "message": message})
    response.status_code = status
    return response


def _authorize(key, method):
    """The backend and the claims of this request's token, or None for a bad or expired token."""
    storage = current_app.extensions["locker.storage"]
    if storage.name != LocalStorage.name:
        abort(404)
    return storage, storage.read_token(request.args.get("sig", ""), key, method)


@bp.put("/_storage/<path:key>")
def receive_object(key):
    storage, claims = _authorize(key, "PUT")
    if claims is None:
        return _refuse(403, "invalid_signature", "This upload link is invalid or has expired.")
    if claims.get("t") and request.mimetype != claims["t"].split(";")[0].strip().lower():
        return _refuse(403, "content_type_mismatch", f"This upload must be sent as {claims['t']}.")
    etag, refusal = storage.receive(key, claims, request.stream, request.content_length)
    if refusal:
        return _refuse(*refusal)
    response = current_app.response_class(status=200)
    response.headers["ETag"] = f'"{etag}"'
    return response


@bp.get("/_storage/<path:key>")
def serve_object(key):
    storage, claims = _authorize(key, "GET")
    if claims is None:
        return _refuse(403, "invalid_signature", "This download link is invalid or has expired.")
    path = storage.path_for(key)
    if not path.is_file():
        return _refuse(404, "not_found", "This file is no longer stored.")
    environ = request.environ
    if "HTTP_RANGE" in environ:
        environ = _range_as_rfc_9110_reads_it(environ, request.range, path.stat().st_size)
    response = werkzeug_send_file(path, environ, mimetype=claims["t"], conditional=True,
                                  etag=_read_sidecar(path) or True, max_age=0,
                                  use_x_sendfile=current_app.config["USE_X_SENDFILE"],
                                  response_class=current_app.response_class)
    if response.status_code == 206:
        # Werkzeug reaches a range through the server's file wrapper, which cannot seek (it would
        # read and drop every earlier byte) and which the server may send whole with sendfile.
        # A slice positioned at the range's start, in the server's own wrapper, is sent from
        # there for Content-Length bytes (PEP 3333), by gunicorn with sendfile.
        response.response.close()
        response.response = wrap_file(request.environ, _FileSlice(path, response.content_range.start,
                                                                  response.content_range.stop), CHUNK_SIZE)
    response.headers["Content-Disposition"] = claims["d"]
    if ";" in claims["t"]:
        # A type that names its charset already (text previews) would get a second one from send_file.
        response.headers["Content-Type"] = claims["t"]
    return response
