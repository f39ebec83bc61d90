from storage.local._store import (
    LocalObjectStore,
    OpenedObject,
    SignatureInvalid,
    SizeMismatch,
    UrlExpired,
)

__all__ = ["LocalObjectStore", "OpenedObject", "SignatureInvalid", "SizeMismatch", "UrlExpired"]
