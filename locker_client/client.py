"""The Locker client: files, uploads and downloads over Locker's JSON API.

    from locker_client import Locker

    with Locker("https://locker.example.org", token="lk_…") as lk:
        print(lk.me().username)
        file = lk.upload("video.mkv")             # single PUT or parallel parts, resumable
        lk.download(file.id, "copy.mkv")          # verified against the recorded SHA-256
        for f in lk.files():                      # every page, every folder (f.path says which)
            print(f.name, f.size)
        lk.upload_dir("photos/", to="Photos/2024")   # a tree, in batches and in parallel; run again to resume
        lk.download_dir("Photos/2024", "copy/")      # the tree back, each file SHA-256 checked

File bytes never pass through Locker: uploads go to the signed storage URLs
the API hands out (one PUT, or parts), downloads come from a signed URL.

How an upload hashes (documented choice): a file sent in one PUT is read once
first to compute its SHA-256, which its signed PUT pins, so storage (or
Locker, on completion) checks the bytes against it. A multipart file starts
at once: one sequential read computes every part's SHA-256 and the whole
file's together; each part's URL is signed with its checksum as soon as that
part has been read, and the part is streamed from disk (a second read, usually
from the OS page cache). The whole file's SHA-256 is declared on completion.
Memory stays at about one 1 MiB buffer per worker whatever the file size.

How a download goes: a file above 16 MiB comes as 16 MiB ranges, ``workers``
at a time (as boto3's ``download_file`` does), each written at its place in a
temporary file; the SHA-256 is taken in order as the ranges land, reading each
back from the OS page cache. Files Locker serves itself (local storage), and
storage that answers a range with the whole file, come in one stream instead.

How an upload resumes: when a multipart upload starts, a small record (server,
absolute path, size, mtime, name, SHA-256, upload id) is saved in the user's
state directory (see :mod:`locker_client.state`). Running the same upload
again finds it, asks Locker which parts storage already holds
(``GET /uploads/<id>/parts``) and sends only the missing ones. A file whose
size, mtime, name or SHA-256 changed is uploaded afresh and the stale upload
cancelled.
"""
from __future__ import annotations

import hashlib
import os
import random
import re
import stat as stat_module
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime, timedelta, timezone
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from locker_client import __version__
from locker_client.errors import (AuthenticationError, ChecksumMismatchError, ConflictError, ConnectionFailed,
                                  InvalidRequestError, LockerError, NotFoundError, QuotaExceededError, ServerError, TransferError,
                                  UnsupportedFeatureError, error_for_status)
from locker_client.models import Account, File, Folder, FolderEntry, FolderListing, Share, Trash, TrashItem, TreeTransfer
from locker_client.state import UploadState, UploadStateStore

API_PREFIX = "/api/v1"
CHUNK_SIZE = 1024 * 1024
DEFAULT_TIMEOUT = (10.0, 120.0)  # seconds to connect, seconds to wait for each answer
# A file above this size that is hashed before its upload starts has the quota checked first
# (POST /uploads checks it too, but only after the long hashing pass).
QUOTA_PRECHECK_SIZE = 64 * 1024 * 1024
BATCH_SIZE = 100  # uploads one POST /uploads/batch or /uploads/complete takes, URLs one POST /files/download-links gives
# A download URL asked for ahead is used only with this long left; else the file asks for its own.
LINK_MARGIN = 30.0
# A download larger than this comes as ranges of this size, `workers` at a time, as boto3's
# download_file does: one stream is held to one connection's (and one server thread's) pace.
RANGE_SIZE = 16 * 1024 * 1024
# Part URLs one signing call asks for at most: each call is a request the server answers, and a
# database write, that the parts' bytes would otherwise wait on.
SIGN_AHEAD = 8
# The status a per-item completion error would have had as its own request.
ITEM_ERROR_STATUS = {"not_found": 404, "upload_missing": 409, "already_completed": 409, "upload_gone": 409,
                     "storage_unavailable": 503}
MAX_SEARCH_LENGTH = 100  # the longest `q` GET /files accepts
SHARES_UNSUPPORTED = "this Locker server does not support share links yet"

ProgressCallback = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: phase is ``"hashing"``, ``"uploading"`` or ``"downloading"``;
done and total are bytes. Called from worker threads, one call at a time."""


def normalize_url(url: str) -> str:
    """``https://host/`` or ``https://host/api/v1`` to ``https://host``; refuses anything but http(s)."""
    text = (url or "").strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise LockerError(f"{text!r} is not a Locker address; give it as http://host[:port] or https://host.",
                          code="invalid_url")
    path = parts.path.rstrip("/")
    if path.endswith(API_PREFIX):
        path = path[:-len(API_PREFIX)]
    return f"{parts.scheme}://{parts.netloc}{path}"


def parse_duration(text: str | int | float | timedelta) -> timedelta:
    """``"7d"``, ``"12h"``, ``"30m"``, ``"90s"``, ``"2w"`` or a number of seconds, as a timedelta."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return timedelta(seconds=text)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(text).lower())
    if not match:
        raise ValueError(f"{text!r} is not a duration such as 7d, 12h, 30m or 90s")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}[match.group(2)]
    return timedelta(seconds=float(match.group(1)) * unit)


def expiry_timestamp(expires: datetime | timedelta | str | int | float) -> str:
    """When something expires, as ISO 8601 UTC (``…Z``): a datetime (naive means UTC), or a duration from now."""
    if isinstance(expires, datetime):
        moment = expires if expires.tzinfo else expires.replace(tzinfo=timezone.utc)
    else:
        moment = datetime.now(timezone.utc) + parse_duration(expires)
    return moment.astimezone(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def describe_connection_error(error: BaseException) -> str:
    """A short reason for a failed connection: 'connection refused', 'timed out', …"""
    if isinstance(error, requests.exceptions.SSLError):
        return "TLS/SSL failed (is the address http rather than https, or the certificate untrusted?)"
    if isinstance(error, (requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout)):
        return "timed out"
    text = str(error)
    match = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if match:
        reason = match.group(1).strip().rstrip(".")
        return reason[:1].lower() + reason[1:]
    if "RemoteDisconnected" in text or "Connection aborted" in text:
        return "the connection was closed before an answer came"
    return text[:200] or type(error).__name__


def _seconds_until(timestamp: str | None) -> float:
    """Seconds from now until an ISO 8601 time the server gave (0 when it gave none it could read)."""
    try:
        moment = datetime.fromisoformat(str(timestamp))
    except ValueError:
        return 0.0
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - datetime.now(timezone.utc)).total_seconds()


def _keep(chunk: bytes, digest: Any, out: Any) -> None:
    digest.update(chunk)
    out.write(chunk)


def _unless_stopped(stop: threading.Event, task: Callable[..., Any], *args: Any) -> Any:
    """`task(*args)`, unless `stop` was set before its turn came (then _Stopped)."""
    if stop.is_set():
        raise _Stopped()
    return task(*args)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _write_behind(fd: int, offset: int, length: int) -> None:
    """Have the OS start writing a checked range to disk now (Linux: fadvise starts writeback of dirty
    pages), so the fsync before the rename has little left to wait for."""
    if hasattr(os, "posix_fadvise"):
        os.posix_fadvise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def _hash_back(fd: int, offset: int, length: int, digest: Any) -> None:
    """Add bytes offset..offset+length of the open file `fd` to `digest`."""
    end = offset + length
    while offset < end:
        chunk = os.pread(fd, min(CHUNK_SIZE, end - offset), offset)
        if not chunk:
            raise TransferError("the downloaded file became shorter while it was being checked", code="file_changed")
        digest.update(chunk)
        offset += len(chunk)


def storage_message(response: requests.Response) -> str:
    """What storage said when it refused a request: Locker's JSON error or S3's XML <Message>."""
    try:
        body = response.json()
        message = body["error"]["message"]
        if isinstance(message, str):
            return message
    except (ValueError, KeyError, TypeError):
        pass
    match = re.search(r"<Message>(.*?)</Message>", response.text or "", re.S)
    if match:
        code = re.search(r"<Code>(.*?)</Code>", response.text or "")
        return f"{code.group(1)}: {match.group(1)}" if code else match.group(1)
    return f"{response.status_code} {response.reason or ''}".strip()


def safe_file_name(name: str) -> str:
    """A stored file's name as a single path component (Locker's names already are; this makes sure)."""
    cleaned = name.replace("/", "_").replace("\\", "_").replace("\0", "_").strip()
    return cleaned if cleaned not in ("", ".", "..") else "download"


def _target(folder: str | Folder | None, path: str | None) -> dict[str, str]:
    """The ``folder`` and ``path`` of an upload's body, leaving out what is not given."""
    target: dict[str, str] = {}
    folder_id = folder_ref(folder) if isinstance(folder, Folder) else folder
    if folder_id and folder_id != "root":
        target["folder"] = str(folder_id)
    cleaned = "/".join(part for part in (path or "").replace("\\", "/").split("/") if part not in ("", "."))
    if cleaned:
        target["path"] = cleaned
    return target


def is_id(text: str) -> bool:
    """Whether `text` looks like a Locker id (32 hexadecimal digits)."""
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)


def folder_ref(folder: Folder | FolderEntry) -> str:
    """How to name a folder to the API: ``"root"`` for the root folder (whose id a new account may not
    have kept yet), else its id."""
    return "root" if isinstance(folder, Folder) and folder.is_root else folder.id


def split_remote_path(path: str) -> list[str]:
    """``"Photos/2024"`` (either slash, leading or trailing ones ignored) as its folder names."""
    parts = [part for part in str(path).replace("\\", "/").split("/") if part not in ("", ".")]
    if ".." in parts:
        raise InvalidRequestError("A Locker path can't go up with '..'.", code="invalid_path")
    return parts


def find_in_trash(items: Sequence[TrashItem], given: str) -> TrashItem:
    """The trash item with this id, else the one with this original path, else the one with this name."""
    for matches in ([item for item in items if item.id == given],
                    [item for item in items if item.original_path == given.strip("/")],
                    [item for item in items if item.name == given]):
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise ConflictError(f"{len(matches)} items in the trash are called {given}; give the id instead.",
                                code="ambiguous")
    raise NotFoundError(f"Nothing in the trash is called {given}.", code="not_found", status=404)


def is_numbered_copy(candidate: str, name: str) -> bool:
    """Whether `candidate` is the name Locker gives `name` when it is taken: ``"report (2).pdf"`` for ``report.pdf``."""
    match = re.fullmatch(r"(.+) \((\d+)\)(.*)", candidate)
    return bool(match) and match.group(1) + match.group(3) == name


def _same_file(target: Path, file: File) -> bool:
    """Whether `target` is a regular file with the file's size and (recorded) SHA-256."""
    try:
        if not target.is_file() or target.stat().st_size != file.size or not file.sha256:
            return False
        digest = hashlib.sha256()
        with open(target, "rb") as handle:
            while chunk := handle.read(CHUNK_SIZE):
                digest.update(chunk)
        return digest.hexdigest() == file.sha256
    except OSError:
        return False


def _drop_partial(target: Path) -> None:
    """Remove what an earlier, killed download of `target` left (its temporary files)."""
    for leftover in target.parent.glob(f".{glob_escape(target.name[:80])}.*.locker-download"):
        leftover.unlink(missing_ok=True)


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


class _Overall:
    """One progress total over many files: each file's callback, added up (a retry's rewind included)."""

    def __init__(self, callback: ProgressCallback | None, phase: str, total: int) -> None:
        self.callback, self.phase, self.total = callback, phase, total
        self.done: dict[int, int] = {}
        self.lock = threading.Lock()
        self.report()

    def report(self) -> None:
        if self.callback is not None:
            self.callback(self.phase, sum(self.done.values()), self.total)

    def for_item(self, index: int) -> ProgressCallback:
        def report(phase: str, done: int, total: int) -> None:
            if phase != self.phase:
                return  # hashing is not counted
            with self.lock:
                self.done[index] = done
                self.report()
        return report

    def finish(self, index: int, size: int) -> None:
        with self.lock:
            self.done[index] = size
            self.report()


class _AtOnce:
    """An executor that runs each task as it is submitted, in the caller's thread."""

    def __enter__(self) -> _AtOnce:
        return self

    def __exit__(self, *exc: Any) -> None:
        return None

    def submit(self, task: Callable[..., Any], *args: Any) -> Future[Any]:
        done: Future[Any] = Future()
        try:
            done.set_result(task(*args))
        except BaseException as error:
            done.set_exception(error)
        return done


class _Stopped(Exception):
    """Raised inside workers once another part failed or the user interrupted."""


class _NoRanges(Exception):
    """Storage answered a ranged GET with the whole file: it does not serve ranges."""


class _Meter:
    """Counts transferred bytes and reports them, one callback at a time, from any thread."""

    def __init__(self, callback: ProgressCallback | None, phase: str, total: int, done: int = 0) -> None:
        self.callback = callback
        self.phase = phase
        self.total = total
        self.done = done
        self.lock = threading.Lock()
        self.report()

    def add(self, count: int) -> None:
        with self.lock:
            self.done += count
            if self.callback:
                self.callback(self.phase, self.done, self.total)

    def report(self) -> None:
        if self.callback:
            with self.lock:
                self.callback(self.phase, self.done, self.total)


class _FileSlice:
    """Bytes offset..offset+length of a file, read 1 MiB at a time as a request body.

    ``__len__`` gives requests the Content-Length (storage needs the exact size);
    iterating streams from disk, so memory stays flat whatever the part size.
    """

    def __init__(self, path: Path, offset: int, length: int, meter: _Meter, stop: threading.Event) -> None:
        self.path, self.offset, self.length = path, offset, length
        self.meter, self.stop = meter, stop
        self.sent = 0

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[bytes]:
        with open(self.path, "rb") as source:
            source.seek(self.offset)
            remaining = self.length
            while remaining:
                if self.stop.is_set():
                    raise _Stopped()
                chunk = source.read(min(CHUNK_SIZE, remaining))
                if not chunk:
                    raise _Stopped(f"{self.path} became shorter while it was being sent")
                remaining -= len(chunk)
                self.sent += len(chunk)
                self.meter.add(len(chunk))
                yield chunk

    def rewind(self) -> None:
        """Take back from the meter what a failed attempt had counted."""
        if self.sent:
            self.meter.add(-self.sent)
            self.sent = 0


class _PartDigests:
    """One sequential read of a file gives the SHA-256 of each wanted part and of the whole, hashed as read.

    The parts' PUTs wait for their own digest (`part`); reading and hashing run far ahead of the
    network, so they rarely wait, and no byte is read for hashing twice.
    """

    def __init__(self, source: Path, size: int, part_size: int, wanted: list[int], stop: threading.Event) -> None:
        self.source, self.size, self.part_size, self.stop = source, size, part_size, stop
        self.parts: dict[int, Future[str]] = {number: Future() for number in wanted}

    def run(self) -> str:
        """Read the file once; returns the whole file's SHA-256 (hex), each wanted part's digest set on the way."""
        try:
            return self._read()
        except BaseException as error:
            for pending in self.parts.values():
                if not pending.done():
                    pending.set_exception(error)
            raise

    def _read(self) -> str:
        whole = hashlib.sha256()
        read = 0
        with open(self.source, "rb") as handle:
            for number in range(1, (self.size + self.part_size - 1) // self.part_size + 1):
                part = hashlib.sha256() if number in self.parts else None
                remaining = min(self.part_size, self.size - read)
                while remaining:
                    if self.stop.is_set():
                        raise _Stopped()
                    chunk = handle.read(min(CHUNK_SIZE, remaining))
                    if not chunk:
                        raise LockerError(f"{self.source} became shorter while it was being uploaded.",
                                          code="file_changed")
                    whole.update(chunk)
                    if part is not None:
                        part.update(chunk)
                    remaining -= len(chunk)
                    read += len(chunk)
                if part is not None:
                    self.parts[number].set_result(part.hexdigest())
            if handle.read(1):
                raise LockerError(f"{self.source} grew while it was being uploaded; upload it again.",
                                  code="file_changed")
        return whole.hexdigest()

    def ready(self, number: int) -> bool:
        """Whether part `number` needs no digest or has it already."""
        pending = self.parts.get(number)
        return pending is None or (pending.done() and pending.exception() is None)

    def value(self, number: int) -> str | None:
        """Part `number`'s digest, when ready(number); None for a part that needs none."""
        pending = self.parts.get(number)
        return None if pending is None else pending.result()

    def part(self, number: int, stop: threading.Event) -> str:
        """Part `number`'s SHA-256 once read; _Stopped when `stop` is set first."""
        while True:
            try:
                return self.parts[number].result(timeout=0.1)
            except FutureTimeout:
                if stop.is_set():
                    raise _Stopped() from None


class _PartSigner:
    """Part URLs, signed several to a call: asked for one part, it also signs the parts not yet handed
    out whose digests are ready (up to SIGN_AHEAD in all), and hands those out from then on.

    A part's URL is signed for an hour (UPLOAD_URL_EXPIRY), far longer than the few parts ahead
    wait; one refused as expired is signed again on its own (`ahead=False`).
    """

    def __init__(self, locker: Locker, upload_id: str, wanted: list[int], digests: _PartDigests) -> None:
        self.locker, self.upload_id, self.wanted, self.digests = locker, upload_id, wanted, digests
        self.signed: dict[int, dict[str, Any]] = {}
        self.handed: set[int] = set()
        self.lock = threading.Lock()

    def sign(self, number: int, checksum: str | None, ahead: bool = True) -> dict[str, Any]:
        with self.lock:
            kept = self.signed.pop(number, None)
            if kept is not None and ahead:
                self.handed.add(number)
                return kept
            batch = {number: checksum}
            if ahead:
                for other in self.wanted:
                    if len(batch) == SIGN_AHEAD:
                        break
                    if (other not in batch and other not in self.handed and other not in self.signed
                            and self.digests.ready(other)):
                        batch[other] = self.digests.value(other)
            signed = self.locker._sign_parts(self.upload_id, batch)
            self.handed.add(number)
            self.signed.update({other: url for other, url in signed.items() if other != number})
            return signed[number]


def _new_session(pool_size: int) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(10, pool_size + 2))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class Locker:
    """A connection to one Locker server as one user.

    Give either an API ``token`` (``lk_…``), or ``username`` and ``password``:
    then a token is created now and revoked by :meth:`close` (or on leaving a
    ``with`` block).

    Args:
        url: the server's address, e.g. ``https://locker.example.org``.
        token: an API token.
        username, password: to create a token for this session instead.
        code: with them, for an account with two-factor sign-in: the code its authenticator app shows now
            (or a recovery code). Without it such an account raises AuthenticationError with code
            ``two_factor_required``: ask the person for one and try again.
        token_name: the name of that token (shown on the account page).
        session: a ``requests.Session`` to use (proxies, certificates, tests).
        timeout: ``(connect, read)`` seconds for each request.
        workers: parts sent at once in multipart uploads.
        retries: extra attempts for a part (or a single PUT, or a download) after a
            connection error or a 5xx answer; waits grow from ``retry_backoff`` seconds.
        state_dir: where unfinished uploads are remembered (see :mod:`locker_client.state`).

    Raises:
        AuthenticationError: wrong username or password.
        ConnectionFailed: the server could not be reached.
    """

    def __init__(self, url: str, token: str | None = None, *, username: str | None = None,
                 password: str | None = None, code: str | None = None, token_name: str = "locker_client",
                 session: requests.Session | None = None, timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
                 workers: int = 4, retries: int = 4, retry_backoff: float = 0.5,
                 state_dir: str | os.PathLike[str] | None = None) -> None:
        if token is None and (username is None or password is None):
            raise ValueError("give a token, or a username and a password")
        self.url = normalize_url(url)
        self.timeout = timeout
        self.workers = max(1, int(workers))
        self.retries = max(0, int(retries))
        self.retry_backoff = max(0.0, float(retry_backoff))
        self.state = UploadStateStore(state_dir)
        self._owns_session = session is None
        self.session = session if session is not None else _new_session(self.workers)
        self.token: str | None = token
        self._owns_token = False
        self._multipart_threshold: int | None = None  # learnt from /me on the first upload
        if token is None:
            try:
                self.token = self.create_token(username or "", password or "", token_name, code=code)["token"]
            except BaseException:
                if self._owns_session:
                    self.session.close()
                raise
            self._owns_token = True

    @classmethod
    def login(cls, url: str, username: str, password: str, token_name: str = "locker_client",
              code: str | None = None, **options: Any) -> Locker:
        """Create a token that outlives this object (``close`` leaves it valid); see ``.token``.
        ``code``: the two-factor code, for an account that has two-factor sign-in."""
        locker = cls(url, username=username, password=password, code=code, token_name=token_name, **options)
        locker._owns_token = False
        return locker

    # -- lifecycle -------------------------------------------------------------

    def __enter__(self) -> Locker:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Revoke the token this object created (if any) and close its connections."""
        try:
            if self._owns_token and self.token:
                try:
                    self.revoke_token()
                except LockerError:
                    pass  # best effort: the server is gone or the token already is
        finally:
            if self._owns_session:
                self.session.close()

    # -- plumbing --------------------------------------------------------------

    def _request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                 ok: tuple[int, ...] = (200,), auth: bool = True) -> requests.Response:
        """One API call; any answer not in `ok` becomes the matching LockerError."""
        headers = {"Accept": "application/json", "User-Agent": f"locker-client/{__version__}"}
        if auth:
            if not self.token:
                raise AuthenticationError("No API token: log in first.", code="unauthorized")
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            response = self.session.request(method, self.url + API_PREFIX + path, json=json, params=params,
                                            headers=headers, timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as error:
            raise ConnectionFailed(f"could not reach Locker at {self.url}: {describe_connection_error(error)}",
                                   code="connection_failed") from error
        if response.status_code in ok:
            return response
        raise self._error(response)

    def _error(self, response: requests.Response) -> LockerError:
        status = response.status_code
        if 300 <= status < 400:
            where = response.headers.get("Location", "elsewhere")
            return LockerError(f"Locker at {self.url} redirected to {where}; use that address instead.",
                               code="redirected", status=status)
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            refusal = error_for_status(status, str(error.get("code") or f"http_{status}"), error["message"])
            index = error.get("index")
            refusal.index = index if isinstance(index, int) and not isinstance(index, bool) else None
            return refusal
        hint = " (is this a Locker server?)" if status in (404, 405) else ""
        return error_for_status(status, f"http_{status}",
                                f"{self.url} answered {status} {response.reason or ''}".rstrip() + hint)

    def _json(self, response: requests.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise LockerError(f"{self.url} sent an answer that is not Locker's JSON (is this a Locker server?).",
                              code="bad_response", status=response.status_code)
        return body

    def _backoff(self, attempt: int, stop: threading.Event | None = None) -> None:
        delay = min(30.0, self.retry_backoff * 2 ** (attempt - 1)) * random.uniform(0.8, 1.2)
        if delay <= 0:
            return
        if stop is not None:
            if stop.wait(delay):
                raise _Stopped()
        else:
            time.sleep(delay)

    # -- account and tokens ------------------------------------------------------

    def create_token(self, username: str, password: str, name: str = "locker_client",
                     code: str | None = None) -> dict[str, Any]:
        """``POST /auth/token``: a new token for this user, ``{"token", "id", "name"}`` (shown once).

        ``code``: the two-factor code (or a recovery code) of an account with two-factor sign-in; without it
        such an account raises AuthenticationError with code ``two_factor_required``."""
        body = {"username": username, "password": password, "name": name}
        if code is not None:
            body["code"] = code
        response = self._request("POST", "/auth/token", json=body, ok=(200, 201), auth=False)
        body = self._json(response)
        if not isinstance(body.get("token"), str):
            raise LockerError("Locker answered without a token.", code="bad_response", status=response.status_code)
        return body

    def revoke_token(self) -> None:
        """``DELETE /auth/token``: revoke the token this client uses (it stops working at once)."""
        self._request("DELETE", "/auth/token", ok=(200, 204))
        self._owns_token = False

    def me(self) -> Account:
        """Who this token belongs to, and their used, total and remaining space."""
        account = Account.from_json(self._json(self._request("GET", "/me")))
        # 0: a server too old to say, so every file is hashed before it is sent.
        self._multipart_threshold = account.multipart_threshold or 0
        return account

    # -- files -------------------------------------------------------------------

    def files(self, *, sort: str = "date", order: str | None = None, q: str | None = None,
              scope: str | None = None, page_size: int = 1000) -> Iterator[File]:
        """Every file in every folder, page after page (``sort`` is date, name or size; ``order`` asc or desc).

        Each :class:`File` says where it is (``folder``, ``path``); :meth:`folder_files` lists one folder.

        ``q`` keeps names containing it, ignoring case (1 or 2 characters: names
        starting with it; at most 100). ``scope`` is ``"mine"``, ``"everyone"`` (files
        their owners made visible to every signed-in user) or ``"all"`` (both); the
        server's default is ``"all"`` with ``q``, else ``"mine"``. Pages are fetched as
        the iteration reaches them (``page_size`` files each, at most 1,000).
        """
        params = {"limit": page_size, "sort": sort, "order": order, "q": q, "scope": scope}
        for item in self._pages("/files", params):
            yield File.from_json(item)

    def file(self, file_id: str) -> File:
        """One file by id (yours, or one visible to everyone); :class:`NotFoundError` when there is no such file."""
        return File.from_json(self._json(self._request("GET", f"/files/{quote(file_id, safe='')}")))

    def find(self, name: str, scope: str = "mine") -> list[File]:
        """Files called exactly `name`: yours, or with ``scope="everyone"`` those others share with everyone.

        Names are unique per user, not across users, so a list says honestly how many match.
        """
        # Searching for the name fetches its few matches rather than every file; a name longer
        # than a search may be is looked for in the whole list.
        q = name if len(name) <= MAX_SEARCH_LENGTH else None
        return [f for f in self.files(sort="name", q=q, scope=scope) if f.name == name]

    def set_visibility(self, file_id: str, visible_to_everyone: bool) -> File:
        """Let every signed-in user find and download one of your files, or make it private again.

        ``PATCH /files/<id>``; another user's file is a :class:`NotFoundError`.
        """
        response = self._request("PATCH", f"/files/{quote(file_id, safe='')}",
                                 json={"visible_to_everyone": bool(visible_to_everyone)})
        return File.from_json(self._json(response))

    def rename(self, file_id: str, name: str) -> File:
        """Give one of your files a new name (``PATCH /files/<id>``); its links and activity stay with it.

        A name another of your files has is a :class:`ConflictError` (``name_taken``); a name Locker does
        not accept is an :class:`InvalidRequestError` saying why.
        """
        response = self._request("PATCH", f"/files/{quote(file_id, safe='')}", json={"name": name})
        return File.from_json(self._json(response))

    def delete(self, file_id: str) -> None:
        """Move a file to the trash (``DELETE /files/<id>``); :meth:`restore` brings it back, :meth:`purge` ends it."""
        self._request("DELETE", f"/files/{quote(file_id, safe='')}", ok=(200, 204))

    def download_link(self, file_id: str) -> tuple[str, str | None]:
        """A short-lived signed URL for the file's bytes, and when it expires (ISO 8601)."""
        body = self._json(self._request("GET", f"/files/{quote(file_id, safe='')}/download",
                                        params={"redirect": "0"}))
        return str(body["url"]), body.get("expires_at")

    def download_links(self, file_ids: Sequence[str]) -> tuple[dict[str, str | LockerError], str | None]:
        """Signed URLs for up to 100 files in one request (``POST /files/download-links``):
        ``({file id: URL, or the error that file got}, when they expire)``."""
        body = self._json(self._request("POST", "/files/download-links", json={"files": list(file_ids)}))
        links: dict[str, str | LockerError] = {}
        for item in body.get("items") or []:
            error = item.get("error")
            if isinstance(error, dict):
                code = str(error.get("code") or "error")
                links[str(item["id"])] = error_for_status(ITEM_ERROR_STATUS.get(code, 400), code,
                                                          str(error.get("message") or code))
            else:
                links[str(item["id"])] = str(item["url"])
        return links, body.get("expires_at")

    # -- uploads -----------------------------------------------------------------

    def upload(self, path: str | os.PathLike[str], name: str | None = None, *, content_type: str | None = None,
               progress: ProgressCallback | None = None, folder: str | Folder | None = None,
               folder_path: str | None = None) -> File:
        """Upload a local file; returns the stored :class:`File`.

        Small files go up in one signed PUT, large ones (above the server's
        MULTIPART_THRESHOLD) in parts, ``workers`` at a time, each retried on
        connection errors and 5xx answers. If a multipart upload is interrupted
        (error, Ctrl-C, crash), calling ``upload`` again with the same path sends
        only the parts storage does not hold yet.

        Args:
            path: the local file.
            name: the name to store it under (default: the file's own name).
            content_type: e.g. ``"image/png"`` (default: Locker guesses from the name).
            progress: ``progress(phase, done, total)``, see :data:`ProgressCallback`.
            folder: the id of the folder (or a :class:`Folder`) it goes in (default: the root folder).
            folder_path: folders below `folder` it goes in, such as ``"Photos/2024"``, made where missing.

        Raises:
            TransferError: storage could not be reached or refused the bytes (parts
                already stored are kept for the next attempt).
            QuotaExceededError, FileTooLargeError, InvalidRequestError: Locker refused the file.
            ChecksumMismatchError: the bytes stored differ from the file's SHA-256.
            OSError: the local file cannot be read.
        """
        source = Path(path).expanduser().resolve()
        info = source.stat()
        if not stat_module.S_ISREG(info.st_mode):
            raise LockerError(f"{source} is not a regular file.", code="not_a_file")
        name = name or source.name
        target = _target(folder, folder_path)
        state = self.state.load(self.url, str(source))
        if state is not None:
            resumed = self._resume(state, source, info, name, progress, target)
            if resumed is not None:
                return resumed
        account = self.me() if self._multipart_threshold is None else None
        # A file that will go up in parts is hashed while its parts are sent (its sha256 is
        # given at completion), so its bytes start moving at once; small files are hashed
        # first because their one signed PUT pins the checksum.
        hash_while_sending = 0 < (self._multipart_threshold or 0) < info.st_size
        if not hash_while_sending and info.st_size > QUOTA_PRECHECK_SIZE:
            self._check_space(source, info.st_size, account or self.me())
        digest = None if hash_while_sending else self._hash_file(source, info.st_size, progress)
        body: dict[str, Any] = {"name": name, "size": info.st_size, "sha256": digest, "part_checksums": True,
                                **target}
        if content_type:
            body["content_type"] = content_type
        started = self._json(self._request("POST", "/uploads", json=body, ok=(200, 201)))
        upload_id = str(started["id"])
        multipart = started.get("multipart")
        if not multipart:
            self._put_whole(source, info.st_size, started, progress)
            return self._complete(upload_id, {"sha256": digest})
        state = UploadState(server=self.url, path=str(source), size=info.st_size, mtime_ns=info.st_mtime_ns,
                            name=name, upload_id=upload_id, sha256=digest, part_size=int(multipart["part_size"]),
                            part_count=int(multipart["part_count"]),
                            part_checksums=bool(multipart.get("part_checksums")), folder=target.get("folder"),
                            folder_path=target.get("path"))
        self.state.save(state)
        return self._finish_multipart(state, source, {}, progress)

    def upload_many(self, paths: Sequence[str | os.PathLike[str]], *, names: Sequence[str | None] | None = None,
                    folders: Sequence[str | Folder | None] | str | Folder | None = None,
                    folder_paths: Sequence[str | None] | None = None,
                    progress_for: Callable[[int, Path, int], ProgressCallback | None] | None = None,
                    on_result: Callable[[int, File | Exception], None] | None = None) -> list[File | Exception]:
        """Upload several local files; returns, in order, each one's :class:`File` or the error that stopped it.

        Files up to the server's MULTIPART_THRESHOLD are started 100 at a time in one
        request (``POST /uploads/batch``), their bytes sent ``workers`` at a time, and
        completed 100 at a time (``POST /uploads/complete``): a folder of small files
        costs a few round trips, not three per file. Larger files, and any with an
        unfinished upload to resume, go one by one as :meth:`upload` sends them. One
        file failing (unreadable, refused, lost in transit) does not stop the others;
        only a refused token does.

        Args:
            paths: the local files.
            names: a name to store each under (None or a missing entry: the file's own name).
            folders: the folder (id or :class:`Folder`) each goes in, or one for all (default: the root folder).
            folder_paths: for each, folders below its folder to put it in (``"Photos/2024"``), made where missing.
            progress_for: ``progress_for(index, path, size)`` gives the file's progress
                callback (see :data:`ProgressCallback`), or None.
            on_result: called with ``(index, File or error)`` as each file lands or fails.
        """
        results: list[File | Exception | None] = [None] * len(paths)
        callbacks: dict[int, ProgressCallback | None] = {}

        def target_of(index: int) -> dict[str, str]:
            if folders is None or isinstance(folders, (str, Folder)):
                folder = folders
            else:
                folder = folders[index] if index < len(folders) else None
            path = folder_paths[index] if folder_paths is not None and index < len(folder_paths) else None
            return _target(folder, path)

        def progress_of(index: int, path: Path, size: int) -> ProgressCallback | None:
            # Once per file: one sent one by one after all (an older server) keeps its bar.
            if index not in callbacks:
                callbacks[index] = progress_for(index, path, size) if progress_for is not None else None
            return callbacks[index]

        settling = threading.Lock()

        def settle(index: int, outcome: File | Exception) -> None:
            with settling:  # two batches may land files at once; on_result sees one at a time
                results[index] = outcome
                if on_result is not None:
                    on_result(index, outcome)

        if self._multipart_threshold is None:
            self.me()
        threshold = self._multipart_threshold or 0
        small: list[tuple[int, Path, int, str, dict[str, str]]] = []
        one_by_one: list[int] = []
        for index, path in enumerate(paths):
            try:
                source = Path(path).expanduser().resolve()
                info = source.stat()
            except OSError as error:
                settle(index, error)
                continue
            if not stat_module.S_ISREG(info.st_mode):
                settle(index, LockerError(f"{source} is not a regular file.", code="not_a_file"))
                continue
            name = (names[index] if names is not None and index < len(names) else None) or source.name
            if info.st_size > threshold or not threshold or self.state.load(self.url, str(source)) is not None:
                one_by_one.append(index)
            else:
                small.append((index, source, info.st_size, name, target_of(index)))
        try:
            one_by_one.extend(self._upload_batches(small, progress_of, settle))
            for index in sorted(one_by_one):
                path = Path(paths[index])
                progress = progress_of(index, path, path.stat().st_size if path.exists() else 0)
                target = target_of(index)
                try:
                    settle(index, self.upload(path, names[index] if names is not None and index < len(names)
                                              else None, progress=progress, folder=target.get("folder"),
                                              folder_path=target.get("path")))
                except AuthenticationError:
                    raise
                except (LockerError, OSError) as error:
                    settle(index, error)
        except AuthenticationError as error:
            for index, outcome in enumerate(results):
                if outcome is None:
                    settle(index, error)
        for index, outcome in enumerate(results):
            if outcome is None:  # the server's answer left this file out
                settle(index, LockerError(f"{self.url} sent no result for {paths[index]}.", code="bad_response"))
        return [outcome for outcome in results if outcome is not None]

    def _upload_batches(self, small: list[tuple[int, Path, int, str, dict[str, str]]],
                        progress_of: Callable[[int, Path, int], ProgressCallback | None],
                        settle: Callable[[int, File | Exception], None]) -> list[int]:
        """Send small files BATCH_SIZE at a time, two batches under way at once; returns those to send one by one.

        While one batch is started or completed (a request each), the other's bytes keep
        going: one at a time, the transfers stood still for both requests of every batch.
        Both share one pool of `workers` threads, so no more files than that are sent at once.
        """
        one_by_one: list[int] = []
        stop = threading.Event()
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="locker-batch") as pool:
            batches = ThreadPoolExecutor(max_workers=2, thread_name_prefix="locker-batches")
            try:
                running = [batches.submit(self._upload_batch, small[first:first + BATCH_SIZE], progress_of, settle,
                                          pool, stop) for first in range(0, len(small), BATCH_SIZE)]
                for future in running:
                    one_by_one.extend(future.result())
            except BaseException:
                # Ctrl-C or a refused token: the files queued in the pool are not started (each batch stops
                # at the first), or both batches' hundreds of files would still go up first. The uploads
                # started and left pending are ended by the server's sweep.
                stop.set()
                raise
            finally:
                batches.shutdown(wait=True, cancel_futures=True)
        return one_by_one

    def _upload_batch(self, batch: list[tuple[int, Path, int, str, dict[str, str]]],
                      progress_of: Callable[[int, Path, int], ProgressCallback | None],
                      settle: Callable[[int, File | Exception], None], pool: ThreadPoolExecutor,
                      stop: threading.Event) -> list[int]:
        """Hash, start, send (in `pool`) and complete up to BATCH_SIZE small files; returns those to send one by one.

        Once `stop` is set, a file not yet hashed or sent raises _Stopped, which ends the batch.
        """
        progress = {index: progress_of(index, source, size) for index, source, size, *_ in batch}
        digests: dict[int, str] = {}
        hashing = {pool.submit(self._hash_file, source, size, progress[index], stop): index
                   for index, source, size, *_ in batch}
        for future in as_completed(hashing):
            try:
                digests[hashing[future]] = future.result()
            except (LockerError, OSError) as error:
                settle(hashing[future], error)
        waiting = [entry for entry in batch if entry[0] in digests]
        started: dict[int, dict[str, Any]] = {}
        while waiting:
            body = {"items": [{"name": name, "size": size, "sha256": digests[index], **target}
                              for index, _, size, name, target in waiting]}
            try:
                answer = self._json(self._request("POST", "/uploads/batch", json=body, ok=(200, 201)))
            except LockerError as error:
                if error.status in (404, 405) and error.index is None:
                    return [index for index, *_ in waiting]  # a server without batches: one by one
                if isinstance(error, AuthenticationError):
                    raise
                if error.index is None or not 0 <= error.index < len(waiting):
                    for index, *_ in waiting:  # nothing of the batch was started
                        settle(index, error)
                    return []
                # All or nothing: the refused file is left out and the rest asked for again.
                settle(waiting.pop(error.index)[0], error)
                continue
            started = {entry[0]: item for entry, item in zip(waiting, answer.get("items") or [])}
            break
        sources = {index: (source, size) for index, source, size, *_ in batch}
        sending = {pool.submit(_unless_stopped, stop, self._put_whole, *sources[index], item, progress[index]): index
                   for index, item in started.items()}
        sent = []
        for future in as_completed(sending):
            index = sending[future]
            try:
                future.result()
                sent.append(index)
            except (LockerError, OSError) as error:
                self._forget_upload(str(started[index]["id"]))
                settle(index, error)
        if sent:
            sent.sort()
            try:
                answer = self._json(self._request("POST", "/uploads/complete", json={"items": [
                    {"id": str(started[index]["id"]), "sha256": digests[index]} for index in sent]}))
            except AuthenticationError:
                raise
            except LockerError as error:
                for index in sent:
                    settle(index, error)
                return []
            for index, item in zip(sent, answer.get("items") or []):
                settle(index, self._completed_item(item))
        return []

    def _completed_item(self, item: dict[str, Any]) -> File | LockerError:
        error = item.get("error")
        if not isinstance(error, dict):
            return File.from_json(item["file"])
        code = str(error.get("code") or "error")
        if code == "already_completed":
            return self.file(str(item["id"]))  # it finished last time, only the answer was lost
        return error_for_status(ITEM_ERROR_STATUS.get(code, 400), code, str(error.get("message") or code))

    def _forget_upload(self, upload_id: str) -> None:
        try:
            self._request("DELETE", f"/uploads/{upload_id}", ok=(200, 204))
        except LockerError:
            pass  # already gone; the server's sweep cleans up the rest

    def _check_space(self, source: Path, size: int, account: Account) -> None:
        remaining = account.remaining_bytes
        if remaining is not None and size > remaining:
            raise QuotaExceededError(f"Not enough space for {source.name}: it needs {size} bytes and "
                                     f"{remaining} are left.", code="quota_exceeded", status=None)

    def _hash_file(self, source: Path, size: int, progress: ProgressCallback | None,
                   stop: threading.Event | None = None) -> str:
        meter = _Meter(progress, "hashing", size)
        digest = hashlib.sha256()
        read = 0
        with open(source, "rb") as handle:
            while chunk := handle.read(CHUNK_SIZE):
                if stop is not None and stop.is_set():
                    raise _Stopped()
                digest.update(chunk)
                read += len(chunk)
                meter.add(len(chunk))
        if read != size:
            raise LockerError(f"{source} changed size while it was being read; try again.", code="file_changed")
        return digest.hexdigest()

    def _resume(self, state: UploadState, source: Path, info: os.stat_result, name: str,
                progress: ProgressCallback | None, target: dict[str, str] | None = None) -> File | None:
        """Continue a remembered upload; None when it cannot be (then a fresh upload starts)."""
        target = target or {}
        if ((state.size, state.mtime_ns, state.name, state.folder, state.folder_path)
                != (info.st_size, info.st_mtime_ns, name, target.get("folder"), target.get("path"))):
            self._forget(state, cancel=True)
            return None
        try:
            listing = self._json(self._request("GET", f"/uploads/{state.upload_id}/parts"))
        except (NotFoundError, ConflictError) as error:
            if error.code == "already_completed":
                # It finished last time, after all (only the answer was lost): the upload id is the file's id.
                self.state.drop(state.server, state.path)
                return self.file(state.upload_id)
            # Cancelled, expired or swept (or another user's token): start afresh, freeing what is left.
            self._forget(state, cancel=isinstance(error, ConflictError))
            return None
        stored = {}
        for part in listing.get("parts") or []:
            number, etag = int(part["number"]), str(part.get("etag") or "")
            expected = min(state.part_size, state.size - (number - 1) * state.part_size)
            if etag and int(part.get("size", -1)) == expected:
                stored[number] = etag.strip('"')
        return self._finish_multipart(state, source, stored, progress)

    def _forget(self, state: UploadState, cancel: bool) -> None:
        self.state.drop(state.server, state.path)
        if cancel:
            self._forget_upload(state.upload_id)

    def _finish_multipart(self, state: UploadState, source: Path, stored: dict[int, str],
                          progress: ProgressCallback | None) -> File:
        stop = threading.Event()
        wanted = [n for n in range(1, state.part_count + 1) if n not in stored] if state.part_checksums else []
        digests = _PartDigests(source, state.size, state.part_size, wanted, stop)
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="locker-hash") as hasher:
            whole = hasher.submit(digests.run)
            try:
                etags = self._send_parts(state, source, stored, progress, digests)
            except BaseException:
                stop.set()
                raise
            digest = whole.result()
        current = source.stat()
        if ((current.st_size, current.st_mtime_ns) != (state.size, state.mtime_ns)
                or (state.sha256 is not None and digest != state.sha256)):
            self._forget(state, cancel=True)
            raise LockerError(f"{source} changed while it was being uploaded; upload it again.",
                              code="file_changed")
        parts = [{"number": n, "etag": etags[n]} for n in range(1, state.part_count + 1)]
        try:
            file = self._complete(state.upload_id, {"parts": parts, "sha256": digest})
        except (NotFoundError, ChecksumMismatchError):
            self.state.drop(state.server, state.path)  # the server discarded the upload
            raise
        self.state.drop(state.server, state.path)
        return file

    def _complete(self, upload_id: str, body: dict[str, Any]) -> File:
        try:
            return File.from_json(self._json(self._request("POST", f"/uploads/{upload_id}/complete", json=body)))
        except ConflictError as error:
            if error.code == "already_completed":
                return self.file(upload_id)
            raise

    def _send_parts(self, state: UploadState, source: Path, stored: dict[int, str],
                    progress: ProgressCallback | None, digests: _PartDigests) -> dict[int, str]:
        """PUT every part storage lacks, `workers` at a time; returns {number: etag} for all parts.

        When a part fails for good (after its retries), no new part is started but
        the ones under way finish, so a rerun has as little as possible left to send.
        Ctrl-C (or any unexpected error) stops the parts under way too.
        """
        etags = dict(stored)
        missing = [n for n in range(1, state.part_count + 1) if n not in stored]
        done = sum(min(state.part_size, state.size - (n - 1) * state.part_size) for n in stored)
        meter = _Meter(progress, "uploading", state.size, done)
        if not missing:
            return etags
        halt, abort = threading.Event(), threading.Event()
        pool = ThreadPoolExecutor(max_workers=min(self.workers, len(missing)), thread_name_prefix="locker-part")
        signer = _PartSigner(self, state.upload_id, missing, digests)
        futures = {pool.submit(self._part_job, state, source, n, meter, halt, abort, digests, signer): n
                   for n in missing}
        first_error: LockerError | None = None
        try:
            for future in as_completed(futures):
                try:
                    etags[futures[future]] = future.result()
                except _Stopped:
                    continue
                except LockerError as error:
                    first_error = first_error or error
        except BaseException:
            abort.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if first_error is not None:
            raise TransferError(f"upload of {state.name} stopped with {len(etags)} of {state.part_count} parts "
                                f"stored ({first_error.message}); run it again to send the rest.",
                                code=first_error.code, status=first_error.status) from first_error
        return etags

    def _part_job(self, state: UploadState, source: Path, number: int, meter: _Meter, halt: threading.Event,
                  abort: threading.Event, digests: _PartDigests, signer: _PartSigner) -> str:
        if halt.is_set() or abort.is_set():
            raise _Stopped()  # another part failed for good: start no more
        try:
            return self._send_part(state, source, number, meter, abort, digests, signer)
        except LockerError:
            halt.set()
            raise

    def _send_part(self, state: UploadState, source: Path, number: int, meter: _Meter,
                   stop: threading.Event, digests: _PartDigests, signer: _PartSigner) -> str:
        """Take one part's hash, have its URL signed (pinned to that checksum) and PUT it, with retries."""
        offset = (number - 1) * state.part_size
        length = min(state.part_size, state.size - offset)
        checksum = digests.part(number, stop) if state.part_checksums else None
        signed: dict[str, Any] | None = None
        resigned = False
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self._backoff(attempt, stop)
            if stop.is_set():
                raise _Stopped()
            try:
                if signed is None:
                    signed = signer.sign(number, checksum, ahead=not resigned)
                    if int(signed.get("size", length)) != length:
                        raise TransferError(f"Locker expects part {number} to be {signed['size']} bytes, "
                                            f"not {length}.", code="part_size_mismatch")
            except (ConnectionFailed, ServerError) as error:
                problem = error.message
                continue
            body = _FileSlice(source, offset, length, meter, stop)
            response = self._send_to_storage("PUT", signed["url"], signed.get("headers") or {}, body)
            if isinstance(response, str):
                body.rewind()
                problem = response
                continue
            if response.status_code in (200, 201, 204):
                etag = (response.headers.get("ETag") or "").strip().strip('"')
                if not etag:
                    raise TransferError(f"storage accepted part {number} but sent no ETag; if a proxy is in "
                                        "between, let it pass the ETag header.", code="missing_etag")
                return etag
            body.rewind()
            problem = f"storage answered {storage_message(response)}"
            if response.status_code >= 500 or response.status_code in (408, 429):
                continue
            if response.status_code == 403 and not resigned:
                signed, resigned = None, True  # the signed URL may have expired: sign it again
                continue
            raise TransferError(f"storage refused part {number}: {storage_message(response)}",
                                code="storage_refused", status=response.status_code)
        raise TransferError(f"part {number} failed {self.retries + 1} times: {problem}", code="transfer_failed")

    def _sign_parts(self, upload_id: str, checksums: dict[int, str | None]) -> dict[int, dict[str, Any]]:
        """Signed URLs for the parts in `checksums` (number: SHA-256 hex, or None), in one call."""
        body: dict[str, Any] = {"numbers": sorted(checksums)}
        pinned = {str(number): digest for number, digest in checksums.items() if digest}
        if pinned:
            body["checksums"] = pinned
        parts = self._json(self._request("POST", f"/uploads/{upload_id}/parts", json=body)).get("parts") or []
        signed = {int(part["number"]): dict(part) for part in parts if isinstance(part, dict) and "number" in part}
        missing = set(checksums) - set(signed)
        if missing:
            raise LockerError(f"Locker did not sign part {min(missing)}.", code="bad_response")
        return signed

    def _send_to_storage(self, method: str, url: str, headers: dict[str, str],
                         body: _FileSlice | None = None, stream: bool = False) -> requests.Response | str:
        """One request to a signed storage URL: the answer, or a string saying why none came."""
        try:
            return self.session.request(method, url, data=body, headers=dict(headers), timeout=self.timeout,
                                        stream=stream)
        except _Stopped as stopped:
            if stopped.args:
                raise LockerError(str(stopped.args[0]), code="file_changed") from None
            raise
        except requests.RequestException as error:
            host = urlsplit(url).netloc
            return f"could not reach storage at {host}: {describe_connection_error(error)}"

    def _put_whole(self, source: Path, size: int, started: dict[str, Any], progress: ProgressCallback | None) -> None:
        """The single signed PUT of a small file, retried on connection errors and 5xx."""
        meter = _Meter(progress, "uploading", size)
        stop = threading.Event()
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self._backoff(attempt)
            body = _FileSlice(source, 0, size, meter, stop)
            response = self._send_to_storage(str(started.get("method") or "PUT"), str(started["url"]),
                                             started.get("headers") or {}, body)
            if isinstance(response, str):
                body.rewind()
                problem = response
                continue
            if response.status_code in (200, 201, 204):
                return
            if attempt and response.status_code in (409, 412):
                # An earlier attempt did arrive (its answer was lost); completing checks the bytes.
                return
            body.rewind()
            problem = f"storage answered {storage_message(response)}"
            if response.status_code >= 500 or response.status_code in (408, 429):
                continue
            raise TransferError(f"storage refused {source.name}: {storage_message(response)}",
                                code="storage_refused", status=response.status_code)
        raise TransferError(f"upload of {source.name} failed {self.retries + 1} times: {problem}",
                            code="transfer_failed")

    def pending_uploads(self) -> list[dict[str, Any]]:
        """Unfinished uploads on the server (``GET /uploads``), each with its stored ``parts``."""
        return list(self._json(self._request("GET", "/uploads")).get("items") or [])

    def activity(self, *, everyone: bool = False, file_id: str | None = None, action: str | None = None,
                 page_size: int = 100) -> Iterator[dict[str, Any]]:
        """The activity log newest first, page after page (``GET /activity``), as the API's event objects.

        ``everyone=True`` is everyone's activity (admins only: anyone else gets
        :class:`PermissionDeniedError`); ``file_id`` and ``action`` narrow it.
        """
        yield from self._pages("/activity", {"scope": "all" if everyone else "mine", "limit": page_size,
                                             "file": file_id, "action": action})

    def _pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The items of a keyset-paged list, page after page as the iteration reaches them; empty params are left out."""
        params = {key: value for key, value in params.items() if value not in (None, "")}
        while True:
            body = self._json(self._request("GET", path, params=params))
            yield from body.get("items") or []
            if not body.get("next_cursor"):
                return
            params["cursor"] = body["next_cursor"]

    def cancel_upload(self, upload_id: str) -> None:
        """Cancel an unfinished upload and free its reserved space (``DELETE /uploads/<id>``)."""
        self._request("DELETE", f"/uploads/{quote(upload_id, safe='')}", ok=(200, 204))

    # -- downloads -----------------------------------------------------------------

    def download(self, file_id: str | File, path: str | os.PathLike[str] | None = None, *, overwrite: bool = True,
                 progress: ProgressCallback | None = None) -> Path:
        """Download a file to `path` (a file path, or a folder to keep the stored name; default: here).

        Bytes go to a temporary file beside the target, which is renamed into
        place only when its SHA-256 equals the one Locker recorded (when it has
        one). Returns the path written.

        Raises:
            ChecksumMismatchError: the bytes differ from the recorded SHA-256 (nothing is written).
            NotFoundError: no such file.
            TransferError: storage could not be reached (after retries).
            FileExistsError: the target exists and ``overwrite`` is false.
        """
        # A File the caller already fetched saves asking for it again.
        file = file_id if isinstance(file_id, File) else self.file(file_id)
        target = self.download_target(path, file.name)
        if target.exists() and not overwrite:
            raise FileExistsError(f"{target} already exists")
        return self._save(file, target, progress, ranged=True)

    def _save(self, file: File, target: Path, progress: ProgressCallback | None,
              stop: threading.Event | None = None, url: str | None = None, ranged: bool = False) -> Path:
        """Download into a temporary file beside `target` and rename it into place once its SHA-256 matches.

        `url`: a download URL already asked for. With `ranged`, a file above RANGE_SIZE comes as ranges,
        `workers` at a time (download_dir fetches several files at a time instead).
        """
        fd, temporary_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:80]}.",
                                              suffix=".locker-download")
        temporary = Path(temporary_name)
        try:
            with os.fdopen(fd, "wb") as out:
                digest, received = None, 0
                if ranged and self.workers > 1 and file.size > RANGE_SIZE:
                    url = url or self.download_link(file.id)[0]
                    try:
                        digest, received = self._fetch_ranges(file, url, out, progress, stop)
                    except _NoRanges:
                        out.seek(0)
                        out.truncate()
                if digest is None:
                    digest, received = self._fetch(file, out, progress, stop, url)
                out.flush()
                os.fsync(out.fileno())
            if received != file.size:
                raise TransferError(f"received {received} bytes of {file.name} but it has {file.size}; "
                                    "nothing was saved.", code="size_mismatch")
            if file.sha256 and digest != file.sha256:
                raise ChecksumMismatchError(f"{file.name}: the downloaded bytes do not match the SHA-256 "
                                            f"Locker recorded (expected {file.sha256}, got {digest}); "
                                            "nothing was saved.", expected=file.sha256, actual=digest)
            os.replace(temporary, target)
        finally:
            temporary.unlink(missing_ok=True)
        return target

    def download_target(self, path: str | os.PathLike[str] | None, name: str) -> Path:
        """Where :meth:`download` saves a file called `name` for this `path` argument."""
        if path is None:
            return Path.cwd() / safe_file_name(name)
        target = Path(path).expanduser()
        if target.is_dir() or str(path).endswith(("/", os.sep)):
            target.mkdir(parents=True, exist_ok=True)
            return target / safe_file_name(name)
        if not target.parent.is_dir():
            raise FileNotFoundError(f"{target.parent} is not a folder")
        return target

    def _fetch(self, file: File, out: Any, progress: ProgressCallback | None,
               stop: threading.Event | None = None, url: str | None = None) -> tuple[str, int]:
        """Stream the file's bytes into `out`, hashing as they come; retried from the start on failure.

        `url`: a download URL already asked for, tried first; every retry asks for a fresh one.
        Setting `stop` (from another thread) ends it with :class:`_Stopped` at the next chunk.
        """
        meter = _Meter(progress, "downloading", file.size)
        problem = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self._backoff(attempt, stop)
                out.seek(0)
                out.truncate()
                meter.add(-meter.done)
            if attempt or url is None:
                url, _ = self.download_link(file.id)
            response = self._send_to_storage("GET", url, {}, stream=True)
            if isinstance(response, str):
                problem = response
                continue
            with response:
                if response.status_code != 200:
                    problem = f"storage answered {storage_message(response)}"
                    if response.status_code >= 500 or response.status_code in (403, 408, 429):
                        continue
                    raise TransferError(f"storage refused the download of {file.name}: {storage_message(response)}",
                                        code="storage_refused", status=response.status_code)
                digest = hashlib.sha256()
                received = 0
                # Each chunk is hashed and written in a second thread while the next one arrives
                # (both let go of the GIL), so verifying costs little time on top of receiving. A file
                # of one chunk has nothing to overlap, and a thread each would cost a tree of small files more.
                with (ThreadPoolExecutor(max_workers=1, thread_name_prefix="locker-keep") if file.size > CHUNK_SIZE
                      else _AtOnce()) as keeper:
                    kept = None
                    try:
                        for chunk in response.iter_content(CHUNK_SIZE):
                            if stop is not None and stop.is_set():
                                raise _Stopped()
                            if kept is not None:
                                kept.result()
                            kept = keeper.submit(_keep, chunk, digest, out)
                            received += len(chunk)
                            meter.add(len(chunk))
                    except requests.RequestException as error:
                        problem = f"the download broke off: {describe_connection_error(error)}"
                        continue
                    finally:
                        if kept is not None:
                            kept.result()
                return digest.hexdigest(), received
        raise TransferError(f"download of {file.name} failed {self.retries + 1} times: {problem}",
                            code="transfer_failed")

    def _fetch_ranges(self, file: File, url: str, out: Any, progress: ProgressCallback | None,
                      stop: threading.Event | None = None) -> tuple[str, int]:
        """Fetch the file from `url` as RANGE_SIZE ranges, `workers` at a time, each written at its place in `out`.

        The SHA-256 is taken in order: a range is read back (from the OS page cache) once every
        range before it has landed, so memory stays at a chunk per worker. Raises _NoRanges when
        storage answers a range with the whole file, or is Locker itself (local storage): there
        one stream, sent with sendfile and hashed as it lands, was faster than ranges (0.6 s
        against 0.9 s for 256 MiB on a 2-core machine).
        """
        if _origin(url) == _origin(self.url):
            raise _NoRanges()
        meter = _Meter(progress, "downloading", file.size)
        halt = threading.Event()
        link = [url]  # shared by the workers, renewed when storage refuses it
        ranges = [(offset, min(RANGE_SIZE, file.size - offset)) for offset in range(0, file.size, RANGE_SIZE)]
        digest = hashlib.sha256()
        landed: set[int] = set()
        hashed = 0
        # Ranges start in order (the pool takes its queue first in, first out), `workers` at a time.
        pool = ThreadPoolExecutor(max_workers=min(self.workers, len(ranges)), thread_name_prefix="locker-range")
        futures = {pool.submit(self._get_range, file, link, out.fileno(), offset, length, meter, halt, stop): index
                   for index, (offset, length) in enumerate(ranges)}
        try:
            for future in as_completed(futures):
                future.result()
                landed.add(futures[future])
                while hashed in landed:
                    _hash_back(out.fileno(), *ranges[hashed], digest)
                    _write_behind(out.fileno(), *ranges[hashed])
                    hashed += 1
        except BaseException:
            halt.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return digest.hexdigest(), file.size

    def _get_range(self, file: File, link: list[str], fd: int, offset: int, length: int, meter: _Meter,
                   halt: threading.Event, stop: threading.Event | None) -> None:
        """GET bytes offset..offset+length into `fd` at `offset`, retried like a whole download."""
        problem = ""
        last = offset + length - 1
        for attempt in range(self.retries + 1):
            if attempt:
                self._backoff(attempt, halt)
            if halt.is_set() or (stop is not None and stop.is_set()):
                raise _Stopped()
            response = self._send_to_storage("GET", link[0], {"Range": f"bytes={offset}-{last}"}, stream=True)
            if isinstance(response, str):
                problem = response
                continue
            with response:
                status = response.status_code
                if status == 403:
                    problem = f"storage answered {storage_message(response)}"
                    link[0] = self.download_link(file.id)[0]  # the link may have expired
                    continue
                if status >= 500 or status in (408, 429):
                    problem = f"storage answered {storage_message(response)}"
                    continue
                if status == 200 and response.headers.get("Content-Length") != str(length):
                    raise _NoRanges()
                if status not in (200, 206):
                    raise TransferError(f"storage refused the download of {file.name}: {storage_message(response)}",
                                        code="storage_refused", status=status)
                # Some stores (rclone) answer a range with 200 and just its bytes; a 206 must name this range.
                if status == 206 and not response.headers.get("Content-Range", "").startswith(
                        f"bytes {offset}-{last}/"):
                    raise _NoRanges()
                written, broke = 0, ""
                try:
                    for chunk in response.iter_content(CHUNK_SIZE):
                        if halt.is_set() or (stop is not None and stop.is_set()):
                            raise _Stopped()
                        if written + len(chunk) > length:
                            break
                        os.pwrite(fd, chunk, offset + written)
                        written += len(chunk)
                        meter.add(len(chunk))
                except requests.RequestException as error:
                    broke = f"the download broke off: {describe_connection_error(error)}"
                if not broke and written == length:
                    return
                meter.add(-written)
                problem = broke or f"storage sent other than the {length} bytes of a range"
        raise TransferError(f"download of {file.name} failed {self.retries + 1} times: {problem}",
                            code="transfer_failed")

    # -- folders and the trash -------------------------------------------------------

    def folder(self, path_or_id: str | Folder | FolderEntry = "") -> Folder:
        """A folder by its path from the root (``"Photos/2024"``; ``""`` or ``"/"``: the root) or by its id.

        A path is walked from the root one ``GET /folders/<id>`` a level, names matched exactly.

        Raises:
            NotFoundError: no such folder (the message names the first part of the path that is missing).
        """
        if isinstance(path_or_id, (Folder, FolderEntry)):
            return self._get_folder(folder_ref(path_or_id))
        text = str(path_or_id).strip()
        if is_id(text):
            try:
                return self._get_folder(text)
            except NotFoundError:
                pass  # maybe a folder named like an id
        if text == "root":
            return self._get_folder("root")
        current = self._get_folder("root")
        for name in split_remote_path(text):
            entry = current.subfolder(name)
            if entry is None:
                where = f"in {current.path}" if current.path else "in your root folder"
                raise NotFoundError(f"No folder {name} {where}.", code="not_found", status=404)
            current = self._get_folder(entry.id)
        return current

    def _get_folder(self, folder_id: str) -> Folder:
        """The folder with every one of its subfolders (following ``folders_next_cursor`` page by page)."""
        url = f"/folders/{quote(folder_id, safe='')}"
        data = self._json(self._request("GET", url))
        while data.get("folders_next_cursor"):
            more = self._json(self._request("GET", url, params={"folders_cursor": data["folders_next_cursor"]}))
            data = {**data, "folders": [*data["folders"], *more["folders"]],
                    "folders_next_cursor": more.get("folders_next_cursor")}
        return Folder.from_json(data)

    def make_folder(self, path: str, parents: bool = True, *, under: str | Folder | None = None) -> Folder:
        """Make the folder at `path` (``"Photos/2024"``) below `under` (default: the root) and return it.

        With ``parents`` (the default) it works as ``mkdir -p``: missing folders on the way
        are made and one that exists already is fine. Without it the parent must exist and
        the folder must not (:class:`ConflictError` ``name_taken``).
        """
        names = split_remote_path(path)
        current = self.folder(under) if under is not None else self._get_folder("root")
        if not names:
            return current
        for position, name in enumerate(names):
            last = position == len(names) - 1
            entry = current.subfolder(name)
            if entry is not None and (parents or not last):
                current = self._get_folder(entry.id)
                continue
            if entry is None and not parents and not last:
                where = f"in {current.path}" if current.path else "in your root folder"
                raise NotFoundError(f"No folder {name} {where}.", code="not_found", status=404)
            try:
                current = Folder.from_json(self._json(self._request(
                    "POST", "/folders", json={"name": name, "parent": folder_ref(current)}, ok=(200, 201))))
            except ConflictError:
                if not parents:
                    raise
                again = self._get_folder(folder_ref(current)).subfolder(name)  # made meanwhile by someone else
                if again is None:
                    raise  # a file has that name
                current = self._get_folder(again.id)
        return current

    def folder_files(self, folder: str | Folder | FolderEntry, *, sort: str = "name", order: str | None = None,
                     page_size: int = 1000) -> Iterator[File]:
        """The files directly in a folder (a path, an id or a :class:`Folder`), every page."""
        folder_id = folder_ref(folder) if isinstance(folder, (Folder, FolderEntry)) else folder_ref(self.folder(folder))
        for item in self._pages("/files", {"folder": folder_id, "limit": page_size, "sort": sort, "order": order}):
            yield File.from_json(item)

    def list_folder(self, path: str | Folder = "", *, sort: str = "name", order: str | None = None) -> FolderListing:
        """A folder's subfolders (by name) and its files (every page, by ``sort``)."""
        folder = self.folder(path) if not isinstance(path, Folder) else path
        return FolderListing(folder=folder, folders=list(folder.folders),
                             files=list(self.folder_files(folder, sort=sort, order=order)))

    def item(self, path_or_id: str) -> File | Folder:
        """A file or folder by its path from the root (``"Photos/2024/beach.jpg"``) or its id.

        Raises:
            NotFoundError: nothing there.
        """
        text = str(path_or_id).strip()
        if is_id(text):
            try:
                return self.file(text)
            except NotFoundError:
                pass
            try:
                return self._get_folder(text)
            except NotFoundError:
                pass
        names = split_remote_path(text)
        if not names:
            return self._get_folder("root")
        parent = self.folder("/".join(names[:-1]))
        entry = parent.subfolder(names[-1])
        if entry is not None:
            return self._get_folder(entry.id)
        found = self._file_named(parent, names[-1])
        if found is None:
            where = f"in {parent.path}" if parent.path else "in your root folder"
            raise NotFoundError(f"No file or folder {names[-1]} {where}.", code="not_found", status=404)
        return found

    def _file_named(self, folder: Folder, name: str) -> File | None:
        q = name if len(name) <= MAX_SEARCH_LENGTH else None
        params = {"folder": folder_ref(folder), "limit": 1000, "sort": "name", "q": q}
        return next((File.from_json(item) for item in self._pages("/files", params) if item.get("name") == name),
                    None)

    def _selection(self, items: Sequence[str | File | Folder | FolderEntry | TrashItem] | str | File | Folder
                   ) -> dict[str, list[str]]:
        """{"files": [ids], "folders": [ids]} for files and folders given as records, paths or ids."""
        if isinstance(items, (str, File, Folder, FolderEntry, TrashItem)):
            items = [items]
        chosen: dict[str, list[str]] = {"files": [], "folders": []}
        for item in items:
            if isinstance(item, str):
                item = self.item(item)
            if isinstance(item, TrashItem):
                kind = "files" if item.kind == "file" else "folders"
            else:
                kind = "files" if isinstance(item, File) else "folders"
            if isinstance(item, Folder) and item.is_root:
                raise InvalidRequestError("The root folder cannot be moved or deleted.", code="root_folder")
            chosen[kind].append(item.id)
        return chosen

    def move(self, items: Sequence[str | File | Folder | FolderEntry] | str | File | Folder,
             to: str | Folder | FolderEntry) -> Folder:
        """Move files and folders (records, paths or ids) into the folder `to` (a path, an id or a record).

        All or nothing (``POST /move``); returns the folder they went into.

        Raises:
            ConflictError: ``name_taken``, `to` has something of that name already.
            InvalidRequestError: ``into_itself``, a folder cannot go into itself or below itself.
            NotFoundError: an item or `to` is not there.
        """
        selection = self._selection(items)
        target = self.folder(to)
        return Folder.from_json(self._json(self._request("POST", "/move", json={"to": folder_ref(target),
                                                                               **selection})))

    def rename_folder(self, folder: str | Folder | FolderEntry, name: str) -> Folder:
        """Give a folder (a path, an id or a record) a new name in the same parent; a name there already is a
        :class:`ConflictError` (``name_taken``)."""
        folder_id = self.folder(folder).id
        response = self._request("PATCH", f"/folders/{quote(folder_id, safe='')}", json={"name": name})
        return Folder.from_json(self._json(response))

    def trash(self, items: Sequence[str | File | Folder | FolderEntry] | str | File | Folder) -> None:
        """Move files and folders (records, paths or ids) to the trash, all or none (``POST /trash``).

        They still count in the quota until purged, or until the server's retention lets them go.
        """
        self._request("POST", "/trash", json=self._selection(items), ok=(200, 204))

    def list_trash(self) -> Trash:
        """What the trash holds, newest first (``GET /trash``)."""
        return Trash.from_json(self._json(self._request("GET", "/trash")))

    def _trash_selection(self, items: Sequence[str | TrashItem] | str | TrashItem) -> dict[str, list[str]]:
        """Trash items given as records, ids, names or original paths (``Photos/beach.jpg``)."""
        if isinstance(items, (str, TrashItem)):
            items = [items]
        listed: list[TrashItem] | None = None
        chosen: dict[str, list[str]] = {"files": [], "folders": []}
        for item in items:
            if isinstance(item, str):
                if listed is None:
                    listed = self.list_trash().items
                item = find_in_trash(listed, item)
            chosen["files" if item.kind == "file" else "folders"].append(item.id)
        return chosen

    def restore(self, items: Sequence[str | TrashItem] | str | TrashItem) -> None:
        """Put trash items (records, ids, names or original paths) back where they were, all or none.

        Folders that are gone are made again; a name taken meanwhile gets a number.
        """
        self._request("POST", "/trash/restore", json=self._trash_selection(items), ok=(200, 204))

    def purge(self, items: Sequence[str | TrashItem] | str | TrashItem) -> None:
        """Delete trash items (records, ids, names or original paths) for good: their space is free again."""
        self._request("POST", "/trash/purge", json=self._trash_selection(items), ok=(200, 204))

    def empty_trash(self) -> None:
        """Delete everything in the trash for good (``DELETE /trash``)."""
        self._request("DELETE", "/trash", ok=(200, 204))

    def walk(self, folder: str | Folder | FolderEntry = "") -> Iterator[tuple[str, Folder, list[File]]]:
        """``(relative path, folder, its files)`` for a folder and every folder below it, top down.

        The relative path is ``""`` for `folder` itself, else ``"a/b"`` below it.
        """
        top = self.folder(folder)
        waiting: list[tuple[str, Folder]] = [("", top)]
        while waiting:
            relative, current = waiting.pop(0)
            yield relative, current, list(self.folder_files(current))
            for entry in current.folders:
                waiting.append((f"{relative}/{entry.name}" if relative else entry.name, self._get_folder(entry.id)))

    # -- trees ---------------------------------------------------------------------------

    def upload_dir(self, local_dir: str | os.PathLike[str], to: str | Folder = "", *, workers: int = 8,
                   progress: ProgressCallback | None = None,
                   on_result: Callable[[str, File | Exception | None], None] | None = None,
                   skip_existing: bool = True) -> TreeTransfer:
        """Upload a local directory tree into the Locker folder `to` (a path, made if missing; "": the root).

        Every file goes to the folder of its relative directory (``path`` of the upload; Locker
        makes the folders), by :meth:`upload_many`: small files started and completed 100 at
        a time, large ones in parts, `workers` transfers at once. Empty directories are made
        too. With ``skip_existing`` (the default) a file already in its folder with the same
        name, size and SHA-256 is not sent again, so running the same upload after an
        interruption sends only what is missing (and an interrupted multipart file resumes
        from its stored parts). A name taken by different bytes gets a number, as uploads do.

        Args:
            progress: ``progress("uploading", done, total)`` in bytes over all the files to send.
            on_result: ``on_result(relative path, outcome)`` as each file lands (its :class:`File`),
                fails (the exception) or is skipped as already there (None).

        Returns a :class:`TreeTransfer`; one file failing does not stop the others.
        """
        root = Path(local_dir).expanduser()
        if not root.is_dir():
            raise LockerError(f"{root} is not a directory.", code="not_a_directory")
        summary = TreeTransfer(folder="", local=str(root))
        existed = True
        if isinstance(to, Folder):
            top = to
        else:
            try:
                top = self.folder(to)
            except NotFoundError:
                if is_id(str(to).strip()):
                    raise  # an id names a folder that is there, never one to make
                existed = False
                top = self.make_folder(to)
                summary.folders_made.append(top.path)
        summary.folder = top.path
        files: list[tuple[str, Path]] = []  # (relative path, local path)
        empty: list[str] = []
        for directory, subdirectories, names in os.walk(root):
            subdirectories.sort()
            relative = Path(directory).relative_to(root).as_posix()
            relative = "" if relative == "." else relative
            # Anything but a folder is given to upload_many, which says why a pipe or a broken link can't go.
            files.extend((f"{relative}/{name}" if relative else name, Path(directory) / name) for name in sorted(names))
            if relative and not names and not subdirectories:
                empty.append(relative)

        remote: dict[str, list[File]] = {}
        if skip_existing and existed:
            remote = self._remote_files(top, {relative.rpartition("/")[0] for relative, _ in files})
        sending: list[tuple[str, Path]] = []
        for relative, source in files:
            directory, _, name = relative.rpartition("/")
            try:
                size = source.stat().st_size
                # The same name, or the numbered name an earlier run's copy got when the name was taken
                # (so running again never adds one more copy).
                alike = [file for file in remote.get(directory, []) if file.sha256 and file.size == size
                         and (file.name == name or is_numbered_copy(file.name, name))]
                same = bool(alike) and self._hash_file(source, size, None) in {file.sha256 for file in alike}
            except (OSError, LockerError):
                same = False  # upload_many says what is wrong with it
            if same:
                summary.skipped.append(relative)
                if on_result is not None:
                    on_result(relative, None)
            else:
                sending.append((relative, source))

        for relative in empty:
            try:
                made = self.make_folder(relative, under=top)
                summary.folders_made.append(made.path)
            except (LockerError, OSError) as error:
                summary.failed[relative + "/"] = error
        sizes = []
        for _, source in sending:
            try:
                sizes.append(source.stat().st_size)
            except OSError:
                sizes.append(0)
        overall = _Overall(progress, "uploading", sum(sizes))

        def progress_for(index: int, path: Path, size: int) -> ProgressCallback:
            return overall.for_item(index)

        def landed(index: int, outcome: File | Exception) -> None:
            relative = sending[index][0]
            if isinstance(outcome, File):
                summary.transferred[relative] = outcome
                summary.bytes += outcome.size
                overall.finish(index, outcome.size)
            else:
                summary.failed[relative] = outcome
                overall.finish(index, 0)
            if on_result is not None:
                on_result(relative, outcome)

        saved_workers, self.workers = self.workers, max(1, int(workers))
        try:
            self.upload_many([source for _, source in sending], folders=top,
                             folder_paths=[relative.rpartition("/")[0] for relative, _ in sending],
                             progress_for=progress_for, on_result=landed)
        finally:
            self.workers = saved_workers
        return summary

    def _remote_files(self, top: Folder, wanted: set[str]) -> dict[str, list[File]]:
        """{relative path: its files} for the folders below `top` at the relative paths `wanted` that exist."""
        found: dict[str, list[File]] = {}
        folders: dict[str, Folder | None] = {"": top}

        def folder_at(relative: str) -> Folder | None:
            if relative not in folders:
                parent_path, _, name = relative.rpartition("/")
                parent = folder_at(parent_path)
                entry = parent.subfolder(name) if parent is not None else None
                folders[relative] = self._get_folder(entry.id) if entry is not None else None
            return folders[relative]

        for relative in sorted(wanted):
            folder = folder_at(relative)
            if folder is None:
                continue
            found[relative] = list(self.folder_files(folder))
        return found

    def download_dir(self, folder_path: str | Folder = "", local_dir: str | os.PathLike[str] = ".", *,
                     workers: int = 8, progress: ProgressCallback | None = None,
                     on_result: Callable[[str, File, Exception | None | bool], None] | None = None
                     ) -> TreeTransfer:
        """Download a Locker folder's tree (a path, an id or a :class:`Folder`) into `local_dir`.

        The folders are made locally (empty ones too), the files downloaded `workers` at a
        time, each into a temporary file renamed into place once complete and its SHA-256
        matches what Locker recorded. A file already there with the same size and SHA-256 is
        left alone, so running the same download after an interruption fetches only what is
        missing or different. A local file that differs is replaced.

        Args:
            progress: ``progress("downloading", done, total)`` in bytes over all the files to fetch.
            on_result: ``on_result(relative path, File, outcome)``: outcome is None when it was
                downloaded, True when it was already there, the exception when it failed.

        Returns a :class:`TreeTransfer`; one file failing does not stop the others (a refused token does).
        """
        top = self.folder(folder_path) if not isinstance(folder_path, Folder) else folder_path
        root = Path(local_dir).expanduser()
        summary = TreeTransfer(folder=top.path, local=str(root))
        fetching: list[tuple[str, Path, File]] = []
        for relative, _, files in self.walk(top):
            directory = root.joinpath(*[safe_file_name(name) for name in relative.split("/") if name])
            if not directory.is_dir():
                directory.mkdir(parents=True, exist_ok=True)
                summary.folders_made.append(relative)
            for file in files:
                path = f"{relative}/{file.name}" if relative else file.name
                target = directory / safe_file_name(file.name)
                if _same_file(target, file):
                    summary.skipped.append(path)
                    if on_result is not None:
                        on_result(path, file, True)
                else:
                    fetching.append((path, target, file))
        overall = _Overall(progress, "downloading", sum(file.size for *_, file in fetching))
        stop = threading.Event()
        link_for = self._links_ahead([file for *_, file in fetching])

        def fetch(index: int, target: Path, file: File) -> Path:
            if stop.is_set():
                raise _Stopped()
            _drop_partial(target)
            return self._save(file, target, overall.for_item(index), stop, link_for(index))

        pool = ThreadPoolExecutor(max_workers=max(1, int(workers)), thread_name_prefix="locker-download")
        futures = {pool.submit(fetch, index, target, file): index
                   for index, (_, target, file) in enumerate(fetching)}
        refused: AuthenticationError | None = None
        try:
            for future in as_completed(futures):
                index = futures[future]
                path, _, file = fetching[index]
                try:
                    future.result()
                except _Stopped:
                    continue
                except AuthenticationError as error:
                    refused = refused or error
                    stop.set()
                    continue
                except (LockerError, OSError) as error:
                    summary.failed[path] = error
                    overall.finish(index, 0)
                    if on_result is not None:
                        on_result(path, file, error)
                    continue
                summary.transferred[path] = file
                summary.bytes += file.size
                overall.finish(index, file.size)
                if on_result is not None:
                    on_result(path, file, None)
        except BaseException:
            stop.set()
            raise
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if refused is not None:
            raise refused
        return summary

    def _links_ahead(self, files: Sequence[File]) -> Callable[[int], str | None]:
        """``link_for(index)``: a download URL for ``files[index]``, asked for BATCH_SIZE files at a time.

        The first file without one asks for itself and the files after it, so a tree of small
        files costs one request per hundred, not one each, and a URL is never asked for long
        before its file starts. None (the file then asks for its own, which says what is wrong):
        the server refused that file, has no batch links (an older Locker), or the URL is about to expire.
        """
        lock = threading.Lock()
        links: dict[int, tuple[str | LockerError, float]] = {}
        batches = True

        def link_for(index: int) -> str | None:
            nonlocal batches
            with lock:
                if index not in links and batches:
                    chosen = [number for number in range(index, min(len(files), index + BATCH_SIZE))
                              if number not in links]
                    asked = time.monotonic()
                    try:
                        answer, expires_at = self.download_links([files[number].id for number in chosen])
                    except AuthenticationError:
                        raise
                    except LockerError as error:
                        batches = error.status not in (404, 405)  # an older server: each file asks alone
                        return None
                    deadline = asked + _seconds_until(expires_at)
                    for number in chosen:
                        links[number] = (answer.get(files[number].id), deadline)
                url, deadline = links.pop(index, (None, 0.0))
            return url if isinstance(url, str) and deadline - time.monotonic() > LINK_MARGIN else None

        return link_for

    # -- share links -----------------------------------------------------------------

    def share(self, file_id: str, *, expires: datetime | timedelta | str | int | None = None,
              password: str | None = None, max_downloads: int | None = None, note: str | None = None) -> Share:
        """Create a public link to a file (``POST /shares``); its ``url`` is what to hand out.

        Args:
            expires: when the link stops working: a datetime, a timedelta, or a duration such as ``"7d"``.
            password: asked before downloading.
            max_downloads: downloads allowed through the link.
            note: shown on the link's page.

        Raises:
            UnsupportedFeatureError: this server has no share links yet.
        """
        body: dict[str, Any] = {"file_id": file_id}
        if expires is not None:
            body["expires_at"] = expiry_timestamp(expires)
        if password:
            body["password"] = password
        if max_downloads is not None:
            body["max_downloads"] = int(max_downloads)
        if note:
            body["note"] = note
        response = self._shares_request("POST", "/shares", json=body, ok=(200, 201))
        return Share.from_json(self._json(response))

    def shares(self) -> list[Share]:
        """Every share link of this user (``GET /shares``)."""
        body = self._json(self._shares_request("GET", "/shares"))
        items = body.get("items", body.get("shares")) or []
        return [Share.from_json(item) for item in items]

    def revoke_share(self, share_id: str) -> None:
        """Revoke a share link at once (``DELETE /shares/<id>``)."""
        self._shares_request("DELETE", f"/shares/{quote(share_id, safe='')}", ok=(200, 204))

    def _shares_request(self, method: str, path: str, **kwargs: Any) -> Any:
        """A /shares call that says plainly when the server has no share links at all."""
        try:
            return self._request(method, path, **kwargs)
        except LockerError as error:
            if error.status == 405 or (error.status == 404 and self._shares_missing()):
                raise UnsupportedFeatureError(SHARES_UNSUPPORTED, code="unsupported", status=error.status) from None
            raise

    def _shares_missing(self) -> bool:
        """True when the server has no /shares route at all (rather than no such file or link)."""
        try:
            self._request("GET", "/shares")
        except LockerError as error:
            return error.status in (404, 405)
        return False
