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
