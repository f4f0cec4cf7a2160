"""`flask locker …` commands for operators."""
import ipaddress

import click
import psutil
from flask import current_app
from flask.cli import AppGroup

from app.errors import LockerError
from app.services import files, maintenance, previews, users
from app.services.common import public_origin
from app.storage import StorageError

locker = AppGroup("locker", help="Locker administration.")


def lan_addresses():
    """This machine's IPv4 addresses other than loopback, for people on the same network."""
    found = []
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family.name == "AF_INET" and not ipaddress.ip_address(address.address).is_loopback:
                found.append(address.address)
    return sorted(set(found))


def site_urls(host, port):
    if host in ("0.0.0.0", "::", ""):
        return [f"http://127.0.0.1:{port}"] + [f"http://{address}:{port}" for address in lan_addresses()]
    return [f"http://{host}:{port}"]


@locker.command("bootstrap")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address Locker will listen on.")
@click.option("--port", default=5000, show_default=True, help="Port Locker will listen on.")
def bootstrap(host, port):
    """Make sure an admin can sign in, and print where Locker will be."""
    urls = site_urls(host, port)
    public_url = current_app.config.get("PUBLIC_URL")
    base = public_url.rstrip("/") if public_url else urls[0]
    try:
        admin = users.ensure_admin_from_config()
    except LockerError as error:
        raise click.ClickException(f"LOCKER_ADMIN_USERNAME/PASSWORD: {error.message}") from None
    if admin:
        click.echo(f"Admin account: {admin.username}")
    elif not users.has_users():
        token = users.issue_setup_token()
        click.echo("No accounts yet. Create the first admin with this one-time link:")
        click.echo(f"    {base}/setup/{token}")
    storage = current_app.extensions["locker.storage"]
    click.echo(f"Storage: {storage.name}; database: {current_app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}")
    click.echo("Locker will be at:")
    for url in urls:
        click.echo(f"    {url}")


@locker.command("create-user")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the account an administrator.")
@click.password_option(help="Asked for when not given.")
def create_user(username, admin, password):
    """Create an account (for when registration is closed)."""
    try:
        user = users.create_user(username, password, is_admin=admin)
    except LockerError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Created {'admin ' if admin else ''}{user.username}.")


@locker.command("retry-deletes")
def retry_deletes():
    """Finish deleting files whose bytes storage did not remove the first time."""
    done, failed = files.retry_deletes()
    click.echo(f"Deleted {done}; {failed} still failing.")
    if failed:
        raise SystemExit(1)


@locker.command("sweep")
@click.option("--delete", "delete_orphans", is_flag=True,
              help="Also remove objects and uploads no row knows, once older than ORPHAN_GRACE.")
def sweep(delete_orphans):
    """Cancel expired uploads, and report storage and rows that do not match."""
    try:
        report = maintenance.sweep(delete_orphans=delete_orphans)
    except StorageError as error:
        raise click.ClickException(f"Storage is not reachable, so nothing was swept: {error}") from None
    click.echo(f"Expired uploads cancelled: {len(report.expired_uploads)}")
    click.echo(f"Trash items older than TRASH_RETENTION deleted: {report.purged_trash}")
    click.echo(f"Account deletions finished: {report.finished_deletions}")
    if report.unfinished_deletions:
        click.echo(f"Account deletions storage still refused (sweep again later): {report.unfinished_deletions}")
    click.echo(f"Objects no file knows: {len(report.orphan_objects)}")
    for key in report.orphan_objects:
        click.echo(f"    {key}")
    click.echo(f"Multipart uploads no file knows: {len(report.orphan_uploads)}")
    if delete_orphans:
        click.echo(f"Removed (older than ORPHAN_GRACE): {len(report.deleted_orphans)}")
    click.echo(f"Files whose bytes are missing: {len(report.missing_objects)}")
    for public_id in report.missing_objects:
        click.echo(f"    {public_id}")
    if current_app.config["AUDIT_RETENTION_DAYS"]:
        click.echo(f"Activity events older than AUDIT_RETENTION_DAYS removed: {report.pruned_events}")


@locker.command("verify")
@click.argument("file_ids", nargs=-1)
@click.option("--all", "every_file", is_flag=True, help="Check every file.")
def verify(file_ids, every_file):
    """Re-read stored files and check their SHA-256; exits 1 on any mismatch."""
    if not file_ids and not every_file:
        raise click.UsageError("Name FILE_IDs to check, or --all.")
    bad = checked = 0
    for result in maintenance.verify(None if every_file else list(file_ids)):
        checked += 1
        click.echo(f"{result.status:<9} {result.public_id}  {result.name}")
        bad += result.status in ("mismatch", "missing", "unreadable")
    click.echo(f"Checked {checked}; {bad} with problems.")
    if bad or (file_ids and checked < len(file_ids)):
        raise SystemExit(1)


@locker.command("sniff")
def sniff():
    """Read the type of files that have none yet (uploaded before previews), so those that can get a preview."""
    report = previews.sniff_unknown_types()
    click.echo(f"Recognised: {report.recognised}; not recognised (downloads only): {report.unrecognised}; "
               f"storage could not read: {report.unreadable}.")
    if report.unreadable:
        raise SystemExit(1)


@locker.command("setup-storage")
@click.option("--origin", "origins", multiple=True,
              help="An origin browsers use Locker from (default: PUBLIC_URL's). Repeat for several.")
def setup_storage(origins):
    """Create the bucket if it is missing and set the CORS rules browsers need; safe to run again."""
    storage = current_app.extensions["locker.storage"].patient()
    origins = list(origins) or [origin for origin in [public_origin()] if origin]
    if storage.remote and not origins:
        raise click.ClickException(
            "Browsers upload straight to the bucket, so its CORS rules must name the address people open "
            "Locker at: set PUBLIC_URL (e.g. https://files.example.org) or pass --origin.")
    try:
        created = storage.setup(origins)
    except StorageError as error:
        raise click.ClickException(f"Storage could not be set up: {error}") from None
    if storage.remote:
        click.echo(f"Bucket {storage.bucket}: {'created' if created else 'exists'}; "
                   f"CORS allows {', '.join(origins)}.")
    else:
        click.echo(f"Local storage in {storage.root}: ready.")


@locker.command("check-storage")
@click.option("--origin", help="The origin browsers use Locker from (default: PUBLIC_URL's).")
def check_storage(origin):
    """Check that storage does what Locker relies on, and say what is missing; exits 1 if anything is."""
    storage = current_app.extensions["locker.storage"]
    failed = 0
    for check in storage.check(origin or public_origin()):
        failed += not check.ok
        click.echo(f"{'ok  ' if check.ok else 'FAIL'}  {check.name:<14} {check.detail}")
    click.echo("Storage does everything Locker relies on." if not failed
               else f"{failed} check{'s' if failed != 1 else ''} failed.")
    if failed:
        raise SystemExit(1)


@locker.command("delete-user")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_user(username, yes):
    """Delete an account with all its files, folders, links, requests and tokens; resumes one cut short."""
    # Imported here so that this command stays one block of its own.
    from app.extensions import db
    from app.models import User
    from app.services import deletion

    user = db.session.execute(db.select(User).filter_by(username=users.normalize_username(username))) \
        .scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"No account named {username}.")
    held = deletion.holdings(user)
    if not yes:
        click.confirm(f"Delete {user.username} with {deletion.describe(held)}?", abort=True)
    try:
        outcome = deletion.delete_account(user, None)
    except LockerError as error:
        raise click.ClickException(error.message) from None
    if not outcome.finished:
        raise click.ClickException(f"{outcome.username} can no longer sign in, but storage refused to delete some "
                                   "files: run this again or `flask locker sweep` later to finish.")
    click.echo(f"Deleted {outcome.username} with {deletion.describe(held)}.")


def register(app):
    app.cli.add_command(locker)
