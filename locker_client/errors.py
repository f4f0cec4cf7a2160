"""Exceptions raised by the Locker client.

Every failure is a :class:`LockerError` carrying the API's stable error
``code``, the HTTP ``status`` (``None`` when no answer came back) and a plain
``message``. Catch the subclasses for the cases a program handles differently.
"""
from __future__ import annotations


class LockerError(Exception):
    """Base class: something Locker (or the way to it) refused or could not do.

    Attributes:
        code: the API's error code (``"invalid_token"``, ``"not_found"``, …), or a
            client-side code such as ``"connection_failed"`` or ``"checksum_mismatch"``.
        status: the HTTP status of the answer, or ``None`` when there was none.
        message: one plain sentence saying what went wrong.
    """

    default_code = "error"

    def __init__(self, message: str, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.status = status
        # A batch request's refusal names the item refused (its position in the batch).
        self.index: int | None = None

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, status={self.status!r}, message={self.message!r})"


class InvalidRequestError(LockerError):
    """400: Locker refused what was sent (a bad name, an empty file, a wrong part …)."""

    default_code = "bad_request"


class AuthenticationError(LockerError):
    """401: the token (or username and password) is missing, wrong, expired or revoked."""

    default_code = "unauthorized"


class PermissionDeniedError(LockerError):
    """403: signed in, but not allowed (or a signed storage URL was refused)."""

    default_code = "forbidden"


class NotFoundError(LockerError):
    """404: no such file, upload or share (for this account)."""

    default_code = "not_found"


class ConflictError(LockerError):
    """409: the request clashes with the current state (e.g. an upload already completed)."""

    default_code = "conflict"


class QuotaExceededError(LockerError):
    """413 ``quota_exceeded``: the account has not enough space left for this file."""

    default_code = "quota_exceeded"


class FileTooLargeError(LockerError):
    """413: the file is larger than this Locker accepts."""

    default_code = "too_large"


class RateLimitedError(LockerError):
    """429: too many attempts; wait and try again."""

    default_code = "rate_limited"


class ServerError(LockerError):
    """5xx: Locker or its storage failed; nothing the client sent was wrong."""

    default_code = "server_error"


class ConnectionFailed(LockerError):
    """No answer at all: refused connection, unknown host, timeout, TLS failure."""

    default_code = "connection_failed"


class ChecksumMismatchError(LockerError):
    """Bytes did not hash to the SHA-256 Locker recorded (download) or declared (upload)."""

    default_code = "checksum_mismatch"

    def __init__(self, message: str, expected: str | None = None, actual: str | None = None,
                 code: str | None = None, status: int | None = None) -> None:
        super().__init__(message, code=code, status=status)
        self.expected = expected
        self.actual = actual


class TransferError(LockerError):
    """Sending bytes to storage (or fetching them) failed even after retries.

    For a multipart upload the parts that arrived are kept: running the same
    upload again sends only the missing ones.
    """

    default_code = "transfer_failed"


class UnsupportedFeatureError(LockerError):
    """The server does not have this feature (e.g. share links on an older Locker)."""

    default_code = "unsupported"


# An answer's class by (status, code) first, then by status alone; any other 5xx is a ServerError.
ERROR_CLASSES: dict[int | tuple[int, str], type[LockerError]] = {
    (400, "checksum_mismatch"): ChecksumMismatchError, (413, "quota_exceeded"): QuotaExceededError,
    400: InvalidRequestError, 401: AuthenticationError, 403: PermissionDeniedError, 404: NotFoundError,
    409: ConflictError, 413: FileTooLargeError, 429: RateLimitedError,
}


def error_for_status(status: int, code: str | None, message: str) -> LockerError:
    """The most specific LockerError for an HTTP error answer."""
    cls = ERROR_CLASSES.get((status, code or "")) or ERROR_CLASSES.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else LockerError
    return cls(message, code=code, status=status)
