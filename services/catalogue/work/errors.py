"""The works' business outcomes."""

from services.kit.errors import Conflict


class FileReplaced(Conflict):
    """A new file became the work's current one while a change of kind was making the
    old file's preview: nothing was changed, and the change may be sent again."""
