"""``locker``: Locker from the terminal.

    locker login https://locker.example.org      # asks for username and password
    locker upload video.mkv photos/ --recursive  # progress bars on a terminal
    locker ls --json | jq -r '.[].name'
    locker download report.pdf -o ~/Downloads/

Exit status: 0 on success, 1 when something failed (one line on stderr says
what), 2 for a usage mistake, 130 when interrupted (an interrupted multipart
upload resumes when the same command runs again). Without a terminal on
stderr no progress bars or colours are written.

``--json`` output (stable; new keys may be added, none renamed or removed):

* ``ls``, ``upload``: a list of files (``rename``: one), each
  ``{"id", "name", "size", "content_type", "created_at", "sha256", "sha256_verified", "preview",
  "visible_to_everyone", "owner", "guest_name", "request"}``.
* ``whoami``: ``{"url", "username", "is_admin", "used_bytes", "quota_bytes", "remaining_bytes",
  "multipart_threshold"}``.
* ``share``: ``{"id", "url", "file_id", "file_name", "state", "created_at", "expires_at",
  "has_password", "max_downloads", "download_count", "last_download_at", "note"}``;
  ``shares``: a list of those (``url`` is null for a link made before Locker kept links, or under another
  ``SECRET_KEY``).
* ``download``: ``{"path", "file": {file}}``.
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
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.progress import (BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn,
                           TransferSpeedColumn)
from rich.table import Table

from locker_client import __version__
from locker_client.client import Locker, ProgressCallback, normalize_url, parse_duration
from locker_client.config import current_login, forget, load_stored, store
from locker_client.errors import AuthenticationError, LockerError, NotFoundError
from locker_client.models import File

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
            fail("interrupted (run the same command again to resume an unfinished upload)", EXIT_INTERRUPTED)
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

    The password is asked for without echo. The token, not the password, is kept.
    """
    url = normalize_url(url)
    if not username:
        username = click.prompt("Username", err=True)
    password = click.prompt("Password", hide_input=True, err=True)
    name = token_name or f"locker CLI on {socket.gethostname()}"[:100]
    with Locker.login(url, username, password, token_name=name) as lk:
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


@cli.command("ls")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of files (stable keys).")
@click.option("-s", "--search", default=None,
              help="Only names containing this, ignoring case; finds files shared with everyone too.")
@click.option("--everyone", is_flag=True, help="Only files shared with everyone (yours and others').")
@click.option("--sort", type=click.Choice(["date", "name", "size"]), default="date", show_default=True)
@click.option("--order", type=click.Choice(["asc", "desc"]), default=None,
              help="Default: newest/largest first, names A-Z.")
@handle_errors
def list_files(as_json: bool, search: str | None, everyone: bool, sort: str, order: str | None) -> None:
    """List your files (all pages), or search them and files shared with everyone."""
    with connect() as lk:
        files = list(lk.files(sort=sort, order=order, q=search, scope="everyone" if everyone else None))
    if as_json:
        print_json([f.to_json() for f in files])
        return
    # Only a search or --everyone can list other people's files, so only then is the owner shown.
    show_owner = bool(search) or everyone
    console = Console()
    if not console.is_terminal:
        for f in files:  # tab-separated, one file a line: id, size in bytes, created, name (, owner)
            columns = [f.id, str(f.size), f.created_at or "", f.name]
            if show_owner:
                columns.append(f.owner or "")
            click.echo("\t".join(columns))
        return
    if not files:
        console.print("No files match." if show_owner else "No files yet. Upload with `locker upload PATH`.")
        return
    table = Table(box=None, pad_edge=False)
    table.add_column("ID", style="dim", no_wrap=True)
    table.add_column("Size", justify="right", no_wrap=True)
    table.add_column("Uploaded", no_wrap=True)
    table.add_column("Name", overflow="fold")
    if show_owner:
        table.add_column("Owner", no_wrap=True)
    for f in files:
        cells = [f.id, human_size(f.size), (f.created_at or "").replace("T", " ").rstrip("Z"), f.name]
        if show_owner:
            cells.append(f.owner or "")
        table.add_row(*cells)
    console.print(table)


def collect(paths: tuple[str, ...], recursive: bool) -> list[Path]:
    """The files named, folders expanded when --recursive; refuses folders without it."""
    found: list[Path] = []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            if not recursive:
                raise Failed(f"{given} is a folder; add --recursive to upload what is in it")
            for root, folders, names in os.walk(path):
                folders.sort()
                found.extend(Path(root) / name for name in sorted(names))
        elif path.exists():
            found.append(path)
        else:
            raise Failed(f"{given}: no such file or folder")
    return found


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


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-r", "--recursive", is_flag=True, help="Upload the files inside folders (and their subfolders).")
@click.option("--name", default=None, help="Store the file under this name (one file only).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of the uploaded files.")
@click.option("-j", "--parallel", default=4, show_default=True, type=click.IntRange(1, 32),
              help="Parts of large files, or small files, sent at once.")
@handle_errors
def upload(paths: tuple[str, ...], recursive: bool, name: str | None, as_json: bool, parallel: int) -> None:
    """Upload files (progress per file and overall on a terminal).

    Large files go up in parts; if an upload is interrupted, run the same
    command again and only the missing parts are sent. Files keep their own
    name (folders are not recreated; a name already taken gets a number).
    """
    files = collect(paths, recursive)
    if name and len(files) != 1:
        raise Failed("--name works with one file only")
    sizes = {path: path.stat().st_size for path in files}
    console = stderr_console()
    uploaded: list[tuple[int, Path, File]] = []
    failures = 0

    def report_result(path: Path, stored: File) -> None:
        if not as_json:
            click.echo(f"uploaded {path} as {stored.name} ({human_size(stored.size)}, id {stored.id})")

    with connect(workers=parallel) as lk:
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
            if isinstance(outcome, LockerError):
                reason = explain(outcome)
            elif isinstance(outcome, OSError):
                reason = outcome.strerror or str(outcome)
            else:
                reason = str(outcome)
            message = f"locker: {path}: {one_line(reason)}"
            if bars:  # printed above the live bars
                bars.progress.console.print(message, markup=False, highlight=False, soft_wrap=True)
            else:
                click.echo(message, err=True)

        with bars or contextlib.nullcontext():
            lk.upload_many(files, names=[name] if name else None, progress_for=progress_for, on_result=on_result)
        uploaded.sort(key=lambda landed: landed[0])
        if bars:  # after the live display, so stdout lines don't tear it
            for _, path, stored in uploaded:
                report_result(path, stored)
    if as_json:
        print_json([stored.to_json() for _, _, stored in uploaded])
    if failures:
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
    matches = lk.find(id_or_name)
    listing = "`locker ls`"
    if not matches and everyone:
        matches = lk.find(id_or_name, scope="everyone")
        listing = "`locker ls --everyone`" if matches else listing
    if not matches:
        raise Failed(f"no file with the id or name {id_or_name!r} (see {listing})")
    if len(matches) > 1:
        raise Failed(f"{len(matches)} files are named {id_or_name!r}; give the id instead (see {listing})")
    return matches[0]


def file_id_of(lk: Locker, id_or_name: str) -> str:
    """An id as it is (the API answers for a missing one), else the id of your file with that exact name."""
    return id_or_name if is_file_id(id_or_name) else resolve_file(lk, id_or_name).id


@cli.command()
@click.argument("file")
@click.option("-o", "--output", type=click.Path(), default=None,
              help="File or folder to save to (default: the stored name, here).")
@click.option("-f", "--force", is_flag=True, help="Replace an existing file.")
@click.option("--json", "as_json", is_flag=True, help='Print {"path", "file"} as JSON.')
@handle_errors
def download(file: str, output: str | None, force: bool, as_json: bool) -> None:
    """Download FILE (an id or an exact name: yours, else one shared with everyone), checking its SHA-256."""
    console = stderr_console()
    with connect() as lk:
        info = resolve_file(lk, file, everyone=True)
        target = lk.download_target(output, info.name)
        if target.exists() and not force:
            raise Failed(f"{target} already exists; add --force to replace it")
        if console.is_terminal:
            with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                          TimeRemainingColumn(), console=console) as progress:
                task = progress.add_task(info.name[:40], total=info.size)
                saved = lk.download(info, target,
                                    progress=lambda _phase, done, _total: progress.update(task, completed=done))
        else:
            saved = lk.download(info, target)
    if as_json:
        print_json({"path": str(saved), "file": info.to_json()})
    else:
        check = "SHA-256 checked" if info.sha256 else "no SHA-256 recorded, not checked"
        click.echo(f"saved {info.name} to {saved} ({human_size(info.size)}, {check})")


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


@cli.command("rm")
@click.argument("files", nargs=-1, required=True)
@handle_errors
def remove(files: tuple[str, ...]) -> None:
    """Delete FILES (ids or exact names)."""

    def delete(lk: Locker, file_id: str, given: str) -> str:
        lk.delete(file_id)
        return f"deleted {given}"

    each_file(files, delete)


@cli.command()
@click.argument("file")
@click.argument("new_name")
@click.option("--json", "as_json", is_flag=True, help="Print the renamed file as JSON.")
@handle_errors
def rename(file: str, new_name: str, as_json: bool) -> None:
    """Rename FILE (an id or an exact name) to NEW_NAME; its links and activity stay with it."""
    with connect() as lk:
        renamed = lk.rename(file_id_of(lk, file), new_name)
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
