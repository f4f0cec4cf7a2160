"""Database models. Times are stored as naive UTC."""
import unicodedata
from datetime import datetime, timezone

from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db


def utcnow():
    """The current time as naive UTC, the form every column stores."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id = db.Column(db.Integer, primary_key=True)
    # Stored lower-case, so uniqueness is case-insensitive on every database.
    username = db.Column(db.String(32), nullable=False, unique=True)
    # None for an account made through single sign-on that never set a password.
    password_hash = db.Column(db.String(255))
    is_admin = db.Column(db.Boolean, nullable=False, default=False)
    is_active_account = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # None means DEFAULT_QUOTA applies.
    quota_bytes = db.Column(db.BigInteger)
    # Bytes of every file the user has, pending uploads included (their reservations).
    # Changed only by single conditional UPDATEs, so concurrent uploads cannot overshoot.
    used_bytes = db.Column(db.BigInteger, nullable=False, default=0, server_default="0")
    # Stored lower-case; for password resets, invitations and notices. Unique where set.
    email = db.Column(db.String(254), unique=True)
    last_sign_in_at = db.Column(db.DateTime)
    # Set when the account's deletion began: from then on nobody can sign in as it, and
    # services.deletion (resumed by sweep) removes its files, links and finally the row.
    deleting_at = db.Column(db.DateTime)
    # The TOTP secret, encrypted under a key derived from SECRET_KEY; two-factor is on once
    # totp_enabled_at is set (the first code was checked), not merely when a secret exists.
    totp_secret_encrypted = db.Column(db.String(255))
    totp_enabled_at = db.Column(db.DateTime)
    # The time step of the last TOTP code accepted, so a code cannot be used twice.
    totp_last_step = db.Column(db.BigInteger)
    # Opt-in email notices.
    notify_downloads = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    notify_deliveries = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())

    # Set when the user is loaded through a login session, so Flask-Login's
    # get_id() names the session rather than the user (see services.sessions).
    session_token = None

    def set_password(self, password):
        self.password_hash = generate_password_hash(password)

    def check_password(self, password):
        return self.password_hash is not None and check_password_hash(self.password_hash, password)

    @property
    def is_active(self):
        return self.is_active_account and self.deleting_at is None

    @property
    def two_factor_enabled(self):
        return self.totp_enabled_at is not None

    def get_id(self):
        return self.session_token


class LoginSession(db.Model):
    """A browser sign-in; deleting the row ends it wherever its cookies are."""

    __tablename__ = "login_sessions"

    id = db.Column(db.Integer, primary_key=True)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    remember = db.Column(db.Boolean, nullable=False, default=False)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_seen_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # What the Account page's list of devices shows.
    user_agent = db.Column(db.String(255))
    address = db.Column(db.String(45))

    user = db.relationship("User")


class RecoveryCode(db.Model):
    """A single-use code that stands in for a TOTP code; only its hash is kept."""

    __tablename__ = "recovery_codes"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    code_hash = db.Column(db.String(64), nullable=False)
    used_at = db.Column(db.DateTime)


class Invitation(db.Model):
    """A single-use, expiring sign-up link made by an admin (REGISTRATION=invite)."""

    __tablename__ = "invitations"

    id = db.Column(db.Integer, primary_key=True)
    public_id = db.Column(db.String(32), nullable=False, unique=True)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    # As Share.token_encrypted: lets the admin copy the link again.
    token_encrypted = db.Column(db.String(255))
    created_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    expires_at = db.Column(db.DateTime, nullable=False)
    # What the account made through it starts with.
    quota_bytes = db.Column(db.BigInteger)
    is_admin = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    email = db.Column(db.String(254))
    note = db.Column(db.String(200))
    # Claimed by one conditional UPDATE, so two sign-ups at once cannot both use it.
    used_at = db.Column(db.DateTime)
    used_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    revoked_at = db.Column(db.DateTime)

    created_by = db.relationship("User", foreign_keys=[created_by_id])
    used_by = db.relationship("User", foreign_keys=[used_by_id])


class PasswordReset(db.Model):
    """A single-use, expiring link that sets a new password, made by an admin or asked for by email."""

    __tablename__ = "password_resets"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    created_by_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    expires_at = db.Column(db.DateTime, nullable=False)
    used_at = db.Column(db.DateTime)

    user = db.relationship("User", foreign_keys=[user_id])


class UserIdentity(db.Model):
    """An account at a single sign-on (OpenID Connect) provider linked to a Locker user."""

    __tablename__ = "user_identities"
    __table_args__ = (db.UniqueConstraint("provider", "subject", name="uq_user_identities_provider_subject"),)

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    provider = db.Column(db.String(64), nullable=False)
    subject = db.Column(db.String(255), nullable=False)
    email = db.Column(db.String(254))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_used_at = db.Column(db.DateTime)

    user = db.relationship("User")


class SiteSetting(db.Model):
    """A setting admins change in the admin area (the environment holds the rest)."""

    __tablename__ = "site_settings"

    name = db.Column(db.String(64), primary_key=True)
    value = db.Column(db.Text, nullable=False)


class ApiToken(db.Model):
    __tablename__ = "api_tokens"

    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    name = db.Column(db.String(100), nullable=False)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    last_used_at = db.Column(db.DateTime)
    expires_at = db.Column(db.DateTime)

    user = db.relationship("User")


class SetupToken(db.Model):
    """The one-time link that creates the first admin when none is configured."""

    __tablename__ = "setup_tokens"

    id = db.Column(db.Integer, primary_key=True)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)


class FileStatus:
    PENDING = "pending"
    READY = "ready"
    TRASHED = "trashed"
    DELETING = "deleting"



class Folder(db.Model):
    """A folder of one owner's files and folders. Each owner has one root (no parent, no name).

    Trashing a folder puts it and everything in it in the trash with one timestamp: the
    folder itself is the trash's item (trashed_with_id NULL), everything inside points at it
    through trashed_with_id, so a restore or purge takes them together.
    """

    __tablename__ = "folders"
    __table_args__ = (
        db.Index("uq_folders_root", "owner_id", unique=True,
                 sqlite_where=db.text("parent_id IS NULL"), postgresql_where=db.text("parent_id IS NULL")),
        db.Index("uq_folders_parent_live_name", "parent_id", "name", unique=True,
                 sqlite_where=db.text("trashed_at IS NULL"), postgresql_where=db.text("trashed_at IS NULL")),
        db.Index("ix_folders_owner_trashed", "owner_id", "trashed_at"),
    )

    id = db.Column(db.Integer, primary_key=True)
    public_id = db.Column(db.String(32), nullable=False, unique=True)
    owner_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    parent_id = db.Column(db.Integer, db.ForeignKey("folders.id"))
    name = db.Column(db.String(255), nullable=False)
    search_name = db.Column(db.String(255), nullable=False, default="", server_default="")
    # 1 for a folder in the root; depth is checked on create and move, so paths stay bounded.
    depth = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # Bumped by every change of what the folder holds; that write also serialises them (see services.folders).
    updated_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    trashed_at = db.Column(db.DateTime)
    # The path it was deleted from ("Photos/2024"), so a restore can recreate missing folders.
    trashed_from = db.Column(db.Text)
    trashed_with_id = db.Column(db.Integer, db.ForeignKey("folders.id"), index=True)
    # The ready files directly in it and their bytes, kept by triggers on files (migration ea4a94934f24), so what a
    # folder holds at any depth adds up its folders instead of reading every file. Written by the database
    # alone: read them with a query of the columns, since a loaded Folder keeps the values it was loaded with.
    ready_files = db.Column(db.BigInteger, nullable=False, default=0, server_default="0")
    ready_bytes = db.Column(db.BigInteger, nullable=False, default=0, server_default="0")

    parent = db.relationship("Folder", remote_side=[id], foreign_keys=[parent_id])

    @property
    def is_root(self):
        return self.parent_id is None


class FileProblem:
    """What `sweep` or `verify` found wrong with a ready file's stored bytes."""

    MISSING = "missing"   # storage holds nothing under the file's key
    CHANGED = "changed"   # the bytes no longer have the recorded SHA-256

    LABELS = {MISSING: "bytes missing", CHANGED: "bytes changed"}
    MESSAGES = {
        MISSING: "Storage no longer holds this file's bytes, so it can't be downloaded or shared. "
                 "Upload it again if you have a copy.",
        CHANGED: "This file's bytes in storage differ from what was uploaded (its SHA-256 changed), so it "
                 "can't be downloaded or shared. Upload it again if you have a copy.",
    }


class File(db.Model):
    __tablename__ = "files"
    __table_args__ = (
        # Keyset pagination walks these; the id breaks ties.
        db.Index("ix_files_owner_status_created", "owner_id", "status", "created_at", "id"),
        db.Index("ix_files_owner_status_name", "owner_id", "status", "name", "id"),
        db.Index("ix_files_owner_status_size", "owner_id", "status", "size", "id"),
        # Two ready files in one folder never share a name; pending and trashed ones may.
        db.Index("uq_files_folder_ready_name", "folder_id", "name", unique=True,
                 sqlite_where=db.text("status = 'ready'"), postgresql_where=db.text("status = 'ready'")),
        # A folder's list walks these, as the owner's list walks the three above.
        db.Index("ix_files_folder_status_created", "folder_id", "status", "created_at", "id"),
        db.Index("ix_files_folder_status_name", "folder_id", "status", "name", "id"),
        db.Index("ix_files_folder_status_size", "folder_id", "status", "size", "id"),
        db.Index("ix_files_owner_trashed", "owner_id", "trashed_at"),
        # The Everyone page walks visible ready files newest first.
        db.Index("ix_files_everyone_created", "visible_to_everyone", "status", "created_at", "id"),
        # Name search: a trigram GIN index on PostgreSQL (pg_trgm); on SQLite a b-tree for
        # prefix matches beside the FTS5 trigram table SEARCH_TABLE (see the migration).
        db.Index("ix_files_search_name", "search_name", postgresql_using="gin",
                 postgresql_ops={"search_name": "gin_trgm_ops"}),
    )

    id = db.Column(db.Integer, primary_key=True)
    public_id = db.Column(db.String(32), nullable=False, unique=True)
    owner_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name = db.Column(db.String(255), nullable=False)
    size = db.Column(db.BigInteger, nullable=False)
    content_type = db.Column(db.String(255), nullable=False)
    sha256 = db.Column(db.String(64))
    storage_key = db.Column(db.String(255), nullable=False, unique=True)
    # True once storage (or Locker, reading the bytes) computed sha256 itself; a
    # digest only the client declared stays False.
    sha256_verified = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    status = db.Column(db.String(16), nullable=False, default=FileStatus.PENDING)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    delete_attempts = db.Column(db.Integer, nullable=False, default=0)
    # Multipart uploads: the store's upload id and the size of every part but the last.
    upload_id = db.Column(db.String(1024))
    part_size = db.Column(db.BigInteger)
    part_checksums = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    # The name as search compares it (search_key(name)); set wherever name is.
    search_name = db.Column(db.String(255), nullable=False, default="", server_default="")
    visible_to_everyone = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    # The type read from the stored bytes at completion (None: not recognised); only
    # this, never the client's claim, decides whether a file may be shown inline.
    sniffed_type = db.Column(db.String(255))
    # Files that arrived through an upload request: which one, and the name the guest gave.
    file_request_id = db.Column(db.Integer, db.ForeignKey("file_requests.id", ondelete="SET NULL"), index=True)
    guest_name = db.Column(db.String(100))
    # Guest uploads: which visit sent it (services.guest_uploads.visit_hash), so only that visit
    # reaches it, and the name the guest gave, which they see even when the owner's is numbered.
    visit_hash = db.Column(db.String(64), index=True)
    sent_name = db.Column(db.String(255))
    # Set by sweep or verify (a FileProblem) when the stored bytes are gone or differ, and when.
    problem = db.Column(db.String(16))
    problem_found_at = db.Column(db.DateTime)
    # The folder it is in (every owner has a root folder; NULL only in rows no code makes any more).
    folder_id = db.Column(db.Integer, db.ForeignKey("folders.id"))
    # In the trash (status TRASHED): see Folder for the same three columns.
    trashed_at = db.Column(db.DateTime)
    trashed_from = db.Column(db.Text)
    trashed_with_id = db.Column(db.Integer, db.ForeignKey("folders.id"), index=True)

    @property
    def part_count(self):
        return -(-self.size // self.part_size) if self.part_size else None

    def expected_part_size(self, number):
        """Every part is part_size bytes but the last, which holds the rest."""
        if number < self.part_count:
            return self.part_size
        return self.size - self.part_size * (self.part_count - 1)

    owner = db.relationship("User")
    file_request = db.relationship("FileRequest")
    folder = db.relationship("Folder", foreign_keys=[folder_id])


class UploadPart(db.Model):
    """The SHA-256 a part of a multipart upload was signed with.

    An upload created with part checksums must be completed with every part's
    checksum, and some stores (SeaweedFS) do not list them back, so Locker keeps
    the ones it signed until the upload ends.
    """

    __tablename__ = "upload_parts"

    file_id = db.Column(db.Integer, db.ForeignKey("files.id", ondelete="CASCADE"), primary_key=True)
    number = db.Column(db.Integer, primary_key=True)
    sha256 = db.Column(db.String(64), nullable=False)


def search_key(name):
    """How names are compared by search: Unicode case-folded, the same on every database."""
    return unicodedata.normalize("NFKC", name).casefold()[:255]


# SQLite's FTS5 trigram index over files.search_name; made by migrations only, so
# model/migration comparisons skip it (and the tables FTS5 makes beside it).
SEARCH_TABLE = "files_search"


def described_by_models(name, type_, parent_names):
    """Alembic's include_name: everything but the search table is the models' to describe."""
    return not (type_ == "table" and name.startswith(SEARCH_TABLE))


class Share(db.Model):
    """A public link to one file: /s/<token>. Only the token's hash is stored."""

    __tablename__ = "shares"

    id = db.Column(db.Integer, primary_key=True)
    public_id = db.Column(db.String(32), nullable=False, unique=True)
    owner_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    # Kept (as NULL) when the file goes, so its links can say they ended rather than vanish.
    file_id = db.Column(db.Integer, db.ForeignKey("files.id", ondelete="SET NULL"), index=True)
    # A link to a folder (and all in it), or to a selection of files (ShareItem rows), instead of one file.
    folder_id = db.Column(db.Integer, db.ForeignKey("folders.id", ondelete="SET NULL"), index=True)
    is_selection = db.Column(db.Boolean, nullable=False, default=False, server_default=db.false())
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    # The token encrypted under a key derived from SECRET_KEY, so its owner can copy the link again
    # (None for links made before Locker kept it); lookups use token_hash alone.
    token_encrypted = db.Column(db.String(255))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    expires_at = db.Column(db.DateTime)
    password_hash = db.Column(db.String(255))
    max_downloads = db.Column(db.Integer)
    download_count = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    last_download_at = db.Column(db.DateTime)
    note = db.Column(db.String(1000))
    revoked_at = db.Column(db.DateTime)

    file = db.relationship("File")
    folder = db.relationship("Folder")

    @property
    def kind(self):
        """file, folder or selection: what the link hands out."""
        if self.is_selection:
            return "selection"
        return "folder" if self.folder_id is not None else "file"

    def state(self, now):
        """active, revoked, expired or used_up (the download limit was reached)."""
        if self.revoked_at is not None or (self.file_id is None and self.folder_id is None and not self.is_selection):
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        if self.max_downloads is not None and self.download_count >= self.max_downloads:
            return "used_up"
        return "active"


class ShareItem(db.Model):
    """One file of a link to a selection of files."""

    __tablename__ = "share_items"

    share_id = db.Column(db.Integer, db.ForeignKey("shares.id", ondelete="CASCADE"), primary_key=True)
    file_id = db.Column(db.Integer, db.ForeignKey("files.id", ondelete="CASCADE"), primary_key=True, index=True)


class FileRequest(db.Model):
    """An upload request: /r/<token> lets anyone with the link upload files to the owner."""

    __tablename__ = "file_requests"

    id = db.Column(db.Integer, primary_key=True)
    public_id = db.Column(db.String(32), nullable=False, unique=True)
    owner_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    # As Share.token_encrypted.
    token_encrypted = db.Column(db.String(255))
    title = db.Column(db.String(200), nullable=False)
    message = db.Column(db.String(1000))
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    expires_at = db.Column(db.DateTime)
    password_hash = db.Column(db.String(255))
    max_files = db.Column(db.Integer)
    max_bytes = db.Column(db.BigInteger)
    # Uploads started through the link (pending ones included) and their bytes; changed
    # only by conditional UPDATEs, like quotas, so racing guests cannot pass the limits.
    files_used = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    bytes_used = db.Column(db.BigInteger, nullable=False, default=0, server_default="0")
    revoked_at = db.Column(db.DateTime)
    # Where files that arrive go (NULL: the owner's root folder, also when the folder was deleted).
    folder_id = db.Column(db.Integer, db.ForeignKey("folders.id", ondelete="SET NULL"), index=True)

    owner = db.relationship("User")
    folder = db.relationship("Folder")


class AuditEvent(db.Model):
    """One thing that happened, for the activity log. Never holds tokens or passwords."""

    __tablename__ = "audit_events"
    __table_args__ = (
        db.Index("ix_audit_events_owner_id_id", "owner_id", "id"),
    )

    id = db.Column(db.Integer, primary_key=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    action = db.Column(db.String(40), nullable=False)
    # Who did it (None: someone without an account, e.g. through a link, or a failed sign-in).
    actor_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    actor_name = db.Column(db.String(100))
    # Whose activity this is: the owner of the file, link or account concerned.
    owner_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"))
    file_id = db.Column(db.Integer, db.ForeignKey("files.id", ondelete="SET NULL"), index=True)
    file_name = db.Column(db.String(255))
    share_id = db.Column(db.Integer, db.ForeignKey("shares.id", ondelete="SET NULL"), index=True)
    file_request_id = db.Column(db.Integer, db.ForeignKey("file_requests.id", ondelete="SET NULL"), index=True)
    address = db.Column(db.String(45))
    detail = db.Column(db.String(500))

    actor = db.relationship("User", foreign_keys=[actor_id])
