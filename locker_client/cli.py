"""``locker``: Locker from the terminal.

    locker login https://locker.example.org      # asks for username and password
    locker upload -r photos/ --to Photos/2024    # the folder's tree, in parallel, resumable
    locker ls Photos --json | jq -r '.[].name'
    locker download -r Photos/2024 ~/Pictures/2024
    locker mkdir -p Archive/2023 && locker mv Photos/2023 Archive
    locker rm Photos/old.jpg && locker trash && locker restore Photos/old.jpg

Exit status: 0 on success, 1 when something failed (one line on stderr says
what), 2 for a usage mistake, 130 when interrupted (an interrupted upload or
download resumes when the same command runs again). Without a terminal on
stderr no progress bars or colours are written.

Files and folders are named by their path from the root folder (``Photos/2024/beach.jpg``)
or their id; a file also by its exact name when only one file has it.

``--json`` output (stable; new keys may be added, none renamed or removed):

* ``upload``: a list of files (``rename``: one), each
  ``{"id", "name", "size", "content_type", "created_at", "sha256", "sha256_verified", "preview",
  "visible_to_everyone", "owner", "guest_name", "request", "folder", "path"}`` (``path``: its
  folder's path, ``""`` for the root folder).
* ``ls``: a list, the folders first, each ``{"kind": "folder", "id", "name", "created_at", "files",
  "size", "path"}``, then the files, each ``{"kind": "file", …file}``.
* ``mkdir``: a list of folders, ``mv``: the folder moved into, each ``{"id", "name", "path", "parent",
  "created_at", "breadcrumbs", "folders"}``.
* ``trash``: ``{"items": [{"kind", "id", "name", "trashed_from", "trashed_at", "size", "files"}], "bytes",
  "retention_seconds"}``.
* ``whoami``: ``{"url", "username", "is_admin", "used_bytes", "quota_bytes", "remaining_bytes",
  "multipart_threshold"}``.
* ``share``: ``{"id", "url", "file_id", "file_name", "state", "created_at", "expires_at",
  "has_password", "max_downloads", "download_count", "last_download_at", "note"}``;
  ``shares``: a list of those (``url`` is null for a link made before Locker kept links, or under another
  ``SECRET_KEY``).
* ``download``: ``{"path", "file": {file}}``; ``download -r``: ``{"folder", "local", "transferred":
  [{"path", "file"}], "skipped": [paths], "failed": [{"path", "error", "code"}], "folders_made", "bytes"}``
  (paths relative to the folder).
* ``activity``: a list of events, each ``{"id", "created_at", "action", "label", "actor", "actor_name",
  "who", "owner", "file_id", "file_name", "share_id", "file_request_id", "address", "detail"}``.
"""
from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)
from rich.markup import escape
from rich.table import Table

from locker_client import __version__
from locker_client.client import (Locker, ProgressCallback, find_in_trash, normalize_url, parse_duration,
                                  safe_file_name)
from locker_client.config import current_login, forget, load_stored, store
from locker_client.errors import AuthenticationError, ConflictError, LockerError, NotFoundError
from locker_client.models import File, Folder, FolderEntry, TrashItem

F = TypeVar("F", bound=Callable[..., Any])
EXIT_FAILED, EXIT_INTERRUPTED = 1, 130


class Failed(Exception):
    """A failure already worded for the user."""


def human_size(size: int | None) -> str:
    if size is None:
        return "unlimited"
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    if unit == "bytes":
        return "1 byte" if size == 1 else f"{int(size)} bytes"
    return f"{value:.1f} {unit}"


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    click.echo(f"locker: {one_line(message)}", err=True)
    sys.exit(code)


def explain(error: LockerError) -> str:
    """The error's message, with what to do next where that is clear."""
    message = error.message
    if isinstance(error, AuthenticationError) and error.code != "invalid_credentials":
        login = current_login()
        source = "LOCKER_TOKEN" if login.token_source == "env" else "the stored token"
        message += f" ({source} was refused; run `locker login URL` to sign in again)"
    return message


def handle_errors(command: F) -> F:
    """Turn every failure into one line on stderr and a non-zero exit, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except LockerError as error:
            fail(explain(error))
        except Failed as error:
            fail(str(error))
        except KeyboardInterrupt:
            fail("interrupted (run the same command again to resume)", EXIT_INTERRUPTED)
        except OSError as error:
            fail(f"{error.filename + ': ' if error.filename else ''}{error.strerror or error}")

    return wrapper  # type: ignore[return-value]


def stderr_console() -> Console:
    return Console(stderr=True)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def connect(workers: int = 4) -> Locker:
    """A client for the stored login (or LOCKER_URL / LOCKER_TOKEN)."""
    login = current_login()
    if not login.url:
        raise Failed("no Locker to talk to: run `locker login URL` first (or set LOCKER_URL and LOCKER_TOKEN)")
    if not login.token:
        raise Failed(f"not logged in to {login.url}: run `locker login {login.url}` (or set LOCKER_TOKEN)")
    return Locker(login.url, token=login.token, workers=workers)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="locker")
def cli() -> None:
    """Locker from the terminal: upload, list, download and share files.

    Log in once with `locker login URL`; LOCKER_URL and LOCKER_TOKEN override the stored login.
    """


# -- account -------------------------------------------------------------------------


@cli.command()
@click.argument("url")
@click.option("-u", "--username", help="Your Locker username (asked when not given).")
@click.option("--token-name", default=None, help="Name of the API token to create (shown on your Account page).")
@handle_errors
def login(url: str, username: str | None, token_name: str | None) -> None:
    """Sign in to the Locker at URL and store an API token (mode 0600).

    The password is asked for without echo, and for an account with two-factor sign-in, a code from its
    app (or a recovery code). The token, not the password, is kept.
    """
    url = normalize_url(url)
    if not username:
        username = click.prompt("Username", err=True)
    password = click.prompt("Password", hide_input=True, err=True)
    name = token_name or f"locker CLI on {socket.gethostname()}"[:100]
    try:
        lk = Locker.login(url, username, password, token_name=name)
    except AuthenticationError as error:
        if error.code != "two_factor_required":
            raise
        # A right password is not counted against the sign-in limits, so asking again costs nothing.
        code = click.prompt("Two-factor code (or a recovery code)", err=True)
        lk = Locker.login(url, username, password, token_name=name, code=code)
    with lk:
        assert lk.token is not None
        previous = load_stored()
        path = store(url, lk.token, username)
    if previous.get("token") and previous.get("url") and previous.get("token") != lk.token:
        try:  # the old token is no longer needed: don't leave it valid
            with Locker(previous["url"], token=previous["token"], retries=0) as old:
                old.revoke_token()
        except LockerError:
            pass
    click.echo(f"Logged in to {url} as {username}. Token saved in {path}.")


@cli.command()
@handle_errors
def logout() -> None:
    """Revoke the stored token on the server and delete it here."""
    stored = load_stored()
    if not stored.get("token"):
        forget()
        click.echo("Not logged in.", err=True)
        return
    url = stored.get("url") or ""
    problem = None
    try:
        with Locker(url, token=stored["token"], retries=0) as lk:
            lk.revoke_token()
    except AuthenticationError:
        pass  # already revoked or expired
    except LockerError as error:
        problem = error.message
    forget()
    if problem:
        raise Failed(f"removed the stored login, but could not revoke the token ({problem}); "
                     "revoke it on the Account page")
    click.echo(f"Logged out of {url}.")


@cli.command()
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: url, username, is_admin, used/quota/remaining bytes.")
@handle_errors
def whoami(as_json: bool) -> None:
    """Show who you are logged in as, where, and your space."""
    with connect() as lk:
        me = lk.me()
        if as_json:
            print_json({"url": lk.url, **me.to_json()})
            return
        role = " (admin)" if me.is_admin else ""
        space = f"{human_size(me.used_bytes)} used"
        if me.quota_bytes is not None:
            space += f" of {human_size(me.quota_bytes)}, {human_size(me.remaining_bytes)} free"
        click.echo(f"{me.username}{role} at {lk.url}: {space}")


# -- files -----------------------------------------------------------------------------


def where(path: str) -> str:
    """A Locker folder path as the user reads it: "Photos/2024", or "your root folder"."""
    return path if path else "your root folder"


def folder_json(entry: FolderEntry, parent_path: str) -> dict[str, Any]:
    return {"kind": "folder", **entry.to_json(), "path": f"{parent_path}/{entry.name}" if parent_path else entry.name}


@cli.command("ls")
@click.argument("path", required=False, default="")
@click.option("--json", "as_json", is_flag=True,
              help="Print a JSON list: the folders, then the files (stable keys; \"kind\" says which).")
@click.option("-s", "--search", default=None,
              help="Only names containing this, ignoring case, in every folder; finds files shared with everyone too.")
@click.option("--everyone", is_flag=True, help="Only files shared with everyone (yours and others').")
@click.option("--sort", type=click.Choice(["date", "name", "size"]), default="date", show_default=True,
              help="How files are ordered (folders come first, by name).")
@click.option("--order", type=click.Choice(["asc", "desc"]), default=None,
              help="Default: newest/largest first, names A-Z.")
@handle_errors
def list_files(path: str, as_json: bool, search: str | None, everyone: bool, sort: str, order: str | None) -> None:
    """List the folder PATH (default: your root folder): its folders, then its files (all pages).

    With --search or --everyone, files from every folder are listed instead (and files
    others shared with everyone).
    """
    show_owner = bool(search) or everyone
    if show_owner and path:
        raise Failed("--search and --everyone look in every folder; leave out PATH")
    folders: list[FolderEntry] = []
    with connect() as lk:
        if show_owner:
            files = list(lk.files(sort=sort, order=order, q=search, scope="everyone" if everyone else None))
            parent_path = ""
        else:
            try:
                listing = lk.list_folder(path, sort=sort, order=order)
                folders, files, parent_path = listing.folders, listing.files, listing.folder.path
            except NotFoundError as error:
                try:  # a file's path lists that file, as ls does
                    found = lk.item(path)
                except NotFoundError:
                    raise Failed(f"{path}: {error.message}") from None
                if not isinstance(found, File):
                    raise
                files, parent_path = [found], found.path or ""
    if as_json:
        print_json([folder_json(entry, parent_path) for entry in folders]
                   + [{"kind": "file", **f.to_json()} for f in files])
        return
    # Only a search or --everyone can list other people's files, so only then is the owner shown.
    console = Console()
    if not console.is_terminal:
        # Tab-separated, one a line: id, size in bytes, created, name (a folder's ends in /; a search
        # shows the folder path of your own files) (, owner).
        for entry in folders:
            click.echo("\t".join([entry.id, str(entry.size), entry.created_at or "", entry.name + "/"]))
        for f in files:
            columns = [f.id, str(f.size), f.created_at or "", f.full_path if show_owner else f.name]
            if show_owner:
                columns.append(f.owner or "")
            click.echo("\t".join(columns))
        return
    if not files and not folders:
        if show_owner:
            console.print("No files match.")
        elif parent_path:
            console.print(f"{parent_path} is empty.")
        else:
            console.print("No files yet. Upload with `locker upload PATH`.")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("ID", style="dim", no_wrap=True)
    table.add_column("Size", justify="right", no_wrap=True)
    table.add_column("Uploaded", no_wrap=True)
    table.add_column("Name", overflow="fold")
    if show_owner:
        table.add_column("Owner", no_wrap=True)
    for entry in folders:
        count = "1 file" if entry.files == 1 else f"{entry.files} files"
        table.add_row(entry.id, human_size(entry.size), (entry.created_at or "").replace("T", " ").rstrip("Z"),
                      f"[bold blue]{escape(entry.name)}/[/] [dim]({count})[/]")
    for f in files:
        cells = [f.id, human_size(f.size), (f.created_at or "").replace("T", " ").rstrip("Z"),
                 escape(f.full_path if show_owner else f.name)]
        if show_owner:
            cells.append(escape(f.owner or ""))
        table.add_row(*cells)
    console.print(table)


class UploadProgress:
    """Rich bars on a terminal: one per file (hashing, then uploading) and one overall."""

    def __init__(self, console: Console, total: int) -> None:
        self.progress = Progress(TextColumn("{task.description}", justify="left"), BarColumn(),
                                 DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                                 console=console, transient=False, redirect_stdout=False,
                                 redirect_stderr=False)
        self.total = total
        self.overall = self.progress.add_task("total", total=total)
        self.finished = 0
        self.finishers: dict[TaskID, Callable[[], None]] = {}

    def __enter__(self) -> UploadProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    @staticmethod
    def label(name: str, phase: str) -> str:
        short = name if len(name) <= 32 else name[:29] + "…"
        return f"{phase} {short}" if phase == "hashing" else short

    def for_file(self, name: str, size: int) -> tuple[TaskID, ProgressCallback]:
        task = self.progress.add_task(self.label(name, "hashing"), total=size)
        current_phase, resumed = "hashing", 0

        def report(phase: str, done: int, total: int) -> None:
            nonlocal current_phase, resumed
            if phase != current_phase:
                # Bytes already stored (a resumed upload) are shown as done, not counted as speed.
                current_phase, resumed = phase, done
                self.progress.reset(task, total=total, completed=done, description=self.label(name, phase))
                if done:
                    self.finished += done
                    self.progress.reset(self.overall, total=self.total, completed=self.finished)
                return
            self.progress.update(task, completed=done)
            if phase == "uploading":
                self.progress.update(self.overall, completed=self.finished + done - resumed)

        def finish() -> None:
            self.finished += size - resumed
            self.progress.update(task, completed=size, description=self.label(name, "uploading"))
            self.progress.update(self.overall, completed=self.finished)

        self.finishers[task] = finish
        return task, report

    def done(self, task: TaskID) -> None:
        self.finishers.pop(task)()


class TreeProgress:
    """One overall bar on a terminal for a whole tree (or several): bytes, speed, time left, files done."""

    def __init__(self, console: Console, verb: str, files: int | None = None) -> None:
        self.progress = Progress(TextColumn("{task.description}", justify="left"), BarColumn(),
                                 DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                                 console=console, transient=False, redirect_stdout=False,
                                 redirect_stderr=False)
        self.verb, self.files, self.finished = verb, files, 0
        self.base_done = self.base_total = self.done = self.total = 0
        self.task = self.progress.add_task(self.describe(), total=None)
        self.lock = threading.Lock()

    def __enter__(self) -> TreeProgress:
        self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.stop()

    def describe(self) -> str:
        of = f"/{self.files}" if self.files is not None else ""
        return f"{self.verb} {self.finished}{of} files"

    def next_tree(self) -> None:
        """What follows is another tree (or files) with its own byte count from 0."""
        with self.lock:
            self.base_done, self.base_total = self.base_done + self.done, self.base_total + self.total
            self.done = self.total = 0

    def report(self, _phase: str, done: int, total: int) -> None:
        with self.lock:
            self.done, self.total = done, total
            self.progress.update(self.task, completed=self.base_done + done, total=self.base_total + total)

    def file_done(self) -> None:
        with self.lock:
            self.finished += 1
            self.progress.update(self.task, description=self.describe())

    def print(self, message: str) -> None:
        self.progress.console.print(message, markup=False, highlight=False, soft_wrap=True)


def upload_folder(lk: Locker, to: str | None) -> Folder | None:
    """The folder --to names, made if missing (an id must name one that is there); None: the root folder."""
    if not to:
        return None
    if is_file_id(to.strip()):
        return lk.folder(to.strip())
    return lk.make_folder(to)


def reason_of(outcome: Exception) -> str:
    if isinstance(outcome, LockerError):
        return explain(outcome)
    if isinstance(outcome, OSError):
        return outcome.strerror or str(outcome)
    return str(outcome)


def walk_count(folder: Path) -> int:
    return sum(len(names) for _, _, names in os.walk(folder))


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-r", "--recursive", is_flag=True,
              help="Upload folders with everything in them, recreating their tree in Locker.")
@click.option("--to", "to", default=None, metavar="FOLDER",
              help="The Locker folder to upload into, made if missing (a path such as Photos/2024). "
                   "With -r, each local folder's contents go into it; default: a folder named like the local one.")
@click.option("--name", default=None, help="Store the file under this name (one file only).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of the uploaded files.")
@click.option("-j", "--parallel", default=None, type=click.IntRange(1, 32),
              help="Parts of large files, or small files, sent at once [default: 4; 8 with -r].")
@handle_errors
def upload(paths: tuple[str, ...], recursive: bool, to: str | None, name: str | None, as_json: bool,
           parallel: int | None) -> None:
    """Upload files, or with -r folders with their tree (progress bars on a terminal).

    Large files go up in parts; if an upload is interrupted, run the same
    command again: only the missing parts are sent, and with -r files already
    in Locker with the same size and SHA-256 are skipped. A file name already
    taken in a folder by other bytes gets a number.
    """
    given = [Path(path).expanduser() for path in paths]
    for path, text in zip(given, paths):
        if not path.exists():
            raise Failed(f"{text}: no such file or folder")
        if path.is_dir() and not recursive:
            raise Failed(f"{text} is a folder; add --recursive to upload what is in it")
    trees = [path for path in given if path.is_dir()]
    if trees:
        tree_upload(trees, [path for path in given if not path.is_dir()], to, name, as_json, parallel or 8)
        return
    files = given
    if name and len(files) != 1:
        raise Failed("--name works with one file only")
    sizes = {path: path.stat().st_size for path in files}
    console = stderr_console()
    uploaded: list[tuple[int, Path, File]] = []
    failures = 0

    def report_result(path: Path, stored: File) -> None:
        if not as_json:
            click.echo(f"uploaded {path} as {stored.full_path} ({human_size(stored.size)}, id {stored.id})")

    with connect(workers=parallel or 4) as lk:
        target = upload_folder(lk, to)
        bars = UploadProgress(console, sum(sizes.values())) if console.is_terminal else None
        tasks: dict[int, TaskID] = {}
        refused_token = False

        def progress_for(index: int, path: Path, size: int) -> ProgressCallback | None:
            if not bars:
                return None
            tasks[index], report = bars.for_file(name or files[index].name, sizes[files[index]])
            return report

        def on_result(index: int, outcome: File | Exception) -> None:
            nonlocal failures, refused_token
            path = files[index]
            if isinstance(outcome, File):
                uploaded.append((index, path, outcome))
                if bars and index in tasks:
                    bars.done(tasks.pop(index))
                elif not bars:
                    report_result(path, outcome)  # one line per file as it lands, for scripts
                return
            failures += 1
            if refused_token:
                return  # every file left fails for the same reason, already said once
            refused_token = isinstance(outcome, AuthenticationError)
            message = f"locker: {path}: {one_line(reason_of(outcome))}"
            if bars:  # printed above the live bars
                bars.progress.console.print(message, markup=False, highlight=False, soft_wrap=True)
            else:
                click.echo(message, err=True)

        with bars or contextlib.nullcontext():
            lk.upload_many(files, names=[name] if name else None, folders=target, progress_for=progress_for,
                           on_result=on_result)
        uploaded.sort(key=lambda landed: landed[0])
        if bars:  # after the live display, so stdout lines don't tear it
            for _, path, stored in uploaded:
                report_result(path, stored)
    if as_json:
        print_json([stored.to_json() for _, _, stored in uploaded])
    if failures:
        sys.exit(EXIT_FAILED)


def tree_upload(trees: list[Path], loose: list[Path], to: str | None, name: str | None, as_json: bool,
                parallel: int) -> None:
    """`upload -r`: each folder's tree into --to (or a folder of its own name), loose files into --to."""
    if name:
        raise Failed("--name works with one file only, not with folders")
    console = stderr_console()
    bars = TreeProgress(console, "uploaded", sum(walk_count(tree) for tree in trees) + len(loose)) \
        if console.is_terminal else None
    uploaded: list[File] = []
    lines: list[tuple[str, str]] = []  # (local path, line), printed in path order after the live display
    counts = {"uploaded": 0, "skipped": 0, "failed": 0, "bytes": 0}
    refused_token = False

    def say(local: Path, line: str) -> None:
        if as_json:
            return
        if bars:
            lines.append((str(local), line))  # after the live display, so stdout lines don't tear it
        else:
            click.echo(line)

    def complain(local: Path | str, outcome: Exception) -> None:
        nonlocal refused_token
        counts["failed"] += 1
        if refused_token:
            return
        refused_token = isinstance(outcome, AuthenticationError)
        message = f"locker: {local}: {one_line(reason_of(outcome))}"
        if bars:
            bars.print(message)
        else:
            click.echo(message, err=True)

    def landed(local: Path, outcome: File | Exception | None, remote: str) -> None:
        if bars:
            bars.file_done()
        if outcome is None:
            counts["skipped"] += 1
            say(local, f"skipped {local} (already in {where(remote)})")
        elif isinstance(outcome, File):
            counts["uploaded"] += 1
            counts["bytes"] += outcome.size
            uploaded.append(outcome)
            say(local, f"uploaded {local} as {outcome.full_path} ({human_size(outcome.size)}, id {outcome.id})")
        else:
            complain(local, outcome)

    with connect(workers=parallel) as lk, bars or contextlib.nullcontext():
        for tree in trees:
            destination = to if to is not None else tree.resolve().name
            if bars:
                bars.next_tree()

            def tree_result(relative: str, outcome: File | Exception | None, tree: Path = tree,
                            top: str = destination.strip("/")) -> None:
                directory = relative.rpartition("/")[0]
                landed(tree / relative, outcome, f"{top}/{directory}".strip("/") if top else directory)

            summary = lk.upload_dir(tree, destination, workers=parallel, progress=bars.report if bars else None,
                                    on_result=tree_result)
            for relative, error in summary.failed.items():
                if relative.endswith("/"):  # an empty folder that could not be made
                    complain(tree / relative, error)
        if loose:
            target = upload_folder(lk, to)
            if bars:
                bars.next_tree()
            overall = [0] * len(loose)
            sizes = [path.stat().st_size for path in loose]

            def progress_for(index: int, path: Path, size: int) -> ProgressCallback | None:
                if not bars:
                    return None

                def report(phase: str, done: int, total: int) -> None:
                    if phase == "uploading":
                        overall[index] = done
                        bars.report(phase, sum(overall), sum(sizes))
                return report

            lk.upload_many(loose, folders=target, progress_for=progress_for,
                           on_result=lambda index, outcome: landed(loose[index], outcome, ""))
    for _, line in sorted(lines):
        click.echo(line)
    if as_json:
        print_json([file.to_json() for file in uploaded])
    if bars:  # a person is watching: say how it went as a whole
        console.print(f"{counts['uploaded']} uploaded ({human_size(counts['bytes'])}), {counts['skipped']} already "
                      f"there, {counts['failed']} failed", highlight=False)
    if counts["failed"]:
        sys.exit(EXIT_FAILED)


def is_file_id(text: str) -> bool:
    return len(text) == 32 and all(c in "0123456789abcdef" for c in text)


def resolve_file(lk: Locker, id_or_name: str, everyone: bool = False) -> File:
    """A file by its id, or else by its exact name: yours, then (with `everyone`) one shared with everyone."""
    if is_file_id(id_or_name):
        try:
            return lk.file(id_or_name)
        except NotFoundError:
            pass
    if "/" in id_or_name.strip("/"):  # a path such as Photos/2024/beach.jpg
        try:
            found = lk.item(id_or_name)
        except NotFoundError as error:
            raise Failed(f"{id_or_name}: {error.message}") from None
        if not isinstance(found, File):
            raise Failed(f"{id_or_name} is a folder; add --recursive to download it with what is in it")
        return found
    matches = lk.find(id_or_name)
    listing = "`locker ls`"
    if not matches and everyone:
        matches = lk.find(id_or_name, scope="everyone")
        listing = "`locker ls --everyone`" if matches else listing
    if not matches:
        if everyone and is_folder(lk, id_or_name):  # only download asks for everyone's files
            raise Failed(f"{id_or_name} is a folder; add --recursive to download it with what is in it")
        raise Failed(f"no file with the id or name {id_or_name!r} (see {listing})")
    if len(matches) > 1:
        raise Failed(f"{len(matches)} files are named {id_or_name!r}; give the id instead (see {listing})")
    return matches[0]


def is_folder(lk: Locker, path: str) -> bool:
    try:
        lk.folder(path)
    except NotFoundError:
        return False
    return True


def resolve_item(lk: Locker, given: str) -> File | Folder:
    """A file or folder by its id or its path from the root, else a file by its exact name in any folder."""
    try:
        return lk.item(given)
    except NotFoundError:
        pass
    if "/" not in given.strip("/"):
        matches = lk.find(given.strip("/"))
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise Failed(f"{len(matches)} files are named {given!r}; give the path or the id instead "
                         f"(see `locker ls --search {given!r}`)")
    raise Failed(f"no file or folder {given!r} (see `locker ls`)")


def item_path(item: File | Folder) -> str:
    return item.full_path if isinstance(item, File) else item.path


def file_id_of(lk: Locker, id_or_name: str) -> str:
    """An id as it is (the API answers for a missing one), else the id of your file with that exact name."""
    return id_or_name if is_file_id(id_or_name) else resolve_file(lk, id_or_name).id


@cli.command()
@click.argument("source")
@click.argument("target", required=False, type=click.Path())
@click.option("-o", "--output", type=click.Path(), default=None,
              help="File or folder to save to (default: the stored name, here); the same as TARGET.")
@click.option("-r", "--recursive", is_flag=True,
              help="SOURCE is a folder: download its tree into TARGET (default: a folder of its name, here).")
@click.option("-f", "--force", is_flag=True, help="Replace an existing file (with -r, differing files always are).")
@click.option("-j", "--parallel", default=8, show_default=True, type=click.IntRange(1, 32),
              help="With -r: files downloaded at once.")
@click.option("--json", "as_json", is_flag=True, help='Print {"path", "file"} as JSON (with -r: what was done).')
@handle_errors
def download(source: str, target: str | None, output: str | None, recursive: bool, force: bool, parallel: int,
             as_json: bool) -> None:
    """Download SOURCE, checking its SHA-256: a file (an id, a path, or an exact name: yours, else one shared
    with everyone), or with -r a folder and everything in it.

    With -r, files already there with the same size and SHA-256 are skipped, so after an
    interruption the same command fetches only what is missing.
    """
    if target and output:
        raise Failed("give TARGET or --output, not both")
    output = output or target
    if recursive:
        tree_download(source, output, parallel, as_json)
        return
    console = stderr_console()
    with connect() as lk:
        info = resolve_file(lk, source, everyone=True)
        path = lk.download_target(output, info.name)
        if path.exists() and not force:
            raise Failed(f"{path} already exists; add --force to replace it")
        if console.is_terminal:
            with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                          TimeRemainingColumn(), console=console) as progress:
                task = progress.add_task(info.name[:40], total=info.size)
                saved = lk.download(info, path,
                                    progress=lambda _phase, done, _total: progress.update(task, completed=done))
        else:
            saved = lk.download(info, path)
    if as_json:
        print_json({"path": str(saved), "file": info.to_json()})
    else:
        check = "SHA-256 checked" if info.sha256 else "no SHA-256 recorded, not checked"
        click.echo(f"saved {info.name} to {saved} ({human_size(info.size)}, {check})")


def tree_download(source: str, output: str | None, parallel: int, as_json: bool) -> None:
    """`download -r FOLDER [DIR]`: the folder's tree into DIR, in parallel, resuming."""
    console = stderr_console()
    with connect(workers=parallel) as lk:
        try:
            folder = lk.folder(source)
        except NotFoundError as error:
            raise Failed(f"{source}: {error.message}") from None
        local = Path(output).expanduser() if output else Path(safe_file_name(folder.name) if folder.name else ".")
        if local.exists() and not local.is_dir():
            raise Failed(f"{local} is not a folder")
        bars = TreeProgress(console, "downloaded") if console.is_terminal else None
        lines: list[tuple[str, str]] = []

        def landed(relative: str, file: File, outcome: Exception | bool | None) -> None:
            if bars:
                bars.file_done()
            if isinstance(outcome, Exception):
                message = f"locker: {relative}: {one_line(reason_of(outcome))}"
                if bars:
                    bars.print(message)
                else:
                    click.echo(message, err=True)
                return
            line = f"{'skipped' if outcome else 'saved'} {local / relative}"
            if outcome:
                line += " (already there)"
            if not as_json:
                if bars:
                    lines.append((relative, line))  # after the live display, in path order
                else:
                    click.echo(line)

        with bars or contextlib.nullcontext():
            summary = lk.download_dir(folder, local, workers=parallel, progress=bars.report if bars else None,
                                      on_result=landed)
    for _, line in sorted(lines):
        click.echo(line)
    if as_json:
        print_json(summary.to_json())
    if bars:  # a person is watching: say how it went as a whole
        console.print(f"{len(summary.transferred)} downloaded ({human_size(summary.bytes)}), {len(summary.skipped)} "
                      f"already there, {len(summary.failed)} failed: {where(summary.folder)} to {local}",
                      highlight=False)
    if summary.failed:
        sys.exit(EXIT_FAILED)


def each_file(files: tuple[str, ...], action: Callable[[Locker, str, str], str]) -> None:
    """`action(lk, file_id, given)` for every FILE given (an id or an exact name), printing the line it returns.

    A file that is not there is reported and the others are still done; then the exit status is 1.
    """
    failures = 0
    with connect() as lk:
        for file in files:
            try:
                line = action(lk, file_id_of(lk, file), file)
            except NotFoundError as error:
                failures += 1
                click.echo(f"locker: {file}: {one_line(error.message)}", err=True)
                continue
            except Failed as error:
                failures += 1
                click.echo(f"locker: {one_line(str(error))}", err=True)
                continue
            click.echo(line)
    if failures:
        sys.exit(EXIT_FAILED)


def resolve_all(lk: Locker, given: tuple[str, ...]) -> tuple[list[tuple[str, File | Folder]], int]:
    """Each item given (an id, a path, or a file's exact name), reporting those not found; (found, failures)."""
    found, failures = [], 0
    for text in given:
        try:
            found.append((text, resolve_item(lk, text)))
        except Failed as error:
            failures += 1
            click.echo(f"locker: {one_line(str(error))}", err=True)
    return found, failures


@cli.command("rm")
@click.argument("items", nargs=-1, required=True)
@handle_errors
def remove(items: tuple[str, ...]) -> None:
    """Move files and folders to the trash (ids, paths such as Photos/2024, or files' exact names).

    `locker trash` lists the trash, `locker restore` brings items back; they count in your
    space until the trash is emptied (or its retention lets them go).
    """
    with connect() as lk:
        found, failures = resolve_all(lk, items)
        if found:
            lk.trash([item for _, item in found])
            for text, _ in found:
                click.echo(f"moved {text} to the trash")
    if failures:
        sys.exit(EXIT_FAILED)


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("-p", "--parents", is_flag=True, help="Make missing parent folders too; an existing folder is fine.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of the folders.")
@handle_errors
def mkdir(paths: tuple[str, ...], parents: bool, as_json: bool) -> None:
    """Make folders (paths such as Photos/2024)."""
    made = []
    with connect() as lk:
        for path in paths:
            try:
                folder = lk.make_folder(path, parents=parents)
            except NotFoundError as error:
                raise Failed(f"{path}: {error.message.rstrip('.')} (add -p to make it too)") from None
            if folder.is_root:
                raise Failed("give the path of a folder to make, such as Photos/2024")
            made.append(folder)
            if not as_json:
                click.echo(f"made {folder.path}")
    if as_json:
        print_json([folder.to_json() for folder in made])


@cli.command()
@click.argument("sources", nargs=-1, required=True)
@click.argument("destination")
@click.option("--json", "as_json", is_flag=True, help="Print the destination folder as JSON.")
@handle_errors
def mv(sources: tuple[str, ...], destination: str, as_json: bool) -> None:
    """Move files and folders (ids, paths, or files' exact names) into the folder DESTINATION, all or none.

    DESTINATION must exist (see `locker mkdir`; "/" is your root folder). To rename, use `locker rename`.
    """
    with connect() as lk:
        found, failures = resolve_all(lk, sources)
        if failures:
            sys.exit(EXIT_FAILED)  # all or none: nothing is moved when something is missing
        try:
            folder = lk.folder(destination)
        except NotFoundError as error:
            raise Failed(f"{destination}: {error.message.rstrip('.')} (make it with `locker mkdir -p`)") from None
        try:
            moved_into = lk.move([item for _, item in found], folder)
        except ConflictError as error:
            raise Failed(f"{where(folder.path)}: {error.message} Nothing was moved.") from None
    if as_json:
        print_json(moved_into.to_json())
        return
    for text, _ in found:
        click.echo(f"moved {text} to {where(moved_into.path)}")


@cli.command()
@click.argument("file")
@click.argument("new_name")
@click.option("--json", "as_json", is_flag=True, help="Print the renamed file as JSON.")
@handle_errors
def rename(file: str, new_name: str, as_json: bool) -> None:
    """Rename FILE (an id, a path or an exact name; a folder too) to NEW_NAME; its links and activity stay with it."""
    with connect() as lk:
        item = resolve_item(lk, file)
        if isinstance(item, Folder):
            folder = lk.rename_folder(item, new_name)
            if as_json:
                print_json(folder.to_json())
            else:
                click.echo(f"renamed {file} to {folder.name}")
            return
        renamed = lk.rename(item.id, new_name)
    if as_json:
        print_json(renamed.to_json())
    else:
        click.echo(f"renamed {file} to {renamed.name}")


def set_visibility(files: tuple[str, ...], visible: bool) -> None:
    def change(lk: Locker, file_id: str, given: str) -> str:
        file = lk.set_visibility(file_id, visible)
        return f"{file.name} is now {'visible to everyone' if visible else 'private'}"

    each_file(files, change)


@cli.command()
@click.argument("files", nargs=-1, required=True)
@handle_errors
def publish(files: tuple[str, ...]) -> None:
    """Share FILES (ids or exact names) with everyone: every signed-in user can find and download them."""
    set_visibility(files, True)


@cli.command()
@click.argument("files", nargs=-1, required=True)
@handle_errors
def unpublish(files: tuple[str, ...]) -> None:
    """Make FILES (ids or exact names) private again: only you see them."""
    set_visibility(files, False)


# -- the trash ------------------------------------------------------------------------------


def human_duration(seconds: int | None) -> str:
    if not seconds:
        return "until emptied"
    days, hours = seconds // 86400, seconds // 3600
    if days:
        return "1 day" if days == 1 else f"{days} days"
    return "1 hour" if hours == 1 else f"{max(hours, 1)} hours"


def trash_items(lk: Locker, given: tuple[str, ...]) -> list[TrashItem]:
    """The trash items given by id, original path or name (an ambiguous or missing one fails the command)."""
    listed = lk.list_trash().items
    chosen = []
    for text in given:
        try:
            chosen.append(find_in_trash(listed, text))
        except LockerError as error:
            raise Failed(error.message) from None
    return chosen


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the trash as JSON: items, bytes, retention_seconds.")
@click.pass_context
@handle_errors
def trash(context: click.Context, as_json: bool) -> None:
    """List the trash (what `locker rm` moved there); `trash purge` and `trash empty` delete for good.

    Items are kept (and count in your space) until deleted for good or until the server's retention ends.
    """
    if context.invoked_subcommand is not None:
        return
    with connect() as lk:
        held = lk.list_trash()
    if as_json:
        print_json(held.to_json())
        return
    console = Console()
    if not console.is_terminal:
        for item in held.items:  # tab-separated: kind, id, trashed at, size in bytes, where it was
            click.echo("\t".join([item.kind, item.id, item.trashed_at or "", str(item.size), item.original_path]))
        return
    if not held.items:
        console.print("The trash is empty.")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("ID", style="dim", no_wrap=True)
    table.add_column("Size", justify="right", no_wrap=True)
    table.add_column("Deleted", no_wrap=True)
    table.add_column("Was at", overflow="fold")
    for item in held.items:
        name = escape(item.original_path) + ("/" if item.kind == "folder" else "")
        if item.kind == "folder":
            name = f"[bold blue]{name}[/] [dim]({item.files} files)[/]"
        table.add_row(item.id, human_size(item.size), (item.trashed_at or "").replace("T", " ").rstrip("Z"), name)
    console.print(table)
    console.print(f"{len(held.items)} items, {human_size(held.bytes)}, kept {human_duration(held.retention_seconds)}.",
                  highlight=False)


@trash.command("purge")
@click.argument("items", nargs=-1, required=True)
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@handle_errors
def trash_purge(items: tuple[str, ...], yes: bool) -> None:
    """Delete trash ITEMS for good (ids, the paths they had, or names): their space is free again."""
    with connect() as lk:
        chosen = trash_items(lk, items)
        if not yes:
            click.confirm(f"Delete {len(chosen)} item{'s' if len(chosen) != 1 else ''} for good?", abort=True,
                          err=True)
        lk.purge(chosen)
    for item in chosen:
        click.echo(f"deleted {item.original_path} for good")


@trash.command("empty")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@handle_errors
def trash_empty(yes: bool) -> None:
    """Delete everything in the trash for good."""
    with connect() as lk:
        if not yes:
            held = lk.list_trash()
            if not held.items:
                click.echo("The trash is empty.")
                return
            click.confirm(f"Delete everything in the trash ({human_size(held.bytes)}) for good?", abort=True,
                          err=True)
        lk.empty_trash()
    click.echo("emptied the trash")


@cli.command()
@click.argument("items", nargs=-1, required=True)
@handle_errors
def restore(items: tuple[str, ...]) -> None:
    """Put trash ITEMS (ids, the paths they had, or names) back where they were, all or none.

    A folder they were in that is gone is made again; a name taken meanwhile gets a number.
    """
    with connect() as lk:
        chosen = trash_items(lk, items)
        lk.restore(chosen)
    for item in chosen:
        click.echo(f"restored {item.original_path}")


# -- share links -------------------------------------------------------------------------


@cli.command()
@click.argument("file")
@click.option("--expires", default=None, help="Link lifetime: 7d, 12h, 30m … (default: the server's).")
@click.option("--password", "ask_password", is_flag=True, help="Protect the link with a password (asked for).")
@click.option("--max-downloads", type=click.IntRange(1), default=None, help="Downloads allowed through the link.")
@click.option("--note", default=None, help="A note shown on the link's page.")
@click.option("--json", "as_json", is_flag=True, help="Print the link as JSON.")
@handle_errors
def share(file: str, expires: str | None, ask_password: bool, max_downloads: int | None, note: str | None,
          as_json: bool) -> None:
    """Create a share link for FILE (an id or an exact name) and print it (``shares --json`` shows it again)."""
    lifetime = None
    if expires:
        try:
            lifetime = parse_duration(expires)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="--expires") from None
    password = None
    if ask_password:
        password = click.prompt("Link password", hide_input=True, confirmation_prompt=True, err=True)
    with connect() as lk:
        link = lk.share(file_id_of(lk, file), expires=lifetime, password=password,
                        max_downloads=max_downloads, note=note)
    if as_json:
        print_json(link.to_json())
    else:
        click.echo(link.url)


@cli.command("shares")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of links.")
@handle_errors
def list_shares(as_json: bool) -> None:
    """List your share links."""
    with connect() as lk:
        links = lk.shares()
    if as_json:
        print_json([link.to_json() for link in links])
        return
    for link in links:  # tab-separated: id, state, file name, expiry, downloads
        downloads = f"{link.download_count}/{link.max_downloads}" if link.max_downloads else str(link.download_count)
        click.echo("\t".join([link.id, link.state or "", link.file_name or link.file_id or "",
                              f"expires {link.expires_at}" if link.expires_at else "no expiry",
                              f"{downloads} downloads"]))


@cli.command()
@click.argument("share_id")
@handle_errors
def revoke(share_id: str) -> None:
    """Revoke a share link (it stops working at once)."""
    with connect() as lk:
        lk.revoke_share(share_id)
    click.echo(f"revoked {share_id}")


@cli.command("uploads")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of unfinished uploads.")
@handle_errors
def list_uploads(as_json: bool) -> None:
    """List unfinished uploads (run the same `locker upload` again to resume one)."""
    with connect() as lk:
        pending = lk.pending_uploads()
    if as_json:
        print_json(pending)
        return
    for item in pending:  # tab-separated: id, size, parts stored, started, name
        multipart = item.get("multipart") or {}
        stored = f"{len(item.get('parts') or [])}/{multipart['part_count']} parts" if multipart else "1 part"
        click.echo("\t".join([item["id"], human_size(item["size"]), stored, item["created_at"], item["name"]]))


@cli.command()
@click.argument("upload_ids", nargs=-1, required=True)
@handle_errors
def cancel(upload_ids: tuple[str, ...]) -> None:
    """Cancel unfinished uploads: their parts go and their reserved space is free again."""
    with connect() as lk:
        for upload_id in upload_ids:
            lk.cancel_upload(upload_id)
            click.echo(f"cancelled {upload_id}")


# -- activity ------------------------------------------------------------------------------


@cli.command()
@click.option("--all", "everyone", is_flag=True, help="Everyone's activity (admins only).")
@click.option("--file", "file", default=None, help="Only this file's events (an id or an exact name).")
@click.option("--action", default=None, help="Only this kind of event: upload, download, share_download, ….")
@click.option("-n", "--limit", type=click.IntRange(1), default=50, show_default=True,
              help="How many of the newest events to show.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of events.")
@handle_errors
def activity(everyone: bool, file: str | None, action: str | None, limit: int, as_json: bool) -> None:
    """Show the activity log: sign-ins, uploads, downloads (link downloads too), deletions and links."""
    with connect() as lk:
        file_id = file_id_of(lk, file) if file else None
        events = list(itertools.islice(lk.activity(everyone=everyone, file_id=file_id, action=action,
                                                   page_size=min(limit, 500)), limit))
    if as_json:
        print_json(events)
        return
    for event in events:  # tab-separated: time, who, what, file, address
        click.echo("\t".join([event["created_at"], one_line(event["who"]), event["label"],
                              one_line(event["file_name"] or ""), event["address"] or ""]))


def main() -> None:
    """The ``locker`` console script."""
    cli(prog_name="locker")


if __name__ == "__main__":
    main()
