"""The database: chosen at run time from a URL, shared by every model through one proxy.

SQLite (the default) runs in WAL mode with foreign keys on, a busy timeout and IMMEDIATE
write transactions, so two admins and the daily run wait for each other instead of
failing half-way. PostgreSQL is reached through a ``postgresql://`` URL.
"""

import contextlib
import io
import os
import sqlite3
import stat
import threading
import time
from itertools import chain
from pathlib import Path
from urllib.parse import unquote, urlparse

from peewee import (
    SQL,
    DatabaseError,
    DatabaseProxy,
    InterfaceError,
    Expression,
    Model,
    NodeList,
    OperationalError,
    PostgresqlDatabase,
    SqliteDatabase,
)
from peewee import __exception_wrapper__ as peewee_errors

database = DatabaseProxy()

# What a database that cannot be reached or used raises, whichever engine: the CLI turns it
# into one line and the "database unavailable" exit status.
DATABASE_ERRORS = (DatabaseError, InterfaceError, sqlite3.Error)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "cache_size": -64_000,
    "synchronous": "normal",
    "wal_autocheckpoint": 10000,
}
BUSY_TIMEOUT_SECONDS = 10
# `PRAGMA application_id` of every hostdesk SQLite database ("HDSK"): a restore accepts no
# other file, however it looks inside.
APPLICATION_ID = 0x4844534B
PG_CONNECT_TIMEOUT_SECONDS = 10


class DatabaseMissing(Exception):
    """A command that only reads was pointed at a SQLite file that does not exist."""


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


def sqlite_path_from_url(url: str) -> str | None:
    """The file path of a ``sqlite:///`` URL (or a bare path), None for other engines."""
    if "://" not in url:
        return url
    parsed = urlparse(url)
    if parsed.scheme != "sqlite":
        return None
    # sqlite:////abs/path -> /abs/path ; sqlite:///rel/path -> rel/path
    path = unquote(url[len("sqlite:///"):])
    return path or ":memory:"


def redact_url(url: str) -> str:
    """The URL with its password masked, for every message and listing."""
    try:
        parsed = urlparse(url)
        if parsed.password is None:
            return url
    except ValueError:
        return url
    user = parsed.username or ""
    host = parsed.netloc.rpartition("@")[2]
    return parsed._replace(netloc=f"{user}:****@{host}").geturl()


def connect_url(url: str, *, create: bool = True):
    """Build (but do not open) the peewee database for a URL. Without `create`, a SQLite file
    that does not exist raises DatabaseMissing instead of being created."""
    sqlite_path = sqlite_path_from_url(url)
    if sqlite_path is not None:
        if sqlite_path != ":memory:":
            if create:
                _create_private_file(Path(sqlite_path))
            elif not Path(sqlite_path).exists():
                raise DatabaseMissing(f"no database at {sqlite_path}: check --db, or create it "
                                      "with 'hostdesk init'")
        db = SqliteDatabase(
            sqlite_path,
            pragmas=SQLITE_PRAGMAS,
            timeout=BUSY_TIMEOUT_SECONDS,
            lock_type="IMMEDIATE",
        )
        # Bulk inserts read back their ids with RETURNING (SQLite 3.35+).
        db.returning_clause = sqlite3.sqlite_version_info >= (3, 35, 0)
        return db
    try:
        parsed = urlparse(url)
        scheme = parsed.scheme
    except ValueError:
        scheme = ""
    if scheme in ("postgresql", "postgres"):
        from playhouse.db_url import parse

        # The query string's options (sslmode=require, connect_timeout, ...) reach libpq.
        options = parse(url, unquote_password=True, unquote_user=True)
        options.setdefault("connect_timeout", PG_CONNECT_TIMEOUT_SECONDS)
        return PostgresqlDatabase(options.pop("database"), **options)
    raise ValueError(
        f"database URL {redact_url(url)!r}: use sqlite:///PATH or "
        "postgresql://USER@HOST:PORT/NAME"
    )


def _create_private_file(path: Path) -> None:
    """Billing data is private: a new SQLite file is readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, stat.S_IRUSR | stat.S_IWUSR)
        os.close(fd)


def is_sqlite(db=None) -> bool:
    db = db or database.obj
    return isinstance(db, SqliteDatabase)


def is_postgres(db=None) -> bool:
    db = db or database.obj
    return isinstance(db, PostgresqlDatabase)


def bind(url_or_db):
    """Point every model at this database; returns the real database object."""
    db = connect_url(url_or_db) if isinstance(url_or_db, str) else url_or_db
    database.initialize(db)
    return db


def migrate(db=None) -> list[str]:
    """Create or upgrade the schema to the newest migration. Returns what was applied."""
    from playhouse.migrations import Runner

    db = db or database.obj
    if is_sqlite(db):
        found = db.execute_sql("PRAGMA application_id").fetchone()[0]
        if found not in (0, APPLICATION_ID):
            raise ValueError(f"{db.database} belongs to another application "
                             f"(application id {found:#x}); hostdesk leaves it alone")
    runner = Runner(db, directory=str(MIGRATIONS_DIR))
    applied = runner.up()
    if is_sqlite(db) and found != APPLICATION_ID:  # new, or made before ids were set
        db.execute_sql(f"PRAGMA application_id = {APPLICATION_ID}")
    return applied


def code_migrations() -> set[str]:
    """The names of the migrations this code knows."""
    from playhouse.migrations import Migration

    return {m.name for m in Migration.load_directory(str(MIGRATIONS_DIR))}


def pending_migrations(db=None) -> list[str]:
    from playhouse.migrations import Runner

    db = db or database.obj
    return [m.name for m in Runner(db, directory=str(MIGRATIONS_DIR)).status() if not m.applied]


def schema_is_current(db=None) -> bool:
    """Whether every migration file is applied: `pending_migrations` without loading the
    migration runner, for the headless commands that must answer within a web request."""
    db = db or database.obj
    names = {path.stem for path in MIGRATIONS_DIR.glob("[0-9]*.py")}
    if not db.table_exists("schema_migration"):
        return False
    applied = {name for (name,) in db.execute_sql("SELECT name FROM schema_migration")}
    return names <= applied


@contextlib.contextmanager
def few_checkpoints(pages: int = 262_144, *, copy_back_meanwhile: bool = False):
    """Let SQLite's write-ahead log grow to `pages` (1 GiB) before copying it back into the
    database file, and copy it once at the end; `copy_back_meanwhile`: on a connection of its
    own while the caller goes on (the daily run's next tasks), the process waiting for it
    before it exits.

    For a bulk job of many short transactions: each checkpoint rewrote the same hot index
    pages, which cost the daily run at a million services more than its own inserts."""
    if not is_sqlite():
        yield
        return
    database.execute_sql(f"PRAGMA wal_autocheckpoint = {int(pages)}")
    try:
        yield
    finally:
        database.execute_sql(f"PRAGMA wal_autocheckpoint = {SQLITE_PRAGMAS['wal_autocheckpoint']}")
        if copy_back_meanwhile:
            threading.Thread(target=_copy_back, args=(database.obj.database,),
                             name="hostdesk-checkpoint").start()
        else:
            _copy_back(database.obj.database)


def _copy_back(path: str) -> None:
    """A passive checkpoint of the database file at `path`, on a connection of its own."""
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS)) as own:
            own.execute("PRAGMA wal_checkpoint(PASSIVE)")
    except sqlite3.Error:
        pass  # e.g. a full disk: the log stays whole and a later checkpoint copies it


@contextlib.contextmanager
def bounded_page_cache(kib: int):
    """SQLite: keep at most `kib` KiB of database pages in this connection's cache meanwhile.

    For the daily run: it reads and writes far more than any cache holds, so the default
    64 MB only raised its memory peak (to 207 MB once). Half of that (automation.cron) keeps
    enough of the invoice line indexes between a normal day's chunks: about 10% less CPU
    than 16 MB, and the same peak (each page found in the operating system's cache instead
    still costs a read call)."""
    if not is_sqlite():
        yield
        return
    database.execute_sql(f"PRAGMA cache_size = {-int(kib)}")
    try:
        yield
    finally:
        database.execute_sql(f"PRAGMA cache_size = {SQLITE_PRAGMAS['cache_size']}")


# PostgreSQL prices a random page read at four sequential ones by default (spinning disks).
# The daily run reads a few thousand rows at a time through indexes; priced so, the planner
# scanned all the million services instead (290 ms against 60 ms for a normal day's due
# addons). The run prices random reads as PostgreSQL advises for SSDs and cached tables.
RUN_RANDOM_PAGE_COST = 1.1


@contextlib.contextmanager
def run_costs():
    """PostgreSQL: the daily run's planner costs on this connection meanwhile."""
    if not is_postgres():
        yield
        return
    database.execute_sql(f"SET random_page_cost = {RUN_RANDOM_PAGE_COST}")
    try:
        yield
    finally:
        try:
            database.execute_sql("RESET random_page_cost")
        except DATABASE_ERRORS:  # a lost connection: its session, and the setting, are gone
            pass


def ids_in(field, ids) -> Expression:
    """`field IN (1, 2, 3)` with the ids written into the SQL as integers.

    The same as `field.in_(ids)` but cheap for the thousands of ids a billing chunk names:
    peewee renders a parameter node per value, which cost more than the query itself."""
    literal = ", ".join(str(int(i)) for i in ids)  # int(): nothing but digits reaches the SQL
    if not literal:
        return SQL("1 = 0")
    return NodeList((field, SQL(f"IN ({literal})")))


def insert_rows(model, columns: tuple[str, ...], rows: list[tuple], *, returning: bool = False,
                batch: int = 512) -> list[int]:
    """Multi-row INSERTs of values already in their database form (cents, ISO dates), with
    one statement per batch size; the new ids in row order when `returning`. On PostgreSQL,
    from COPY_ROWS rows on, one COPY instead (`copy_rows`).

    The fast path for bulk writes: peewee's insert_many builds and renders a node per value,
    which was most of the daily run's time at a million services."""
    names = [model._meta.fields[c].column_name if c in model._meta.fields else c for c in columns]
    if is_postgres() and len(rows) >= COPY_ROWS and not (returning and "id" in names):
        return copy_rows(model._meta.table_name, names, rows, returning=returning)
    mark = "%s" if is_postgres() else "?"
    one_row = "(" + ", ".join([mark] * len(columns)) + ")"
    quoted = ", ".join(f'"{name}"' for name in names)
    head = f'INSERT INTO "{model._meta.table_name}" ({quoted}) VALUES '

    tail = ' RETURNING "id"' if returning else ""
    statements: dict[int, str] = {}
    ids: list[int] = []
    start = 0
    for size in _batch_sizes(len(rows), batch):
        chunk = rows[start:start + size]
        start += size
        sql = statements.get(size)
        if sql is None:
            sql = statements[size] = head + ", ".join([one_row] * size) + tail
        # chain: the batch's values flattened at C speed (a comprehension cost a tenth)
        cursor = database.execute_sql(sql, list(chain.from_iterable(chunk)))
        if returning:  # RETURNING's row order is not promised; ids are issued in row order
            ids.extend(sorted(row[0] for row in cursor.fetchall()))
    return ids


def next_id(model) -> int | None:
    """The id the next row inserted into `model`'s table will most likely get: certain on
    SQLite inside a write transaction (the largest id plus one), a guess on PostgreSQL (the
    sequence's next value, which another connection may take first; None without one)."""
    table = model._meta.table_name
    if is_postgres():
        sequence = database.execute_sql("SELECT pg_get_serial_sequence(%s, 'id')",
                                        (f'"{table}"',)).fetchone()[0]
        if sequence is None:
            return None
        sql = f"SELECT last_value + CASE WHEN is_called THEN 1 ELSE 0 END FROM {sequence}"
    else:
        sql = f'SELECT COALESCE(MAX("id"), 0) + 1 FROM "{table}"'
    return database.execute_sql(sql).fetchone()[0]


def _batch_sizes(count: int, batch: int):
    """Rows per statement: `batch` at a time, the rest in powers of two. The driver keeps
    each statement it prepared (about half a megabyte for 500 rows of ten columns), so a
    statement for every odd remainder filled its cache: 50 MB of a daily run's peak memory;
    these few sizes are prepared once and used again."""
    whole, rest = divmod(count, batch)
    yield from [batch] * whole
    size = 1 << max(rest.bit_length() - 1, 0)
    while rest:
        if size <= rest:
            yield size
            rest -= size
        size >>= 1


COPY_ROWS = 50  # below this many rows an INSERT costs no more than a COPY


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if type(value) is bytes:  # BYTEA's hex form, its backslash escaped for COPY
        return "\\\\x" + value.hex()
    return _copy_escaped(str(value))


def _copy_escaped(text: str) -> str:
    # COPY's escapes, by str.replace (C speed; str.translate with a dict looks up every
    # character in Python: 40 µs for an email body). The backslash goes first.
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if "\t" in text or "\n" in text or "\r" in text:
        text = text.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


_COPY_SPECIALS = ("\\", "\t", "\n", "\r")
_COPY_BOOLEANS = {True: "t", False: "f"}


def _copy_column(values: tuple) -> list[str] | tuple:
    """One column's values as COPY text: a column of plain integers, or of text with nothing
    to escape, is converted whole at C speed; any other column value by value."""
    kinds = set(map(type, values))
    if kinds == {int}:
        return list(map(str, values))
    if kinds == {bool}:
        return list(map(_COPY_BOOLEANS.__getitem__, values))
    if kinds == {type(None)}:
        return ["\\N"] * len(values)
    if kinds == {str}:  # escaped all at once, the values joined by a NUL (never in text)
        joined = "\0".join(values)
        if not any(special in joined for special in _COPY_SPECIALS):
            return values
        texts = _copy_escaped(joined).split("\0")
        if len(texts) == len(values):
            return texts
    return list(map(_copy_value, values))


def copy_rows(table: str, columns: list[str], rows: list[tuple], *,
              returning: bool = False) -> list[int]:
    """PostgreSQL: write `rows` with one `COPY ... FROM STDIN` (text format) in the current
    transaction; with `returning`, ids are drawn from the table's sequence first and written
    with the rows, so they come back in row order like `insert_rows`'s.

    COPY skips the parsing and planning of an INSERT per batch: it was most of the cost of
    the daily run's writes on PostgreSQL."""
    ids: list[int] = []
    if returning:
        cursor = database.execute_sql(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            (f'"{table}"', len(rows)))
        ids = sorted(row[0] for row in cursor.fetchall())
        columns = ["id", *columns]
        rows = [(new_id, *row) for new_id, row in zip(ids, rows)]
    text = "\n".join(map("\t".join, zip(*map(_copy_column, zip(*rows))))) + "\n"
    names = ", ".join(f'"{name}"' for name in columns)
    with peewee_errors:  # a unique violation is peewee's IntegrityError, as from an INSERT
        cursor = database.cursor()
        cursor.copy_expert(f'COPY "{table}" ({names}) FROM STDIN', io.StringIO(text))
    return ids


def write_transaction():
    """One short write transaction (IMMEDIATE on SQLite, so it waits for the lock up front)."""
    return database.atomic()


def with_retry(fn, *, attempts: int = 5, pause: float = 0.2):
    """Run ``fn`` and retry it when the database reports a transient lock.

    After the bound is reached the error propagates with a clear message.
    """
    for attempt in range(1, attempts + 1):
        try:
            return fn()
        except OperationalError as exc:
            text = str(exc).lower()
            transient = "locked" in text or "busy" in text or "could not serialize" in text
            if not transient or attempt == attempts:
                raise OperationalError(
                    f"the database stayed busy after {attempt} tries: {exc}"
                ) from exc
            time.sleep(pause * attempt)
    raise AssertionError("unreachable")


def database_error_text(exc: BaseException) -> str:
    """The first real cause of a database error (SQLite rolls back by itself on a full disk,
    and the rollback that follows then fails with "no transaction is active")."""
    seen = exc
    while seen is not None and "no transaction is active" in str(seen):
        seen = seen.__context__
    return str(seen or exc)


@contextlib.contextmanager
def connection():
    """Open a connection for this thread if none is open; close it afterwards if we opened it."""
    opened = database.connect(reuse_if_open=True)
    try:
        yield database
    finally:
        if opened:
            database.close()
