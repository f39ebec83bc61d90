"""The one failure of a backup or a restore: its message says why in an operator's words."""


class BackupError(Exception):
    pass
