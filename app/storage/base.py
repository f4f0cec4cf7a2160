"""The storage contract every backend fulfils.

The app never moves file bytes itself: it hands clients signed, expiring
requests that go straight to the backend, and asks the backend afterwards
what it holds.
"""
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
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


class StorageError(Exception):
    """The backend could not be reached or refused an operation."""


class Storage(ABC):
    name = "storage"

    @abstractmethod
    def prepare(self):
        """Check (and where configured, create) what the backend needs before serving."""

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
    def health(self):
        """Raise StorageError when the backend cannot serve requests."""



def content_disposition(filename, inline=False):
    """An RFC 6266 header value that carries any Unicode name intact.

    The plain `filename` is an ASCII fallback for old clients; `filename*`
    holds the real name percent-encoded as UTF-8.
    """
    kind = "inline" if inline else "attachment"
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_" for c in filename)
    return f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"
