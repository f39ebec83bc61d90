"""The local-directory backend for the embedded run mode, with HMAC-signed URLs.

Layout under ``local_root``::

    <bucket>/<key>                      the object's bytes, exactly
    .meta/<bucket>/<key>                JSON sidecar: size, sha256, content type, inode
    .uploads/<bucket>/<upload id>/      upload.json, <n>.part and <n>.json per part
    .tmp/<bucket>/                      files being written

Every write goes to ``.tmp`` first and is fsynced, then renamed into place, so no reader
ever sees part of an object. The temporary files live in a directory of their own (on the
same file system, which is what makes the rename atomic) so that a crash leaves no stray
file in the object tree. A sidecar is renamed into place before its object and names the
object's inode: a sidecar that does not match its file is treated as absent, so head may
report an unknown sha256 but never a wrong one.

``_files`` holds the directories and the atomic file, ``_objects`` whole objects,
``_multipart`` uploads in parts, ``_signing`` the signed URLs, and ``_store`` the store
that puts them behind the ObjectStore interface.
"""

from storage.local._files import OpenedObject
from storage.local._objects import SizeMismatch
from storage.local._signing import SignatureInvalid, UrlExpired
from storage.local._store import LocalObjectStore

__all__ = ["LocalObjectStore", "OpenedObject", "SignatureInvalid", "SizeMismatch", "UrlExpired"]
