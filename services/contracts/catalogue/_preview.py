"""What buyers see of a work's file before they license it: a thumbnail, a waveform with
the duration, or an excerpt, made once when the upload completes."""

from datetime import datetime
from enum import StrEnum

from services.contracts.catalogue._base import Schema


class PreviewKind(StrEnum):
    THUMBNAIL = "thumbnail"
    WAVEFORM = "waveform"
    """A picture of the sound's loudness over time, with its duration."""
    EXCERPT = "excerpt"
    NONE = "none"
    """No preview is made for this file; `preview_note` says why."""


class PreviewName(StrEnum):
    """The pictures a version can have, by the name they are served under."""

    THUMBNAIL = "thumbnail.png"
    WAVEFORM = "waveform.png"


class PreviewUrl(Schema):
    """A short-lived address of a preview picture, straight from the object store."""

    url: str
    expires_at: datetime
