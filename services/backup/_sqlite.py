"""SQLite (the embedded default): each component's file copied by SQLite's backup API,
which copies a consistent state of a database another process may be writing."""

import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy.engine import make_url

from services.backup.errors import BackupError


def file_of(sqlalchemy_url: str) -> Path:
    database = make_url(sqlalchemy_url).database
    if not database or database == ":memory:":
        raise BackupError(f"{sqlalchemy_url} is not a database file")
    return Path(database)


def _copy(source: sqlite3.Connection, target: Path) -> None:
    with closing(sqlite3.connect(target)) as destination:
        source.backup(destination)


def copy_out(database: Path, target: Path) -> str | None:
    """Copy the database into `target`; the schema revision the copy is at."""
    if not database.is_file():
        raise BackupError(f"no database file {database}: is the data directory right?")
    with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as source:
        _copy(source, target)
    return revision(target)


def revision(database: Path) -> str | None:
    with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as copy:
        try:
            row = copy.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:
            return None
    return None if row is None else str(row[0])


def table_count(database: Path) -> int:
    if not database.exists():
        return 0
    with closing(sqlite3.connect(f"{database.resolve().as_uri()}?mode=ro", uri=True)) as found:
        row = found.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
    return int(row[0])


def copy_in(source: Path, database: Path) -> None:
    """Replace the database's content with the backup's, in one step of SQLite's."""
    database.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as backup:
        _copy(backup, database)
