"""Python client and ``locker`` command line for Locker, the self-hosted file share.

    from locker_client import Locker

    with Locker("http://127.0.0.1:5000", token="lk_…") as lk:
        file = lk.upload("report.pdf")
        lk.download(file.id, "copy.pdf")

See :class:`locker_client.Locker` and the exceptions in :mod:`locker_client.errors`.
"""
__version__ = "0.1.0"

from locker_client.client import Locker, ProgressCallback, parse_duration  # noqa: E402
from locker_client.errors import (AuthenticationError, ChecksumMismatchError, ConflictError,  # noqa: E402
                                  ConnectionFailed, FileTooLargeError, InvalidRequestError, LockerError,
                                  NotFoundError, PermissionDeniedError, QuotaExceededError, RateLimitedError,
                                  ServerError, TransferError, UnsupportedFeatureError)
from locker_client.models import (Account, File, Folder, FolderEntry, FolderListing, Share, Trash,  # noqa: E402
                                  TrashItem, TreeTransfer)

__all__ = ["Locker", "ProgressCallback", "parse_duration", "Account", "File", "Folder", "FolderEntry",
           "FolderListing", "Share", "Trash", "TrashItem", "TreeTransfer", "LockerError",
           "AuthenticationError", "ChecksumMismatchError", "ConflictError", "ConnectionFailed", "FileTooLargeError",
           "InvalidRequestError", "NotFoundError", "PermissionDeniedError", "QuotaExceededError",
           "RateLimitedError", "ServerError", "TransferError", "UnsupportedFeatureError"]
