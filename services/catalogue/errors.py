"""The catalogue's business outcomes, each rendered with its own name by the kit's handler."""

from services.kit.errors import Conflict, InvalidRequest


class ConsentRequired(Conflict):
    """An offer needs a consent in force: nothing is offered without an opt-in."""


class ConsentNotInForce(Conflict):
    """There is no consent to withdraw."""


class WorkWithdrawn(Conflict):
    """A withdrawn work takes no new files, consent or offers."""


class NoPendingUpload(Conflict):
    """The work has no upload waiting for its bytes."""


class UploadClosed(Conflict):
    """The upload failed or was replaced; a new version starts a new one."""


class SingleUpload(Conflict):
    """The file goes up in one PUT, so there are no parts to presign."""


class NotUnderReview(Conflict):
    """Only a flagged work awaits a review decision."""


class UnreadableImage(InvalidRequest):
    """An image work's file is not a picture that can be read: the upload stays as it was,
    for the creator to send another file."""
