"""What only admins may do: the one check, the users list, and changes to accounts.

Every change is one statement on the user's row, recorded in the activity log with who made it
(the admin, or the command line) under the account it was made to. The last active admin can be
neither demoted nor disabled, also when two admins act at the same moment (see keep_an_admin).
"""
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import func, or_, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.extensions import db
from app.health import check, storage_health
from app.formatting import human_size
from app.models import File, FileStatus, Folder, LoginSession, User, utcnow
from app.services import audit, quotas, users
# One rule for what an email address is, wherever one is set.
from app.services.account_email import MAX_EMAIL_LENGTH, clean_email  # noqa: F401  (also named here)
from app.services.common import MAX_ROW_ID, pack_cursor, unpack_cursor
from app.storage import get_storage
from app.text import is_plain_text
from app.version import locker_version
from config import parse_size

NOT_ADMIN = "Only administrators can do that."
PER_PAGE = 50
MAX_PAGE_SIZE = 200
MAX_QUERY_LENGTH = 100
# Quotas are BIGINT columns.
MAX_QUOTA = 2 ** 63 - 1
# The name the activity log shows for changes made with `flask locker ...` (no account acts there).
COMMAND_LINE = "command line"
LAST_ADMIN = "Locker needs at least one active administrator: make someone else an admin first."

def require_admin(user):
    if user is None or not user.is_authenticated or not user.is_admin:
        raise Forbidden(NOT_ADMIN, code="not_admin")


def find_user(user_id):
    """The account with this id (one being deleted included), or NotFound."""
    user = db.session.get(User, user_id) if isinstance(user_id, int) and 0 < user_id <= MAX_ROW_ID else None
    if user is None:
        raise NotFound("No such user.", code="no_such_user")
    return user


def find_by_username(username):
    """For the command line: the account with this username, or NotFound."""
    name = users.normalize_username(username)
    user = db.session.execute(db.select(User).filter_by(username=name)).scalar_one_or_none() if name else None
    if user is None:
        raise NotFound(f"No user is called {username!r}.", code="no_such_user")
    return user


def state_of(user):
    """active, disabled or deleting, as the list shows it."""
    if user.deleting_at is not None:
        return "deleting"
    return "active" if user.is_active_account else "disabled"


# --- The users list -------------------------------------------------------------------------------

@dataclass
class UserRow:
    user: User
    files: int  # ready files (not the trash's, not unfinished uploads)
    used: int  # bytes counted against the quota: files, the trash and unfinished uploads
    quota: int | None  # the limit in force (None: no limit)
    quota_is_default: bool  # the account has no quota of its own: DEFAULT_QUOTA applies
    state: str

    @property
    def id(self):
        return self.user.id


@dataclass
class UserPage:
    items: list
    next_cursor: str | None
    prev_cursor: str | None
    query: str | None


def search_term(q):
    """What a search for q matches (lower-case: usernames and emails are stored so), or None for no search."""
    if q is None:
        return None
    if not is_plain_text(q):
        raise InvalidInput("A search can't contain control characters.", code="invalid_query")
    if len(q) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"Search for at most {MAX_QUERY_LENGTH} characters.", code="invalid_query")
    return q.strip().lower() or None


def like_pattern(term):
    """%term% with LIKE's own wildcards taken literally."""
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def encode_cursor(username, before=False, term=None):
    return pack_cursor({"u": username, "b": before, "q": term})


def cursor_position(payload):
    username, term = payload["u"], payload.get("q")
    if not isinstance(username, str) or not 0 < len(username) <= 32:
        raise ValueError
    if term is not None and not (isinstance(term, str) and 0 < len(term) <= MAX_QUERY_LENGTH):
        raise ValueError
    return username, bool(payload.get("b")), term


def list_users(q=None, cursor=None, limit=PER_PAGE):
    """One page of accounts by username, walked by keyset on the (unique) username.

    q matches part of the username or the email. The page's file counts come from one grouped
    query over its ids, so a page costs two queries however many users there are.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}.", code="invalid_limit")
    term = search_term(q)
    after, before = None, False
    if cursor:
        after, before, cursor_term = unpack_cursor(cursor, cursor_position)
        if cursor_term != term:
            # A cursor walks the list it came from; with another search it would skip or repeat rows.
            raise InvalidInput("That page cursor belongs to another search; start again from the first page.",
                               code="invalid_cursor")
    query = db.select(User)
    if term:
        pattern = like_pattern(term)
        query = query.where(or_(User.username.like(pattern, escape="\\"), User.email.like(pattern, escape="\\")))
    if after is not None:
        query = query.where(User.username < after if before else User.username > after)
    query = query.order_by(User.username.desc() if before else User.username.asc()).limit(limit + 1)
    found = list(db.session.execute(query).scalars())
    more = len(found) > limit
    found = found[:limit]
    if before:
        found.reverse()
    counts = ready_file_counts([user.id for user in found])
    items = [row_of(user, counts.get(user.id, 0)) for user in found]
    newer = more if before else after is not None
    later = after is not None if before else more
    return UserPage(items,
                    next_cursor=encode_cursor(found[-1].username, term=term) if found and later else None,
                    prev_cursor=encode_cursor(found[0].username, True, term) if found and newer else None,
                    query=term)


def ready_file_counts(user_ids):
    """{user id: number of ready files} for these users, in one query adding up their folders' counts (every
    ready file is in a folder), so a user with a million files costs as many rows as they have folders."""
    if not user_ids:
        return {}
    rows = db.session.execute(db.select(Folder.owner_id, func.sum(Folder.ready_files))
                              .where(Folder.owner_id.in_(user_ids)).group_by(Folder.owner_id)).all()
    return {user_id: int(count) for user_id, count in rows if count}


def row_of(user, file_count):
    return UserRow(user=user, files=file_count, used=user.used_bytes, quota=quotas.quota_of(user),
                   quota_is_default=user.quota_bytes is None, state=state_of(user))


def user_details(user):
    """One account's row for its own page and the API."""
    return row_of(user, ready_file_counts([user.id]).get(user.id, 0))


# --- Changes to accounts -----------------------------------------------------------------------------

def acted_by(actor):
    """audit.record's keywords for who acted: an admin, or (None) the command line."""
    return {"actor": actor} if actor is not None else {"actor_name": COMMAND_LINE}


def clean_quota(quota_bytes):
    """A quota in bytes (0: no limit) or None (DEFAULT_QUOTA applies), or InvalidInput."""
    if quota_bytes is None:
        return None
    if isinstance(quota_bytes, bool) or not isinstance(quota_bytes, int) or not 0 <= quota_bytes <= MAX_QUOTA:
        raise InvalidInput("A quota is a number of bytes from 0 (no limit) upwards.", code="invalid_quota")
    return quota_bytes


def parse_quota(text_value):
    """What people type for a quota: "10 GiB", "500M", "0" (no limit); empty or "default": None."""
    value = (text_value or "").strip()
    if value.lower() in ("", "default", "none"):
        return None
    try:
        size = parse_size(value)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{value!r} is not a size: write it like 10 GiB, 500 MiB or 0 for no limit.",
                           code="invalid_quota") from None
    return clean_quota(size)


def quota_words(quota_bytes):
    """A quota as the activity log words it."""
    if quota_bytes is None:
        return "the default quota"
    return "no limit" if quota_bytes == 0 else human_size(quota_bytes)


def email_taken():
    return Conflict("Another account has that email address.", code="email_taken")


def create_user(actor, username, password, email=None, quota_bytes=None, is_admin=False):
    """A new account made by an admin (actor) or the command line (None); Conflict if the name or email is taken."""
    username = users.validate_new_account(username, password)
    email = clean_email(email)
    quota_bytes = clean_quota(quota_bytes)
    user = User(username=username, email=email, quota_bytes=quota_bytes, is_admin=bool(is_admin))
    user.set_password(password)
    db.session.add(user)
    try:
        db.session.flush()
    except IntegrityError:
        # The unique indexes decide, not a SELECT first: two admins can make the same account at once.
        db.session.rollback()
        taken = db.session.execute(db.select(User.id).filter_by(username=username)).first() is not None
        if taken or email is None:
            raise Conflict("That username is taken.", code="username_taken") from None
        raise email_taken() from None
    details = [f"quota {quota_words(quota_bytes)}"] + (["administrator"] if user.is_admin else [])
    audit.record("user_created", owner_id=user.id, detail=", ".join(details), **acted_by(actor))
    db.session.commit()
    return user


def set_quota(actor, user, quota_bytes):
    """Give the account its own quota (bytes, 0: no limit) or None (DEFAULT_QUOTA).

    Upload admission reads the row each time, so the change holds from the next upload; a quota
    below what is already used refuses new uploads and deletes nothing.
    """
    return update_user(actor, user, quota_bytes=quota_bytes)


def set_email(actor, user, email):
    return update_user(actor, user, email=email)


def set_active(actor, user, active):
    """Enable or disable an account (see apply_active)."""
    return update_user(actor, user, is_active=active)


def set_admin(actor, user, is_admin):
    """Make the account an admin or not; the last active admin stays one (Conflict last_admin)."""
    return update_user(actor, user, is_admin=is_admin)


def update_user(actor, user, **changes):
    """Any of quota_bytes, is_admin, is_active, email, in one transaction: all of them or, when one is
    refused, none. Only what differs from the account's present state is changed and logged."""
    unknown = set(changes) - {"quota_bytes", "email", "is_admin", "is_active"}
    if unknown:
        raise TypeError(f"not an account change: {', '.join(sorted(unknown))}")
    if "quota_bytes" in changes:
        changes["quota_bytes"] = clean_quota(changes["quota_bytes"])
    if "email" in changes:
        changes["email"] = clean_email(changes["email"])
    for flag in ("is_admin", "is_active"):
        if flag in changes and not isinstance(changes[flag], bool):
            raise InvalidInput(f"{flag} is true or false.", code=f"invalid_{flag}")
    # The two changes that can be refused for the last admin go first, before anything is written.
    if "is_active" in changes and changes["is_active"] != user.is_active_account:
        apply_active(actor, user, changes["is_active"])
    if "is_admin" in changes and changes["is_admin"] != user.is_admin:
        apply_admin(actor, user, changes["is_admin"])
    if "quota_bytes" in changes and changes["quota_bytes"] != user.quota_bytes:
        db.session.execute(db.update(User).where(User.id == user.id).values(quota_bytes=changes["quota_bytes"]))
        audit.record("quota_changed", owner_id=user.id, detail=quota_words(changes["quota_bytes"]),
                     **acted_by(actor))
    if "email" in changes and changes["email"] != user.email:
        try:
            db.session.execute(db.update(User).where(User.id == user.id).values(email=changes["email"]))
        except IntegrityError:
            db.session.rollback()
            raise email_taken() from None
        audit.record("email_changed", owner_id=user.id, detail=changes["email"] or "removed", **acted_by(actor))
    db.session.commit()
    db.session.refresh(user)
    return user


def active_admin(model):
    return (model.is_admin.is_(True), model.is_active_account.is_(True), model.deleting_at.is_(None))


def keep_an_admin(user, values):
    """Apply `values` to the user's row unless that would leave no active admin; Conflict last_admin then.

    Holds under concurrency on both databases. On PostgreSQL the active admins' rows are locked
    first (in id order, so two such changes cannot deadlock): a second admin demoting the first
    at the same moment waits here, then counts again and finds only itself. The UPDATE's own
    condition then asks whether another active admin remains. SQLite has one writer at a time,
    so that condition alone decides there.
    """
    db.session.execute(db.select(User.id).where(*active_admin(User)).order_by(User.id).with_for_update())
    other = aliased(User)
    another_admin = db.select(other.id).where(other.id != user.id, *active_admin(other)).exists()
    not_an_active_admin = or_(User.is_admin.is_(False), User.is_active_account.is_(False),
                              User.deleting_at.isnot(None))
    changed = db.session.execute(db.update(User).where(User.id == user.id, or_(not_an_active_admin, another_admin))
                                 .values(**values).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        db.session.rollback()
        raise Conflict(LAST_ADMIN, code="last_admin")


def apply_active(actor, user, active):
    """Disabling ends the account's browser sessions at once (enabling again does not revive a cookie
    that may have been copied meanwhile); its API tokens are refused while it is disabled and work
    again after, and its share and upload links answer 410 meanwhile. Nobody disables themself:
    they would be shut out mid-action (another admin can)."""
    if not active and actor is not None and actor.id == user.id:
        raise Forbidden("You can't disable your own account; another administrator can.",
                        code="cannot_disable_self")
    if active:
        db.session.execute(db.update(User).where(User.id == user.id).values(is_active_account=True))
    else:
        keep_an_admin(user, {"is_active_account": False})
        db.session.execute(db.delete(LoginSession).where(LoginSession.user_id == user.id))
    audit.record("user_enabled" if active else "user_disabled", owner_id=user.id, **acted_by(actor))


def apply_admin(actor, user, is_admin):
    if is_admin:
        db.session.execute(db.update(User).where(User.id == user.id).values(is_admin=True))
    else:
        keep_an_admin(user, {"is_admin": False})
    audit.record("admin_granted" if is_admin else "admin_revoked", owner_id=user.id, **acted_by(actor))


# --- The overview -----------------------------------------------------------------------------------

@dataclass
class Overview:
    users: int
    active_users: int
    admins: int
    files: int
    stored_bytes: int
    trash_files: int
    trash_bytes: int
    pending_uploads: int
    reserved_bytes: int
    storage: str  # ok, degraded or down
    storage_detail: str | None  # what is degraded
    database: str
    storage_name: str
    version: str
    registration: str
    default_quota: int | None
    checked_at: datetime


def overview():
    """The figures of the admin area's front page: two cheap aggregate queries and the health checks."""
    storage_backend = get_storage()
    # Storage first, and with the probe's short deadline: no transaction open across it, and a
    # store that is down costs under a second and shows as "down" rather than failing the page.
    storage = storage_health(storage_backend)
    database = check(lambda: db.session.execute(text("SELECT 1")))
    counts = {"users": 0, "active": 0, "admins": 0}
    by_status = {}
    if database == "ok":
        try:
            counts = db.session.execute(db.select(
                func.count(User.id).label("users"),
                func.count(User.id).filter(User.is_active_account.is_(True), User.deleting_at.is_(None))
                .label("active"),
                func.count(User.id).filter(*active_admin(User)).label("admins"))).one()._asdict()
            by_status = {status: (count, size or 0) for status, count, size in db.session.execute(
                db.select(File.status, func.count(File.id), func.sum(File.size)).group_by(File.status)).all()}
        except Exception:  # noqa: BLE001 - the database went away between the check and the counts
            db.session.rollback()
            database = "down"
    ready = by_status.get(FileStatus.READY, (0, 0))
    trashed = by_status.get(FileStatus.TRASHED, (0, 0))
    pending = by_status.get(FileStatus.PENDING, (0, 0))
    return Overview(users=counts["users"], active_users=counts["active"], admins=counts["admins"],
                    files=ready[0], stored_bytes=int(ready[1]), trash_files=trashed[0], trash_bytes=int(trashed[1]),
                    pending_uploads=pending[0], reserved_bytes=int(pending[1]),
                    storage=storage.state, storage_detail=storage.detail, database=database,
                    storage_name=storage_backend.name,
                    version=locker_version(), registration=current_app.config["REGISTRATION"],
                    default_quota=current_app.config["DEFAULT_QUOTA"] or None, checked_at=utcnow())
