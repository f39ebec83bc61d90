"""Object keys: the one module that builds and checks them.

Every backend validates with ``validate_key`` so that a key accepted by S3 in production
is also safe as a path under the local backend's root, and the other way round.
"""

import uuid

from storage.object_store import InvalidKey

MAX_KEY_BYTES = 1024


def validate_key(key: str) -> str:
    try:
        encoded = key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidKey("object key is not valid UTF-8") from None
    if not key:
        raise InvalidKey("object key is empty")
    if len(encoded) > MAX_KEY_BYTES:
        raise InvalidKey(f"object key is longer than {MAX_KEY_BYTES} bytes")
    if key.startswith("/"):
        raise InvalidKey("object key starts with '/'")
    if "\\" in key:
        raise InvalidKey("object key contains a backslash")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in key):
        raise InvalidKey("object key contains a control character")
    for segment in key.split("/"):
        if segment in ("", ".", ".."):
            raise InvalidKey(f"object key has an empty, '.' or '..' segment: {key!r}")
    return key


def work_version_key(work_id: uuid.UUID, version_id: uuid.UUID) -> str:
    """Where the bytes of one version of a work live; versions are never overwritten."""
    return f"works/{work_id}/versions/{version_id}"


def manifest_key(delivery_id: uuid.UUID, build_id: uuid.UUID) -> str:
    """The signed manifest (DSSE envelope) of one delivery, as one build wrote it: each
    build has its own object, so a build that outlived its lease never replaces the
    manifest another build issued (the delivery's row names the issued one)."""
    return f"deliveries/{delivery_id}/{build_id}/manifest.dsse.json"


def delivered_file_key(delivery_id: uuid.UUID, build_id: uuid.UUID, fingerprint: str) -> str:
    """A buyer's own copy of one file of a delivery (C2PA provenance embedded), as one
    build wrote it (each build its own objects, as for manifests)."""
    return f"deliveries/{delivery_id}/{build_id}/files/{fingerprint}"


def checkpoint_key(tree_size: int) -> str:
    """A published audit-log checkpoint, named by the tree size it commits to."""
    return f"audit/checkpoints/{tree_size:020d}.json"


def shard_key(delivery_id: uuid.UUID, build_id: uuid.UUID, name: str) -> str:
    """A WebDataset shard or the shard index of one delivery, as one shard build wrote it
    (each build its own objects, as for manifests)."""
    return f"deliveries/{delivery_id}/{build_id}/shards/{name}"


def preview_key(work_id: uuid.UUID, version_id: uuid.UUID, name: str) -> str:
    """A picture made from one version's file for buyers to look at (a thumbnail or a
    waveform), beside the work's versions rather than under one: a version's key is an
    object, which on the local backend is a file and so cannot also be a folder."""
    return validate_key(f"works/{work_id}/previews/{version_id}/{name}")
