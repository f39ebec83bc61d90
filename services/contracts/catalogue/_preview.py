"""What buyers see of a work's file before they license it: a thumbnail, a waveform with
the duration, or an excerpt, made once when the upload completes."""

from datetime import datetime
from enum import StrEnum
from uuid import UUID

from services.contracts.catalogue._base import Schema


class PreviewKind(StrEnum):
    THUMBNAIL = "thumbnail"
    WAVEFORM = "waveform"
    """A picture of the sound's loudness over time, with its duration."""
    EXCERPT = "excerpt"
    NONE = "none"
    """No preview is made for this file; `preview_note` says why."""


class PreviewUrl(Schema):
    """A short-lived address of a version's preview picture (a thumbnail or a waveform),
    straight from the object store."""

    version_id: UUID
    url: str
    expires_at: datetime
