"""Database models. Times are stored as naive UTC."""
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
    password_hash = db.Column(db.String(255), nullable=False)
    is_admin = db.Column(db.Boolean, nullable=False, default=False)
    is_active_account = db.Column(db.Boolean, nullable=False, default=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    # None means DEFAULT_QUOTA applies.
    quota_bytes = db.Column(db.BigInteger)
    # Bytes of every file the user has, pending uploads included (their reservations).
    # Changed only by single conditional UPDATEs, so concurrent uploads cannot overshoot.
    used_bytes = db.Column(db.BigInteger, nullable=False, default=0, server_default="0")

    # Set when the user is loaded through a login session, so Flask-Login's
    # get_id() names the session rather than the user (see services.sessions).
    session_token = None

    def set_password(self, password):
        self.password_hash = generate_password_hash(password)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self):
        return self.is_active_account

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

    user = db.relationship("User")


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
    DELETING = "deleting"


class File(db.Model):
    __tablename__ = "files"
    __table_args__ = (
        # Keyset pagination walks these; the id breaks ties.
        db.Index("ix_files_owner_status_created", "owner_id", "status", "created_at", "id"),
        db.Index("ix_files_owner_status_name", "owner_id", "status", "name", "id"),
        db.Index("ix_files_owner_status_size", "owner_id", "status", "size", "id"),
        # Two ready files of one owner never share a name; pending ones may.
        db.Index("uq_files_owner_ready_name", "owner_id", "name", unique=True,
                 sqlite_where=db.text("status = 'ready'"), postgresql_where=db.text("status = 'ready'")),
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

    @property
    def part_count(self):
        return -(-self.size // self.part_size) if self.part_size else None

    def expected_part_size(self, number):
        """Every part is part_size bytes but the last, which holds the rest."""
        if number < self.part_count:
            return self.part_size
        return self.size - self.part_size * (self.part_count - 1)

    owner = db.relationship("User")


class Share(db.Model):
    """A public link to one file: /s/<token>. Only the token's hash is stored."""

    __tablename__ = "shares"

    id = db.Column(db.Integer, primary_key=True)
    public_id = db.Column(db.String(32), nullable=False, unique=True)
    owner_id = db.Column(db.Integer, db.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    # Kept (as NULL) when the file goes, so its links can say they ended rather than vanish.
    file_id = db.Column(db.Integer, db.ForeignKey("files.id", ondelete="SET NULL"), index=True)
    token_hash = db.Column(db.String(64), nullable=False, unique=True)
    created_at = db.Column(db.DateTime, nullable=False, default=utcnow)
    expires_at = db.Column(db.DateTime)
    password_hash = db.Column(db.String(255))
    max_downloads = db.Column(db.Integer)
    download_count = db.Column(db.Integer, nullable=False, default=0, server_default="0")
    last_download_at = db.Column(db.DateTime)
    note = db.Column(db.String(1000))
    revoked_at = db.Column(db.DateTime)

    file = db.relationship("File")

    def state(self, now):
        """active, revoked, expired or used_up (the download limit was reached)."""
        if self.revoked_at is not None or self.file_id is None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        if self.max_downloads is not None and self.download_count >= self.max_downloads:
            return "used_up"
        return "active"
