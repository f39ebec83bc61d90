"""One object-store interface with an S3 backend and a local-directory backend."""

from storage.object_store import (
    ChecksumMismatch,
    InvalidKey,
    InvalidPart,
    ObjectInfo,
    ObjectNotFound,
    ObjectStore,
    PresignedRequest,
    StorageError,
    StorageSettings,
    StorageUnavailable,
    UploadedPart,
    UploadNotFound,
)


def create_object_store(settings: StorageSettings) -> ObjectStore:
    # Imported here so that the embedded run mode never pays boto3's ~250 ms import.
    if settings.backend == "s3":
        from storage.s3 import S3ObjectStore

        return S3ObjectStore(settings)
    from storage.local import LocalObjectStore

    return LocalObjectStore(settings)


__all__ = [
    "ChecksumMismatch",
    "InvalidKey",
    "InvalidPart",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectStore",
    "PresignedRequest",
    "StorageError",
    "StorageSettings",
    "StorageUnavailable",
    "UploadNotFound",
    "UploadedPart",
    "create_object_store",
]
