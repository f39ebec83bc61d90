from enum import StrEnum


class Role(StrEnum):
    CREATOR = "creator"
    BUYER = "buyer"
    AUDITOR = "auditor"
    ADMIN = "admin"
    # Carried by tokens one service issues to another (outbox relay, batch reads).
    SERVICE = "service"


SELF_SERVICE_ROLES = frozenset({Role.CREATOR, Role.BUYER})
"""Roles anyone may register with; the others are granted only by an admin."""
