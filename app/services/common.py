"""Helpers the services share."""
import logging

from app.errors import InvalidInput, Unavailable
from app.storage import StorageError, StorageRejected

log = logging.getLogger(__name__)


def storage_call(operation, *args, **kwargs):
    """Run a storage operation, turning an outage into a clear 503 and a refusal into a 400."""
    try:
        return operation(*args, **kwargs)
    except StorageRejected as error:
        raise InvalidInput(f"Storage refused the upload: {error}", code="storage_rejected") from error
    except StorageError as error:
        log.warning("storage unavailable: %s", error)
        raise Unavailable("File storage is not reachable right now. Try again in a minute.",
                          code="storage_unavailable") from error
