"""The invitations' business outcomes."""

from services.kit.errors import Conflict


class InvitationAnswered(Conflict):
    """An invitation is answered once; a change of the share asks again."""
