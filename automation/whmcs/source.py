"""Reading a WHMCS database: a read-only MySQL/MariaDB session, rows as dicts (the large
tables as named tuples, `Source.select`).

The connection never writes: the session is READ ONLY (the server refuses any write), and
only SELECTs are sent. Hosts are told to give the importer a user with SELECT only, too.
"""

import threading
from collections import namedtuple
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache, partial
from urllib.parse import unquote, urlparse

from hostdesk.automation.whmcs import values as v
from hostdesk.models.errors import ValidationError


ROWS_PER_PACKET = 200
_NULL = "\x1e"  # what the server sends for NULL (see Source._select)


@lru_cache(maxsize=64)
def _row_type(names: tuple[str, ...]):
    return namedtuple("Row", names)


def _column(column: tuple, kind: str, nulls: bool):
    """One column of a packet's rows converted as its kind says (see Source._select)."""
    if nulls and _NULL in column:
        column = [None if f == _NULL else f for f in column]
    if kind == "i":
        if None in column or "" in column:
            return [int(f) if f else 0 for f in column]
        return list(map(int, column))
    if kind == "t":
        if None in column:
            column = ["" if f is None else f for f in column]
        return list(map(str.strip, column))
    if kind == "c":
        return list(map(v.cents_or_text, column))
    return column


class _FairLock:
    """A lock given in the order asked. threading.Lock is not: the prefetch's reader, asking
    again at once for its next large read, kept a step's small query waiting behind all of
    them."""

    def __init__(self):
        self._turns = threading.Condition()
        self._asked = 0  # tickets given
        self._served = 0  # the ticket whose turn it is

    def __enter__(self):
        with self._turns:
            ticket, self._asked = self._asked, self._asked + 1
            self._turns.wait_for(lambda: self._served == ticket)

    def __exit__(self, *exc):
        with self._turns:
            self._served += 1
            self._turns.notify_all()


class SourceError(Exception):
    """The WHMCS database cannot be read (driver missing, connection refused, not WHMCS)."""


def parse_url(url: str) -> dict:
    parsed = urlparse(url or "")
    if parsed.scheme not in ("mysql", "mariadb") or not parsed.hostname \
            or not parsed.path.strip("/"):
        raise ValidationError("--from", "use mysql://USER:PASSWORD@HOST:PORT/DATABASE")
    return {"host": parsed.hostname, "port": parsed.port or 3306,
            "user": unquote(parsed.username or ""), "password": unquote(parsed.password or ""),
            "database": unquote(parsed.path.strip("/"))}


class Source:
    """One read-only session on the WHMCS database."""

    def __init__(self, url: str):
        try:
            import pymysql
            import pymysql.cursors
        except ImportError:
            raise SourceError("reading WHMCS needs PyMySQL: "
                              "pip install 'hostdesk[whmcs]'") from None
        params = parse_url(url)
        try:
            self.conn = pymysql.connect(**params, charset="utf8mb4", autocommit=False,
                                        connect_timeout=10)
        except pymysql.MySQLError as exc:
            raise SourceError(f"cannot connect to {params['host']}:{params['port']}"
                              f"/{params['database']}: {exc.args[-1]}") from None
        self.database = params["database"]
        with self.conn.cursor() as cur:
            cur.execute("SET SESSION TRANSACTION READ ONLY")
            cur.execute("SET SESSION group_concat_max_len = 1073741824")  # see select()
            # One consistent snapshot for the whole import: rows read later in the run see
            # the same database as rows read first, even while WHMCS keeps working.
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        self._pymysql = pymysql
        self._lock = _FairLock()  # one query at a time on the connection
        self._pending = {}  # select() arguments -> Future of its rows (prefetch)
        self._fetching = []  # Futures of the prefetch's reads (each split by a pending one)

    def prefetch(self, calls: list[tuple]) -> None:
        """Start reading these select() calls on a background thread, in order; a call given
        as ("rows", sql, args) prefetches that rows() query instead.

        A select() is fetched on one thread and its text split into rows on another, so the
        server works on the next query while this process converts the last one."""
        fetching = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whmcs-read")
        splitting = ThreadPoolExecutor(max_workers=1, thread_name_prefix="whmcs-split")
        for call in calls:
            if call[0] == "rows":
                key = self._rows_key(*call[1:])
                if key not in self._pending:
                    self._pending[key] = fetching.submit(self._rows, *call[1:])
                continue
            key = self._key(*call)
            if key not in self._pending:
                fetched = fetching.submit(self._fetch, *call)
                self._fetching.append(fetched)
                self._pending[key] = splitting.submit(lambda f=fetched: self._split(*f.result()))
        fetching.shutdown(wait=False)
        splitting.shutdown(wait=False)

    @staticmethod
    def _key(source, columns, where="", args=None, order="id") -> tuple:
        return source, columns, where, tuple(args or ()), order

    @staticmethod
    def _rows_key(sql: str, args=None) -> tuple:
        return "rows", sql, tuple(args or ())

    def rows(self, sql: str, args=None) -> list[dict]:
        future = self._pending.pop(self._rows_key(sql, args), None)
        if future is not None:
            return future.result()
        return self._rows(sql, args)

    def _rows(self, sql: str, args=None) -> list[dict]:
        try:
            with self._lock, self.conn.cursor(self._pymysql.cursors.DictCursor) as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        except self._pymysql.MySQLError as exc:
            raise SourceError(f"reading WHMCS failed: {exc.args[-1]}") from None

    def select(self, source: str, columns: str, where: str = "", args=None,
               order: str = "id") -> list[dict]:
        future = self._pending.pop(self._key(source, columns, where, args, order), None)
        if future is not None:
            return future.result()
        return self._select(source, columns, where, args, order)

    def _select(self, source: str, columns: str, where: str = "", args=None,
                order: str = "id") -> list[dict]:
        return self._split(*self._fetch(source, columns, where, args, order))

    def _fetch(self, source: str, columns: str, where: str = "", args=None,
               order: str = "id") -> tuple:
        """Read rows of `columns` for `_split` to make named tuples of (`row.name`): the fast
        path for large tables.

        `columns` is space separated: `name`, `alias.name`, `name=EXPRESSION` (without
        spaces), each with an optional kind: `:i` an integer (0 for NULL or empty), `:t` text
        as `values.text` gives it (stripped, "" for NULL), `:c` integer cents as
        `values.cents` gives them (a value it refuses stays as read, for the step to name);
        without a kind, text or None. `order` must be an integer key (the id).

        The pure-Python driver spends its time per field and per packet, so the server
        hands the rows over as few long text values: ROWS_PER_PACKET rows' fields joined by
        U+001F, with the number of rows. A packet is split once and taken a column at a time
        (every width-th field: C loops, slices, map and zip), not row by row."""
        names, kinds, parts = [], [], []
        for spec in columns.split():
            spec, _, kind = spec.rpartition(":") if spec[-2:] in (":i", ":t", ":c") \
                else (spec, "", "")
            name, _, expression = spec.partition("=") if "=" in spec.split("(")[0] \
                else (spec.split(".")[-1], "", spec)
            names.append(name)
            kinds.append(kind)
            parts.append(f"IFNULL({expression}, CHAR(30 USING utf8mb4))")
        row_text = f"CONCAT_WS(CHAR(31 USING utf8mb4), {', '.join(parts)})"
        sql = (f"SELECT COUNT(*), GROUP_CONCAT(r ORDER BY k SEPARATOR '\x1f') FROM "
               f"(SELECT {order} AS k, {row_text} AS r FROM {source} {where}) rows_ "
               f"GROUP BY k DIV {ROWS_PER_PACKET} ORDER BY k DIV {ROWS_PER_PACKET}")
        try:
            with self._lock, self.conn.cursor() as cur:
                cur.execute(sql, args)
                packets = cur.fetchall()
        except self._pymysql.MySQLError as exc:
            raise SourceError(f"reading WHMCS failed: {exc.args[-1]}") from None
        return source, names, kinds, packets

    @staticmethod
    def _split(source: str, names: list, kinds: list, packets) -> list:
        """The rows of `_fetch`'s packets, as named tuples."""
        width, result = len(names), []
        make_row = partial(tuple.__new__, _row_type(tuple(names)))  # C speed, as _make
        for count, packet in packets:
            fields = packet.split("\x1f")
            if len(fields) != count * width:
                raise SourceError(f"{source}: a row holds the character U+001F; "
                                  "remove it in WHMCS and import again")
            nulls = _NULL in packet
            columns = [_column(fields[i::width], kind, nulls) for i, kind in enumerate(kinds)]
            result.extend(map(make_row, zip(*columns)))
        return result

    def table(self, name: str, columns: str = "*", where: str = "", args=None) -> list[dict]:
        return self.rows(self.table_sql(name, columns, where), args)

    @staticmethod
    def table_sql(name: str, columns: str = "*", where: str = "") -> str:
        return f"SELECT {columns} FROM `{name}` {where} ORDER BY id"

    def has_table(self, name: str) -> bool:
        return bool(self.rows("SELECT 1 AS x FROM information_schema.tables "
                              "WHERE table_schema = DATABASE() AND table_name = %s", (name,)))

    def close(self) -> None:
        futures = [*self._pending.values(), *self._fetching]
        for future in futures:  # a step failed before using them
            future.cancel()
        for future in futures:  # the connection is closed once none is reading
            if not future.cancelled():
                future.exception()
        self._pending.clear()
        self._fetching.clear()
        try:
            self.conn.rollback()
        finally:
            self.conn.close()
