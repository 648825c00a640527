"""Reading a WHMCS database: a read-only MySQL/MariaDB session, rows as dicts.

The connection never writes: the session is READ ONLY (the server refuses any write), and
only SELECTs are sent. Hosts are told to give the importer a user with SELECT only, too.
"""

from urllib.parse import unquote, urlparse

from models.errors import ValidationError


class SourceError(Exception):
    """The WHMCS database cannot be read (driver missing, connection refused, not WHMCS)."""


def parse_url(url: str) -> dict:
    parsed = urlparse(url or "")
    if parsed.scheme not in ("mysql", "mariadb") or not parsed.hostname or not parsed.path.strip("/"):
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
            raise SourceError("reading WHMCS needs PyMySQL: pip install 'hostdesk[whmcs]'") from None
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
            # One consistent snapshot for the whole import: rows read later in the run see
            # the same database as rows read first, even while WHMCS keeps working.
            cur.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        self._pymysql = pymysql

    def rows(self, sql: str, args=None) -> list[dict]:
        try:
            with self.conn.cursor(self._pymysql.cursors.DictCursor) as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())
        except self._pymysql.MySQLError as exc:
            raise SourceError(f"reading WHMCS failed: {exc.args[-1]}") from None

    def select(self, source: str, columns: str, where: str = "", args=None,
               order: str = "id") -> list[dict]:
        """Rows of `columns` (space separated; `name:i` for an integer, `name=EXPRESSION` without spaces) as
        dicts of text, None and ints: the fast path for large tables.

        The server joins each row into one text value, so the pure-Python driver decodes one
        field per row instead of one per column (which was most of an import's time)."""
        names, integers, parts = [], [], []
        for spec in columns.split():
            spec, _, kind = spec.rpartition(":") if spec.endswith(":i") else (spec, "", "")
            name, _, expression = spec.partition("=") if "=" in spec.split("(")[0] \
                else (spec.split(".")[-1], "", spec)
            names.append(name)
            integers.append(kind == "i")
            parts.append(f"IFNULL({expression}, CHAR(30 USING utf8mb4))")
        sql = (f"SELECT CONCAT_WS(CHAR(31 USING utf8mb4), {', '.join(parts)}) FROM {source} {where} "
               f"ORDER BY {order}")
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, args)
                raw = cur.fetchall()
        except self._pymysql.MySQLError as exc:
            raise SourceError(f"reading WHMCS failed: {exc.args[-1]}") from None
        width, result = len(names), []
        int_positions = [i for i, is_int in enumerate(integers) if is_int]
        for (text,) in raw:
            fields = text.split("\x1f")
            if len(fields) != width:
                raise SourceError(f"{source}: a row holds the character U+001F; remove it "
                                  "in WHMCS and import again")
            if "\x1e" in text:
                fields = [None if f == "\x1e" else f for f in fields]
            for i in int_positions:
                fields[i] = int(fields[i]) if fields[i] else 0
            result.append(dict(zip(names, fields)))
        return result

    def table(self, name: str, columns: str = "*", where: str = "", args=None) -> list[dict]:
        return self.rows(f"SELECT {columns} FROM `{name}` {where} ORDER BY id", args)

    def has_table(self, name: str) -> bool:
        return bool(self.rows("SELECT 1 AS x FROM information_schema.tables "
                              "WHERE table_schema = DATABASE() AND table_name = %s", (name,)))

    def close(self) -> None:
        try:
            self.conn.rollback()
        finally:
            self.conn.close()
