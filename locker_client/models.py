"""What the API answers, as small typed records.

Each record keeps the server's JSON in ``raw`` too, so fields a newer Locker
adds are not lost; ``to_json()`` gives the documented, stable keys only.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any


def parse_time(value: Any) -> datetime | None:
    """ISO 8601 (``2026-01-02T03:04:05Z``) to an aware datetime; None stays None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


class Record:
    """A record's documented, stable JSON keys are its fields but ``raw``, in order."""

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "raw"}  # type: ignore[arg-type]


@dataclass(frozen=True)
class File(Record):
    """A stored file (``GET /api/v1/files/<id>``).

    The fields after ``sha256_verified`` are None or false from a Locker too old to send them.
    """

    id: str
    name: str
    size: int
    content_type: str
    created_at: str | None
    sha256: str | None
    sha256_verified: bool
    #: How a browser may show it inline: image, pdf, audio, video or text; None: download only.
    preview: str | None = None
    #: True when every signed-in user can find and download it.
    visible_to_everyone: bool = False
    #: The owner's username.
    owner: str | None = None
    #: The name a guest gave when sending it through an upload request.
    guest_name: str | None = None
    #: The title of the upload request it arrived through.
    request: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> File:
        return cls(id=str(data["id"]), name=str(data["name"]), size=int(data["size"]),
                   content_type=str(data.get("content_type") or "application/octet-stream"),
                   created_at=data.get("created_at"), sha256=data.get("sha256"),
                   sha256_verified=bool(data.get("sha256_verified")), preview=data.get("preview"),
                   visible_to_everyone=bool(data.get("visible_to_everyone")), owner=data.get("owner"),
                   guest_name=data.get("guest_name"), request=data.get("request"), raw=dict(data))

    @property
    def created(self) -> datetime | None:
        """``created_at`` as an aware datetime (UTC)."""
        return parse_time(self.created_at)


@dataclass(frozen=True)
class Account(Record):
    """Who the token belongs to and their space (``GET /api/v1/me``)."""

    username: str
    is_admin: bool
    used_bytes: int
    quota_bytes: int | None
    remaining_bytes: int | None
    #: Files above this size go up in parts (None: a server too old to say).
    multipart_threshold: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Account:
        return cls(username=str(data["username"]), is_admin=bool(data.get("is_admin")),
                   used_bytes=int(data.get("used_bytes") or 0), quota_bytes=data.get("quota_bytes"),
                   remaining_bytes=data.get("remaining_bytes"), multipart_threshold=data.get("multipart_threshold"),
                   raw=dict(data))


@dataclass(frozen=True)
class Share(Record):
    """A share link (``POST /api/v1/shares``, ``GET /api/v1/shares``).

    ``url`` is what to hand out; from :meth:`Locker.shares` it is ``None`` for a
    link Locker cannot show again (made before links were kept, or under another
    ``SECRET_KEY``).
    """

    id: str
    url: str | None = None
    file_id: str | None = None
    file_name: str | None = None
    state: str | None = None  # active, expired, used_up or revoked
    created_at: str | None = None
    expires_at: str | None = None
    has_password: bool = False
    max_downloads: int | None = None
    download_count: int = 0
    last_download_at: str | None = None
    note: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Share:
        return cls(id=str(data.get("id") or data.get("public_id")), url=data.get("url") or None,
                   file_id=data.get("file_id"), file_name=data.get("file_name"), state=data.get("state"),
                   created_at=data.get("created_at"), expires_at=data.get("expires_at"),
                   has_password=bool(data.get("has_password")), max_downloads=data.get("max_downloads"),
                   download_count=int(data.get("download_count") or 0),
                   last_download_at=data.get("last_download_at"), note=data.get("note"), raw=dict(data))
