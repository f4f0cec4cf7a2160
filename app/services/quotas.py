"""Per-user storage quotas.

An upload reserves its declared size when it starts; the reservation becomes
the file's share when it completes and is given back when the upload is
cancelled, expires or the file is deleted. Both directions are one
conditional UPDATE on the user's row, so concurrent uploads can never
together exceed the quota, on SQLite or PostgreSQL alike.
"""
from dataclasses import dataclass

from flask import current_app

from app.errors import LockerError
from app.extensions import db
from app.formatting import human_size
from app.models import User


class QuotaExceeded(LockerError):
    status, code = 413, "quota_exceeded"


@dataclass
class Usage:
    used: int
    quota: int | None  # None: no limit

    @property
    def remaining(self):
        return None if self.quota is None else max(self.quota - self.used, 0)


def quota_of(user):
    quota = user.quota_bytes if user.quota_bytes is not None else current_app.config["DEFAULT_QUOTA"]
    return quota or None


def usage(user):
    used = db.session.execute(db.select(User.used_bytes).filter_by(id=user.id)).scalar_one()
    return Usage(used, quota_of(user))


def reserve(user, size):
    """Count `size` bytes against the user's quota, in the caller's transaction, or refuse."""
    quota = quota_of(user)
    statement = db.update(User).where(User.id == user.id).values(used_bytes=User.used_bytes + size)
    if quota is not None:
        statement = statement.where(User.used_bytes + size <= quota)
    if db.session.execute(statement).rowcount != 1:
        remaining = usage(user).remaining
        raise QuotaExceeded(f"Not enough space: this file needs {human_size(size)} and you have "
                            f"{human_size(remaining)} left of {human_size(quota)}.")


def release(owner_id, size):
    """Give `size` bytes back, in the caller's transaction."""
    db.session.execute(db.update(User).where(User.id == owner_id).values(used_bytes=User.used_bytes - size))
