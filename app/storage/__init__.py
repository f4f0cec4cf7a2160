"""The configured storage backend, chosen once per app."""
from flask import current_app

from app.storage.base import (Health, ObjectInfo, PendingMultipart, Storage, StorageError, StoredObject, StoredPart,
                              StorageReadOnly, StorageRejected, UploadRequest, content_disposition)

__all__ = ["Health", "ObjectInfo", "PendingMultipart", "Storage", "StorageError", "StorageReadOnly", "StorageRejected",
           "StoredObject", "StoredPart", "UploadRequest", "content_disposition", "build_storage", "get_storage"]


def build_storage(app) -> Storage:
    """Make the backend `STORAGE_BACKEND` names from the app's config."""
    backend = app.config["STORAGE_BACKEND"]
    if backend == "local":
        from app.storage.local import LocalStorage
        return LocalStorage(app.config["STORAGE_DIR"], app.config["SECRET_KEY"], app.config.get("PUBLIC_URL"))
    if backend == "s3":
        from app.storage.s3 import S3Storage
        return S3Storage.from_config(app.config)
    raise RuntimeError(f"STORAGE_BACKEND must be 'local' or 's3', not {backend!r}")


def get_storage() -> Storage:
    return current_app.extensions["locker.storage"]
