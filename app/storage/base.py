"""The storage contract every backend fulfils.

The app never moves file bytes itself: it hands clients signed, expiring
requests that go straight to the backend, and asks the backend afterwards
what it holds.
"""
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote


@dataclass(frozen=True)
class UploadRequest:
    """How a client sends one object: the exact method, URL and headers to use."""

    method: str
    url: str
    headers: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectInfo:
    size: int
    etag: str | None = None
    sha256: str | None = None  # hex, when the backend knows it


@dataclass(frozen=True)
class StoredPart:
    """One part of a multipart upload as the backend holds it."""

    number: int
    size: int
    etag: str
    sha256: str | None = None  # hex, when the backend checked the part against one


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    last_modified: datetime  # naive UTC


@dataclass(frozen=True)
class PendingMultipart:
    key: str
    upload_id: str
    initiated: datetime  # naive UTC


@dataclass(frozen=True)
class Check:
    """One finding of `flask locker check-storage`: what was checked, whether it holds, and what to do."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class Health:
    """How a backend that answers is doing: "ok", or "degraded" (serving, short of something) with what."""

    state: str = "ok"
    detail: str | None = None


class StorageError(Exception):
    """The backend could not be reached or failed an operation."""


class StorageRejected(StorageError):
    """The backend refused what the client sent (a missing or mismatched part, say)."""


class StorageReadOnly(StorageError):
    """The backend serves what it holds but cannot store anything new now (a replica is down, say)."""


class Storage(ABC):
    name = "storage"
    # Each call is a request over the network: asking two things at once saves a round trip.
    remote = False

    @abstractmethod
    def prepare(self):
        """What the backend needs before serving that touches no network: Locker starts with the store down."""

    @abstractmethod
    def setup(self, origins):
        """Create what the backend needs (a bucket, the CORS rules for browsers at `origins`); safe to repeat.

        Returns True when something was created.
        """

    @abstractmethod
    def check(self, origin):
        """Whether the backend does what Locker relies on, as Check results, for browsers at `origin`."""

    def patient(self):
        """The backend for housekeeping no user waits on: long timeouts where calls go over a network."""
        return self

    def browser_origin(self) -> str | None:
        """The origin browsers send signed requests to, for the pages' CSP; None when it is Locker's own."""
        return None

    @abstractmethod
    def presign_upload(self, key, size, content_type, expires, sha256=None) -> UploadRequest:
        """A signed PUT that accepts exactly `size` bytes of `content_type` at `key`.

        `sha256` (hex), when given, is pinned too: a body with another digest is refused
        by backends that check it.
        """

    @abstractmethod
    def stat(self, key) -> ObjectInfo | None:
        """What is stored at `key`, or None when nothing is."""

    @abstractmethod
    def download_url(self, key, filename, content_type, expires, inline=False) -> str:
        """A signed GET URL whose response names `filename` in Content-Disposition."""

    @abstractmethod
    def delete(self, key):
        """Remove `key`; removing a missing key succeeds."""

    @abstractmethod
    def health(self) -> Health:
        """How the backend is doing; raise StorageError when it cannot serve requests."""

    def check_writable(self):
        """Raise StorageReadOnly when the backend knows it cannot take new objects now (asked before uploads)."""

    @abstractmethod
    def open_read(self, key):
        """A binary stream of the stored bytes, for server-side checks such as `verify`."""

    @abstractmethod
    def read_head(self, key, length) -> bytes:
        """The first `length` bytes of the stored object (all of it when shorter), read with one ranged request."""

    @abstractmethod
    def iter_objects(self, prefix):
        """Every stored object whose key starts with `prefix`, as StoredObject."""

    # Multipart uploads: parts are sent with signed PUTs, then joined into one object.

    @abstractmethod
    def create_multipart(self, key, content_type, part_checksums=False, part_size=None) -> str:
        """Start a multipart upload and return its id.

        With `part_checksums`, every part must be signed with its SHA-256 and the
        backend refuses a part whose bytes do not match it. `part_size` (every
        part's size but the last's) lets a backend put each part where it belongs
        as it arrives.
        """

    @abstractmethod
    def presign_part(self, key, upload_id, number, size, expires, sha256=None) -> UploadRequest:
        """A signed PUT for part `number` that accepts exactly `size` bytes."""

    @abstractmethod
    def list_parts(self, key, upload_id) -> list | None:
        """The parts stored so far (StoredPart, by number), or None if the upload is gone."""

    @abstractmethod
    def complete_multipart(self, key, upload_id, parts):
        """Join `parts` (StoredPart, in order) into the object at `key`; returns its ObjectInfo.

        The info is what a stat() would say, so completing needs no second call
        (on some stores a HEAD of a large object rereads all of it). Its sha256 is
        the whole object's digest or None, never a digest of digests.
        Raises StorageRejected when a part is missing or does not match.
        """

    @abstractmethod
    def abort_multipart(self, key, upload_id):
        """Drop an unfinished upload and its parts; aborting a finished or unknown one succeeds."""

    @abstractmethod
    def iter_multipart_uploads(self, prefix):
        """Unfinished multipart uploads under `prefix`, as PendingMultipart."""



def content_disposition(filename, inline=False):
    """An RFC 6266 header value that carries any Unicode name intact.

    The plain `filename` is an ASCII fallback for old clients; `filename*`
    holds the real name percent-encoded as UTF-8.
    """
    kind = "inline" if inline else "attachment"
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_" for c in filename)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
