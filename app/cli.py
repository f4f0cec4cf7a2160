"""`flask locker …` commands for operators."""
import ipaddress
import time
from pathlib import Path
from urllib.parse import urlsplit

import click
import psutil
from flask import current_app
from flask.cli import AppGroup

from app.errors import LockerError
from app.formatting import human_size
from app.lan_certificate import ensure_certificate
from app.services import admin as admin_service
from app.services import backups, files, maintenance, previews, users
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


WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def site_urls(host, port, scheme="http"):
    if host in WILDCARD_HOSTS:
        return [f"{scheme}://127.0.0.1:{port}"] + [f"{scheme}://{address}:{port}" for address in lan_addresses()]
    return [f"{scheme}://{host}:{port}"]


def certificate_names(host, public_url):
    """What a LAN certificate names: this machine by loopback and on the LAN, the address served, PUBLIC_URL's host.

    The LAN addresses are named even when serving loopback only, so that moving to HOST=0.0.0.0 later keeps
    the certificate (and the fingerprint people checked).
    """
    names = {"localhost", "127.0.0.1", *lan_addresses()}
    if host not in WILDCARD_HOSTS:
        names.add(host)
    if public_url and urlsplit(public_url).hostname:
        names.add(urlsplit(public_url).hostname)
    return names


@locker.command("bootstrap")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address Locker will listen on.")
@click.option("--port", default=5000, show_default=True, help="Port Locker will listen on.")
@click.option("--https", "use_https", is_flag=True,
              help="Locker serves https itself: make (or reuse) a self-signed certificate in --tls-dir.")
@click.option("--tls-dir", type=click.Path(file_okay=False),
              help="Where the certificate and its key are kept (default: instance/tls).")
def bootstrap(host, port, use_https, tls_dir):
    """Make sure an admin can sign in, and print where Locker will be."""
    urls = site_urls(host, port, "https" if use_https else "http")
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
    for url in dict.fromkeys(([base] if public_url else []) + urls):  # PUBLIC_URL first, each once
        click.echo(f"    {url}")
    if use_https:
        certificate = ensure_certificate(tls_dir or Path(current_app.instance_path) / "tls",
                                         certificate_names(host, public_url))
        click.echo(f"{'Made a new' if certificate.made else 'Using the'} self-signed certificate "
                   f"{certificate.cert_path}. Browsers will warn about it once; before accepting, check that "
                   "the SHA-256 fingerprint they show is")
        click.echo(f"    {certificate.fingerprint}")


@locker.command("wait-for-database")
@click.option("--timeout", default=60, show_default=True, help="Seconds to wait at most.")
def wait_for_database(timeout):
    """Wait until the database answers (a container starting beside it); exits 1 if it does not in time."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from app.extensions import db

    deadline = time.monotonic() + timeout
    waiting = False
    while True:
        try:
            db.session.execute(text("SELECT 1"))
            db.session.rollback()
            return
        except OperationalError as error:
            db.session.rollback()
            if time.monotonic() >= deadline:
                raise click.ClickException(f"The database did not answer within {timeout} s: {error.orig}") from None
        if not waiting:
            click.echo("Waiting for the database...")
            waiting = True
        time.sleep(1)


@locker.command("create-user")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the account an administrator.")
@click.option("--email", help="The account's email address (for password resets and notices).")
@click.option("--quota", help="Its own quota, like '10 GiB' (0: no limit); without it DEFAULT_QUOTA applies.")
@click.password_option(help="Asked for when not given.")
def create_user(username, admin, email, quota, password):
    """Create an account (for when registration is closed)."""
    try:
        user = admin_service.create_user(None, username, password, email=email,
                                         quota_bytes=admin_service.parse_quota(quota), is_admin=admin)
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


# Single sign-on: what an operator runs after setting OIDC_* to see that the provider answers as Locker needs.
@locker.command("check-sso")
def check_sso():
    """Check the OpenID Connect provider (metadata, issuer, endpoints, keys) and print the redirect URI to
    register there; exits 1 if anything is wrong."""
    from flask import url_for

    from app.services import oidc

    if not oidc.is_configured():
        click.echo("Single sign-on is not configured: set OIDC_ISSUER and OIDC_CLIENT_ID.")
        raise SystemExit(1)
    with current_app.test_request_context(base_url=current_app.config.get("PUBLIC_URL") or "http://localhost"):
        click.echo(f"Redirect URI to register at the provider: {url_for('auth.sso_callback', _external=True)}")
    checks = oidc.check_provider()
    failed = 0
    for ok, name, detail in checks:
        failed += not ok
        click.echo(f"{'ok  ' if ok else 'FAIL'}  {name:<22} {detail}")
    click.echo(f"{oidc.provider_name()} answers as Locker needs." if not failed
               else f"{failed} check{'s' if failed != 1 else ''} failed.")
    if failed:
        raise SystemExit(1)


# --- The admin area's commands: the users list and changes to accounts (services.admin). They act as
# "command line" in the activity log, and the last active admin is kept here as in the admin area.

def account_change(change):
    """Run one services.admin change, a refusal becoming a plain error (exit 1)."""
    try:
        return change()
    except LockerError as error:
        raise click.ClickException(error.message) from None


@locker.command("users")
@click.option("--search", help="Only usernames or email addresses containing this.")
def list_users(search):
    """List accounts by username: state, role, files, space used, quota and last sign-in."""
    click.echo(f"{'ID':>6}  {'USERNAME':<32}  {'STATE':<8}  {'ROLE':<5}  {'FILES':>7}  {'USED':>10}  "
               f"{'QUOTA':>10}  {'LAST SIGN-IN':<16}  EMAIL")
    cursor, shown = None, 0
    while True:
        page = account_change(lambda: admin_service.list_users(search, cursor, admin_service.MAX_PAGE_SIZE))
        for row in page.items:
            user = row.user
            quota = human_size(row.quota) if row.quota else "no limit"
            signed_in = user.last_sign_in_at.strftime("%Y-%m-%d %H:%M") if user.last_sign_in_at else "never"
            click.echo(f"{user.id:>6}  {user.username:<32}  {row.state:<8}  {'admin' if user.is_admin else 'user':<5}  "
                       f"{row.files:>7,}  {human_size(row.used):>10}  {quota + ('*' if row.quota_is_default else ''):>10}  "
                       f"{signed_in:<16}  {user.email or '-'}")
        shown += len(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    click.echo(f"{shown:,} account{'s' if shown != 1 else ''}; * the default quota (DEFAULT_QUOTA).")


@locker.command("set-quota")
@click.argument("username")
@click.argument("size")
def set_quota(username, size):
    """Give USERNAME a quota: a SIZE like '10 GiB', 0 for no limit, or 'none' for the default (DEFAULT_QUOTA)."""
    user = account_change(lambda: admin_service.find_by_username(username))
    quota = account_change(lambda: admin_service.parse_quota(size))
    account_change(lambda: admin_service.set_quota(None, user, quota))
    click.echo(f"{user.username}: {admin_service.quota_words(user.quota_bytes)}.")


@locker.command("disable")
@click.argument("username")
def disable_user(username):
    """Disable USERNAME: sign-in is refused, sessions end, API tokens and links stop working."""
    user = account_change(lambda: admin_service.find_by_username(username))
    account_change(lambda: admin_service.set_active(None, user, False))
    click.echo(f"Disabled {user.username}.")


@locker.command("enable")
@click.argument("username")
def enable_user(username):
    """Enable USERNAME again (its tokens and links work again; it signs in anew)."""
    user = account_change(lambda: admin_service.find_by_username(username))
    account_change(lambda: admin_service.set_active(None, user, True))
    click.echo(f"Enabled {user.username}.")


@locker.command("set-admin")
@click.argument("username")
@click.option("--yes/--no", "is_admin", required=True, help="Make USERNAME an administrator, or not.")
def set_admin(username, is_admin):
    """Make USERNAME an administrator (--yes) or remove the rights (--no; never from the last active admin)."""
    user = account_change(lambda: admin_service.find_by_username(username))
    account_change(lambda: admin_service.set_admin(None, user, is_admin))
    click.echo(f"{user.username} is {'now' if is_admin else 'no longer'} an administrator.")


# Two-factor sign-in: the admin's requirement, and clearing a user's lost phone. (Imports inside the commands
# keep this block apart from the module's import lines, which other blocks change.)
@locker.command("require-two-factor")
@click.argument("state", type=click.Choice(["on", "off"]))
def require_two_factor(state):
    """Require two-factor sign-in for every account (on), or leave it to each (off)."""
    from app.services import two_factor
    two_factor.set_required(state == "on")
    click.echo("Two-factor sign-in is now required for every account." if state == "on"
               else "Two-factor sign-in is now each account's choice.")


@locker.command("reset-two-factor")
@click.argument("username")
def reset_two_factor(username):
    """Clear USERNAME's two-factor (a lost phone): they sign in with the password and set it up again."""
    from app.extensions import db
    from app.models import User
    from app.services import two_factor
    user = db.session.execute(db.select(User).filter_by(username=users.normalize_username(username))).scalar()
    if user is None:
        raise click.ClickException(f"No user {username!r}.")
    was_on = two_factor.reset(user, actor_name="flask locker reset-two-factor")
    click.echo(f"Two-factor sign-in of {user.username} cleared." if was_on
               else f"{user.username} had no two-factor sign-in; nothing else changed.")


# --- Invitations and password resets (services.invitations, services.password_resets) ---
from app.extensions import db  # noqa: E402  (this block's imports are kept with it)
from app.models import User  # noqa: E402
from app.services import invitations, mail, password_resets  # noqa: E402
from config import parse_size  # noqa: E402


@locker.command("invite")
@click.option("--expires", default="7d", show_default=True, help="How long the link works: 30m, 12h, 7d, 2w.")
@click.option("--quota", help="The new account's quota, e.g. 10GiB (0: no limit; default: DEFAULT_QUOTA).")
@click.option("--admin", "is_admin", is_flag=True, help="The new account is an administrator.")
@click.option("--email", help="Who it is for; emailed there when mail is configured.")
@click.option("--note", help="A note shown in the admin list (and the email).")
@click.option("--as", "as_admin", help="The admin it is made by (default: the first admin).")
def invite(expires, quota, is_admin, email, note, as_admin):
    """Make a single-use sign-up link and print it (it works whatever REGISTRATION is)."""
    creator = command_admin(as_admin)
    try:
        quota_bytes = parse_size(quota) if quota else None
    except ValueError:
        raise click.BadParameter("write a size such as 500MiB or 10GiB (0: no limit)", param_hint="--quota") from None
    try:
        invitation, url, emailed = invitations.create(creator, expires_in=expires, quota_bytes=quota_bytes,
                                                      is_admin=is_admin, email=email, note=note)
    except LockerError as error:
        raise click.ClickException(error.message) from None
    click.echo(url)
    if emailed:
        # This process exits next: let the background thread hand the message over first.
        sent = mail.wait_until_sent(current_app.config["MAIL_TIMEOUT"] + 5)
        click.echo(f"Emailed to {invitation.email}." if sent else f"Queued for {invitation.email}, not yet sent.",
                   err=True)
    click.echo(f"Works once, until {invitation.expires_at:%Y-%m-%d %H:%M} UTC.", err=True)


@locker.command("reset-password")
@click.argument("username")
def reset_password(username):
    """Print a one-time link that sets a new password for USERNAME (it voids older links)."""
    user = db.session.execute(db.select(User).filter_by(username=users.normalize_username(username))
                              ).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"No account is named {username}.")
    # Printed, never emailed: whoever runs this at the server's shell hands it on themselves.
    url, _ = password_resets.issue(user, send_mail=False, source="printed by flask locker reset-password")
    click.echo(url)
    click.echo(f"Works once, for {password_resets.human_lifetime()}; using it signs {user.username} out everywhere.",
               err=True)


def command_admin(username):
    """The active admin a command acts as: the one named, else the first admin made."""
    query = db.select(User).where(*admin_service.active_admin(User))
    query = query.filter_by(username=users.normalize_username(username)) if username else query.order_by(User.id)
    user = db.session.execute(query.limit(1)).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"No active admin named {username}." if username else
                                   "There is no admin yet: run `flask locker bootstrap` first.")
    return user


# --- Backups of the metadata (services.backups); the bytes are the store's to back up ---


@locker.command("backup")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
def backup(dest):
    """Write a consistent copy of the database (the metadata, not the files' bytes) and its manifest into the
    new folder DEST; safe while Locker runs."""
    try:
        made = backups.backup(dest)
    except LockerError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Backed up to {made.path}: {backups.describe(made.manifest)}.")
    click.echo(f"The files' bytes are not in it: back up {backups.storage_words(made.manifest['storage'])} "
               "with the store's own tools.")


@locker.command("restore")
@click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace the database even though it holds data.")
def restore(src, force):
    """Restore the backup in folder SRC into this Locker's database (DATABASE_URL), after checking it; stop
    Locker first."""
    try:
        restored = backups.restore(src, force=force)
    except LockerError as error:
        raise click.ClickException(error.message) from None
    manifest = restored.manifest
    click.echo(f"Restored {backups.describe(manifest)}, backed up at {manifest['created_at']}.")
    if not restored.schema_is_current:
        click.echo("Its schema is older than this Locker's: run `flask db upgrade` next.")
    if restored.storage != manifest["storage"]:
        click.echo(f"The backup's files were in {backups.storage_words(manifest['storage'])}; this Locker uses "
                   f"{backups.storage_words(restored.storage)}, which must hold the same objects.")
    click.echo("Check that storage holds every file's bytes: flask locker verify --all")
