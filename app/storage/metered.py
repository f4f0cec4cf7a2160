"""The configured backend with every call of the storage contract counted and timed, by operation.

Wrapped once, around whichever backend the app uses, so each backend reports the
same way and none of them repeats it. Anything else (attributes, helpers such as
local storage's token checks) passes straight through.
"""
import inspect
import time

from app.metrics import STORAGE_CALLS, STORAGE_ERRORS
from app.storage.base import Storage, StorageRejected

# The contract's operations: every abstract method of Storage, and the write check uploads ask first.
OPERATIONS = frozenset(name for name, member in vars(Storage).items()
                       if getattr(member, "__isabstractmethod__", False)) | {"check_writable"}


class MeteredStorage:
    def __init__(self, backend):
        self.backend = backend
        self._patient = None

    def __getattr__(self, name):
        value = getattr(self.backend, name)
        if name not in OPERATIONS:
            return value
        if inspect.isgeneratorfunction(getattr(type(self.backend), name, None)):
            return lambda *args, **kwargs: metered_iteration(name, value(*args, **kwargs))
        return lambda *args, **kwargs: metered_call(name, value, args, kwargs)

    def patient(self):
        """The backend's patient twin (housekeeping), metered the same way."""
        if self._patient is None:
            patient = self.backend.patient()
            self._patient = self if patient is self.backend else MeteredStorage(patient)
        return self._patient


def metered_call(operation, call, args, kwargs):
    started = time.perf_counter()
    try:
        return call(*args, **kwargs)
    except StorageRejected:
        raise  # the store answered: the client's parts were wrong
    except Exception:
        STORAGE_ERRORS.labels(operation=operation).inc()
        raise
    finally:
        STORAGE_CALLS.labels(operation=operation).observe(time.perf_counter() - started)


def metered_iteration(operation, items):
    """A listing is one call however many pages it takes: timed from the first item asked to the last."""
    started = time.perf_counter()
    try:
        yield from items
    except Exception:
        STORAGE_ERRORS.labels(operation=operation).inc()
        raise
    finally:
        STORAGE_CALLS.labels(operation=operation).observe(time.perf_counter() - started)
