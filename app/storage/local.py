"""Local-disk storage: files under STORAGE_DIR, served by signed, expiring URLs.

The URLs carry an itsdangerous token that pins the key, the method, the exact
size and content type (for uploads) or the name and type to answer with (for
downloads), and an expiry. A small blueprint streams bytes both ways in fixed
chunks, so memory stays flat whatever the file size.
"""
import hashlib
import json
import os
import re
import shutil
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

from flask import Blueprint, abort, current_app, jsonify, request, send_file, url_for
from itsdangerous import BadSignature, URLSafeSerializer

from app.storage.base import (ObjectInfo, PendingMultipart, Storage, StorageError, StoredObject, StoredPart,
                              StorageRejected, UploadRequest, content_disposition)

CHUNK_SIZE = 1024 * 1024
KEY_PATTERN = re.compile(r"^[a-z]/[0-9]+/[0-9a-f]{32}$")
UPLOAD_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
PART_NAME_PATTERN = re.compile(r"^[0-9]+$")
SAFE_RESPONSE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cache-Control": "private, no-store",
}


class LocalStorage(Storage):
    name = "local"

    def __init__(self, root, secret_key):
        self.root = Path(root)
        self.partial_dir = self.root / ".partial"
        self.multipart_dir = self.root / ".multipart"
        self.signer = URLSafeSerializer(secret_key, salt="locker.local-storage")

    def prepare(self):
        self.partial_dir.mkdir(parents=True, exist_ok=True)
        self.multipart_dir.mkdir(parents=True, exist_ok=True)

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


    def receive(self, key, claims, stream, declared_length):
        """Take an upload (a whole object or one part) and put it in place only when complete.

        Bytes go to a temporary file first, so a broken upload never leaves a
        half file under the real name. Returns (etag, None) on success, or
        (None, (status, code, message)) describing the refusal.
        """
        path = self.path_for(key)
        part = claims.get("n")
        if part is not None:
            upload_dir = self.upload_dir(claims["u"])
            if not upload_dir.is_dir():
                return None, (404, "no_such_upload", "This upload was cancelled or has expired.")
            path = upload_dir / str(part)
        elif path.exists():
            return None, (409, "already_uploaded", "This upload was already received.")
        if declared_length != claims["s"]:
            return None, (400, "size_mismatch", f"This upload must be exactly {claims['s']} bytes.")
        partial = self.partial_dir / uuid.uuid4().hex
        try:
            received, digest = _write_stream(stream, partial, claims["s"])
            if received != claims["s"]:
                return None, (400, "size_mismatch",
                              f"Received {received} bytes; this upload must be exactly {claims['s']}.")
            if claims.get("h") and digest != claims["h"]:
                return None, (400, "checksum_mismatch", "The bytes received do not match the declared SHA-256.")
            path.parent.mkdir(parents=True, exist_ok=True)
            if part is not None:
                # A part may be sent again (a retry); the newest copy wins, as on S3.
                _sidecar(path).write_text(digest)
                os.replace(partial, path)
            elif _place(partial, path):
                _sidecar(path).write_text(digest)
            else:
                # Another PUT with the same link finished while this one was streaming.
                return None, (409, "already_uploaded", "This upload was already received.")
            return digest, None
        finally:
            partial.unlink(missing_ok=True)

    def open_read(self, key):
        try:
            return self.path_for(key).open("rb")
        except FileNotFoundError as error:
            raise StorageError(f"{key} is not stored") from error

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

    def create_multipart(self, key, content_type, part_checksums=False):
        self.path_for(key)
        upload_id = uuid.uuid4().hex
        upload_dir = self.upload_dir(upload_id)
        upload_dir.mkdir(parents=True)
        (upload_dir / "upload.json").write_text(json.dumps({"key": key, "initiated": time.time()}))
        return upload_id

    def presign_part(self, key, upload_id, number, size, expires, sha256=None):
        self.path_for(key)
        self.upload_dir(upload_id)
        token = self.sign({"k": key, "m": "PUT", "u": upload_id, "n": number, "s": size, "h": sha256}, expires)
        return UploadRequest("PUT", _external_url(key, token), {})

    def list_parts(self, key, upload_id):
        upload_dir = self.upload_dir(upload_id)
        if not upload_dir.is_dir():
            return None
        parts = []
        for path in upload_dir.iterdir():
            digest = _read_sidecar(path) if PART_NAME_PATTERN.match(path.name) else None
            if digest:
                parts.append(StoredPart(int(path.name), path.stat().st_size, digest, digest))
        return sorted(parts, key=lambda part: part.number)

    def complete_multipart(self, key, upload_id, parts):
        """Stream the parts, in order, into one file (hashing as it goes) and move it into place."""
        path = self.path_for(key)
        upload_dir = self.upload_dir(upload_id)
        if not upload_dir.is_dir():
            raise StorageRejected("This upload was cancelled or has expired.")
        partial = self.partial_dir / uuid.uuid4().hex
        digest = hashlib.sha256()
        try:
            with partial.open("wb") as out:
                for part in parts:
                    part_path = upload_dir / str(part.number)
                    if _read_sidecar(part_path) != part.etag:
                        raise StorageRejected(f"Part {part.number} is missing or was sent again since it was listed.")
                    with part_path.open("rb") as source:
                        while chunk := source.read(CHUNK_SIZE):
                            digest.update(chunk)
                            out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            path.parent.mkdir(parents=True, exist_ok=True)
            if not _place(partial, path):
                raise StorageRejected("This upload was already completed.")
            _sidecar(path).write_text(digest.hexdigest())
        finally:
            partial.unlink(missing_ok=True)
        shutil.rmtree(upload_dir, ignore_errors=True)

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


def _write_stream(stream, destination, limit):
    """Copy at most `limit` + 1 bytes to `destination`, fsynced; returns (bytes received, sha256 hex)."""
    digest = hashlib.sha256()
    received = 0
    with destination.open("wb") as out:
        while chunk := stream.read(CHUNK_SIZE):
            received += len(chunk)
            if received > limit:
                break
            digest.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return received, digest.hexdigest()


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


bp = Blueprint("storage", __name__)


@bp.after_request
def _safe_headers(response):
    # Every answer from storage, refusals and framework errors included, is never
    # sniffed, rendered with scripts, or cached.
    response.headers.update(SAFE_RESPONSE_HEADERS)
    return response


def _refuse(status, code, message):
    response = jsonify(error={"code": code, "message": message})
    response.status_code = status
    return response


def _authorize(key, method):
    """The backend and the claims of this request's token, or None for a bad or expired token."""
    storage = current_app.extensions["locker.storage"]
    if not isinstance(storage, LocalStorage):
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
    if request.range:
        # The server's own file wrapper (gunicorn's sendfile) cannot seek, so a range would be
        # reached by reading and dropping every byte before it; Werkzeug's wrapper seeks.
        request.environ.pop("wsgi.file_wrapper", None)
    response = send_file(path, mimetype=claims["t"], conditional=True, etag=_read_sidecar(path) or True, max_age=0)
    response.headers["Content-Disposition"] = claims["d"]
    return response
