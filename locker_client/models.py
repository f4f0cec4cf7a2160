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
    #: The id of the folder it is in (None from a Locker without folders).
    folder: str | None = None
    #: That folder as a path, "" for the root folder (None for another user's file).
    path: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> File:
        return cls(id=str(data["id"]), name=str(data["name"]), size=int(data["size"]),
                   content_type=str(data.get("content_type") or "application/octet-stream"),
                   created_at=data.get("created_at"), sha256=data.get("sha256"),
                   sha256_verified=bool(data.get("sha256_verified")), preview=data.get("preview"),
                   visible_to_everyone=bool(data.get("visible_to_everyone")), owner=data.get("owner"),
                   guest_name=data.get("guest_name"), request=data.get("request"), folder=data.get("folder"),
                   path=data.get("path"), raw=dict(data))

    @property
    def created(self) -> datetime | None:
        """``created_at`` as an aware datetime (UTC)."""
        return parse_time(self.created_at)

    @property
    def full_path(self) -> str:
        """``Photos/2024/beach.jpg``: its folder's path and its name (just the name in the root folder)."""
        return f"{self.path}/{self.name}" if self.path else self.name


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


@dataclass(frozen=True)
class FolderEntry(Record):
    """A folder as its parent lists it: what is inside it at any depth."""

    id: str
    name: str
    created_at: str | None
    #: Files inside it, at any depth, and their bytes.
    files: int = 0
    size: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FolderEntry:
        return cls(id=str(data["id"]), name=str(data["name"]), created_at=data.get("created_at"),
                   files=int(data.get("files") or 0), size=int(data.get("size") or 0), raw=dict(data))


@dataclass(frozen=True)
class Folder(Record):
    """One folder (``GET /api/v1/folders/<id>``): where it is and the folders directly in it.

    The root folder has the name and path ``""`` and no parent.
    """

    id: str
    name: str
    path: str
    parent: str | None
    created_at: str | None
    #: ``[{"id", "name"}, …]``: the root first, this folder last.
    breadcrumbs: list[dict[str, Any]] = field(default_factory=list)
    #: The folders directly in it, by name.
    folders: list[FolderEntry] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Folder:
        return cls(id=str(data["id"]), name=str(data.get("name") or ""), path=str(data.get("path") or ""),
                   parent=data.get("parent"), created_at=data.get("created_at"),
                   breadcrumbs=[dict(crumb) for crumb in data.get("breadcrumbs") or []],
                   folders=[FolderEntry.from_json(item) for item in data.get("folders") or []], raw=dict(data))

    @property
    def is_root(self) -> bool:
        return self.parent is None

    def subfolder(self, name: str) -> FolderEntry | None:
        """The folder directly in this one called `name`, or None."""
        return next((entry for entry in self.folders if entry.name == name), None)

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["folders"] = [entry.to_json() for entry in self.folders]
        return data


@dataclass(frozen=True)
class FolderListing(Record):
    """What :meth:`Locker.list_folder` returns: the folder, the folders in it, then its files (every page)."""

    folder: Folder
    folders: list[FolderEntry]
    files: list[File]

    def to_json(self) -> dict[str, Any]:
        return {"folder": self.folder.to_json(), "folders": [entry.to_json() for entry in self.folders],
                "files": [file.to_json() for file in self.files]}


@dataclass(frozen=True)
class TrashItem(Record):
    """A file or folder in the trash (``GET /api/v1/trash``)."""

    kind: str  # "file" or "folder"
    id: str
    name: str
    #: The folder path it was deleted from ("" for the root folder): restoring puts it back there.
    trashed_from: str
    trashed_at: str | None
    #: A folder: the bytes and number of the files that went with it.
    size: int = 0
    files: int = 0
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrashItem:
        return cls(kind=str(data["kind"]), id=str(data["id"]), name=str(data["name"]),
                   trashed_from=str(data.get("trashed_from") or ""), trashed_at=data.get("trashed_at"),
                   size=int(data.get("size") or 0), files=int(data.get("files") or 0), raw=dict(data))

    @property
    def original_path(self) -> str:
        """Where it was: ``Photos/2024/beach.jpg``."""
        return f"{self.trashed_from}/{self.name}" if self.trashed_from else self.name


@dataclass(frozen=True)
class Trash(Record):
    """The trash: its items newest first, the bytes it holds (still in the quota), and how long it keeps them."""

    items: list[TrashItem]
    bytes: int
    retention_seconds: int | None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Trash:
        return cls(items=[TrashItem.from_json(item) for item in data.get("items") or []],
                   bytes=int(data.get("bytes") or 0), retention_seconds=data.get("retention_seconds"), raw=dict(data))

    def to_json(self) -> dict[str, Any]:
        return {"items": [item.to_json() for item in self.items], "bytes": self.bytes,
                "retention_seconds": self.retention_seconds}


@dataclass
class TreeTransfer(Record):
    """What :meth:`Locker.upload_dir` or :meth:`Locker.download_dir` did.

    Paths are relative to the tree's top (``a/b/c.txt``, with ``/`` on every system).
    """

    #: The Locker folder's path ("" for the root folder) and the local directory.
    folder: str
    local: str
    #: The files sent or received this time, by relative path.
    transferred: dict[str, File] = field(default_factory=dict)
    #: Files already there with the same size and SHA-256, left alone.
    skipped: list[str] = field(default_factory=list)
    #: Files that failed, with the error.
    failed: dict[str, Exception] = field(default_factory=dict)
    #: Folders made (in Locker for an upload, on disk for a download).
    folders_made: list[str] = field(default_factory=list)
    #: Bytes sent or received this time.
    bytes: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed

    def to_json(self) -> dict[str, Any]:
        return {"folder": self.folder, "local": self.local,
                "transferred": [{"path": path, "file": file.to_json()} for path, file in self.transferred.items()],
                "skipped": list(self.skipped),
                "failed": [{"path": path, "error": str(error), "code": getattr(error, "code", "os_error")}
                           for path, error in self.failed.items()],
                "folders_made": list(self.folders_made), "bytes": self.bytes}
