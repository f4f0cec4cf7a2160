"""Where interrupted multipart uploads are remembered, so running the same upload again resumes it.

One small JSON file per (server, absolute path) in the user's state directory
(``$LOCKER_STATE_DIR``, else platformdirs' ``user_state_dir("locker")``, e.g.
``~/.local/state/locker/uploads/`` on Linux). It holds the upload id and what the
local file looked like when the upload started (size, mtime, SHA-256, name); a
file that changed since is uploaded afresh and the stale upload cancelled.
Files are written with mode 0600 (they name local paths).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import platformdirs

STATE_DIR_ENV = "LOCKER_STATE_DIR"


@dataclass(frozen=True)
class UploadState:
    """An unfinished multipart upload of one local file to one server."""

    server: str
    path: str
    size: int
    mtime_ns: int
    name: str
    upload_id: str
    sha256: str | None  # None until the file has been read once (it is hashed while the parts go up)
    part_size: int
    part_count: int
    part_checksums: bool
    #: Where in Locker it goes: a folder id and a path below it (None: the root folder, no path).
    folder: str | None = None
    folder_path: str | None = None


def default_state_dir() -> Path:
    configured = os.environ.get(STATE_DIR_ENV)
    return Path(configured) if configured else Path(platformdirs.user_state_dir("locker"))


class UploadStateStore:
    """Saves, finds and forgets :class:`UploadState` records (one file each)."""

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_state_dir() / "uploads"

    def _file(self, server: str, path: str) -> Path:
        key = hashlib.sha256(f"{server}\0{path}".encode("utf-8", "surrogateescape")).hexdigest()[:40]
        return self.directory / f"{key}.json"

    def load(self, server: str, path: str) -> UploadState | None:
        """The remembered upload of `path` to `server`, or None (also for an unreadable record)."""
        try:
            data = json.loads(self._file(server, path).read_text(encoding="utf-8"))
            # A record from before folders has no target: it went to the root folder.
            state = UploadState(**{f.name: data[f.name] for f in fields(UploadState)
                                   if f.name in data or f.name not in ("folder", "folder_path")})
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if state.server != server or state.path != path:
            return None
        return state

    def save(self, state: UploadState) -> None:
        write_private_json(self.directory, self._file(state.server, state.path), asdict(state))

    def drop(self, server: str, path: str) -> None:
        self._file(server, path).unlink(missing_ok=True)


def write_private_json(folder: Path, target: Path, data: Any) -> None:
    """Write JSON readable only by this user (file 0600, folder 0700), atomically: never a half-written file."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
            out.write("\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
