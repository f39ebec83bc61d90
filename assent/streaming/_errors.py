"""The failures of streaming a delivery, under the SDK's one base error."""

from assent.errors import AssentError


class StreamError(AssentError):
    """The gateway or the object store did not give the bytes asked for."""


class ChecksumMismatch(StreamError):
    """The bytes read are not the ones the signed manifest lists: do not train on them."""


class LinkRefused(StreamError, PermissionError):
    """The gateway refused a link: the licence was refunded, or the caller does not own it.
    A PermissionError too, as fsspec's callers expect of a file they may not read."""
