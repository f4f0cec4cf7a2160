"""Helpers the services share."""
import base64
import binascii
import json
import logging
import re
from urllib.parse import urlsplit

from flask import current_app, url_for

from app import json_limits
from app.errors import Conflict, InvalidInput, NotFound, Unavailable
from app.extensions import db
from app.models import File, FileProblem, FileStatus
from app.storage import StorageError, StorageReadOnly, StorageRejected

log = logging.getLogger(__name__)
PUBLIC_ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
# What pack_cursor makes: unpadded URL-safe base64. The API's document states it as the cursors' pattern.
CURSOR_PATTERN = r"^[A-Za-z0-9_-]+$"
CURSOR = re.compile(CURSOR_PATTERN)
# Row ids are 32-bit integers on PostgreSQL: a larger one in a cursor names no row, and comparing
# with it would fail in the database instead of being refused here.
MAX_ROW_ID = 2 ** 31 - 1


def is_public_id(value):
    """True for an id Locker hands out (32 hex digits); anything else names nothing, so no query is needed."""
    return isinstance(value, str) and PUBLIC_ID_PATTERN.match(value) is not None


def find_ready_file(public_id, *conditions):
    """The ready file with this id that also meets `conditions` (who may see it), or NotFound.

    A file the conditions rule out is as absent as a missing one.
    """
    if not is_public_id(public_id):
        raise NotFound("No such file.")
    file = db.session.execute(db.select(File).filter(
        File.public_id == public_id, File.status == FileStatus.READY, *conditions)).scalar_one_or_none()
    if file is None:
        raise NotFound("No such file.")
    return file


def refuse_damaged(file):
    """A file whose stored bytes are gone or changed is neither downloaded nor shared as if it were fine."""
    if file.problem:
        raise Conflict(FileProblem.MESSAGES[file.problem], code=f"bytes_{file.problem}")


def public_origin():
    """The origin browsers reach Locker at, from PUBLIC_URL; None when it is not set."""
    parts = urlsplit(current_app.config.get("PUBLIC_URL") or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def public_link(endpoint, token):
    """The full address of a link page for people outside Locker, under PUBLIC_URL when set."""
    public_url = current_app.config.get("PUBLIC_URL")
    if public_url:
        return public_url.rstrip("/") + url_for(endpoint, token=token)
    return url_for(endpoint, token=token, _external=True)


def storage_call(operation, *args, **kwargs):
    """Run a storage operation, turning an outage into a clear 503 and a refusal into a 400."""
    try:
        return operation(*args, **kwargs)
    except StorageRejected as error:
        raise InvalidInput(f"Storage refused the upload: {error}", code="storage_rejected") from error
    except StorageReadOnly as error:
        log.warning("storage takes no new files: %s", error)
        raise Unavailable("File storage cannot take new files right now (one of its servers is down); files "
                          "already stored can still be downloaded. Try again later.",
                          code="storage_read_only") from error
    except StorageError as error:
        log.warning("storage unavailable: %s", error)
        raise Unavailable("File storage is not reachable right now. Try again in a minute.",
                          code="storage_unavailable") from error


def pack_cursor(payload):
    """A page cursor: a keyset position (JSON) as unpadded URL-safe base64."""
    return base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")


def unpack_cursor(cursor, read):
    """`read(payload)` of a cursor from pack_cursor; a cursor that isn't one (read raises ValueError) is a clear 400."""
    try:
        # b64decode skips characters outside its alphabet, so without this check "ab!c" would pass as "abc".
        if not isinstance(cursor, str) or CURSOR.fullmatch(cursor) is None:
            raise ValueError
        return read(json_limits.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode())))
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("That page cursor is not valid; start again from the first page.",
                           code="invalid_cursor") from None
