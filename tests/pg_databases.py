"""Fresh PostgreSQL databases for the tests, made from the migrated template and used again.

A CREATE DATABASE copies the template's ten megabytes (its system catalogues, mostly) through
the write-ahead log: about a quarter of a CPU second of the server's, for each of the suite's
hundreds of PostgreSQL tests, more than the tests themselves spent there. So a test's
database is emptied after it and handed to the next test of the same worker, as fresh as a
copy: every table holds what the template holds, every sequence starts where the template's
does, the planner's statistics and the activity counters are reset. A database whose shape a
test changed (a table, column, index, trigger, privilege, setting...) is dropped instead, as
is one that cannot be emptied at once; the next test then gets a new copy.
"""

from __future__ import annotations

import itertools
import os
import time
from contextlib import closing

import psycopg2

# Everything a test may change besides rows, as one hash: its change means "drop, don't reuse".
SHAPE_SQL = """
SELECT md5(string_agg(part, '|' ORDER BY part)) FROM (
  SELECT 'n ' || nspname || coalesce(nspacl::text, '') AS part FROM pg_namespace
   WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'
  UNION ALL
  SELECT 'c ' || n.nspname || '.' || c.relname || ' ' || c.relkind::text || ' '
         || coalesce(c.relacl::text, '') || ' ' || c.relrowsecurity::text
         || coalesce(' ' || pg_get_viewdef(c.oid), '')
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
  UNION ALL
  SELECT 'a ' || a.attrelid::regclass::text || '.' || a.attname || ' '
         || format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull::text || ' '
         || a.attisdropped::text || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0
  UNION ALL
  SELECT 'i ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
   WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'k ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  UNION ALL
  SELECT 't ' || tgrelid::regclass::text || ' ' || tgname || ' ' || tgenabled::text
    FROM pg_trigger
  UNION ALL
  SELECT 'q ' || s.relname || ' ' || q.seqincrement::text || ' ' || q.seqstart::text || ' '
         || q.seqmin::text || ' ' || q.seqmax::text || ' ' || q.seqcycle::text || ' '
         || coalesce(d.refobjid::regclass::text || '.' || d.refobjsubid::text, 'not owned')
    FROM pg_class s JOIN pg_sequence q ON q.seqrelid = s.oid
    LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
                         AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
   WHERE s.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT 'r ' || ev_class::regclass::text || ' ' || rulename FROM pg_rewrite WHERE rulename <> '_RETURN'
  UNION ALL
  SELECT 'p ' || pronamespace::regnamespace::text || '.' || proname || ' ' || md5(prosrc)
    FROM pg_proc WHERE pronamespace NOT IN ('pg_catalog'::regnamespace,
                                             'information_schema'::regnamespace)
  UNION ALL
  SELECT 'e ' || extname || ' ' || extversion FROM pg_extension
  UNION ALL
  SELECT 'da ' || defaclrole::text || ' ' || defaclacl::text FROM pg_default_acl
  UNION ALL
  SELECT 's ' || setrole::text || ' ' || array_to_string(setconfig, ';') FROM pg_db_role_setting
   WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
  UNION ALL
  SELECT 'd ' || datconnlimit::text || ' ' || datallowconn::text || ' ' || coalesce(datacl::text, '')
    FROM pg_database WHERE datname = current_database()
) AS shape"""

OTHER_SESSIONS = ("FROM pg_stat_activity WHERE datname = current_database() "
                  "AND pid <> pg_backend_pid()")
SESSIONS_GONE_SECONDS = 5.0
_NUMBERS = itertools.count(1)  # database names, unique in this process


class TestDatabases:
    """The databases of one test worker's PostgreSQL tests (see the module docstring)."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, server, template: str):
        self.server = server
        self.template = template
        self.idle: list[str] = []
        with closing(server.connect(template)) as conn, conn.cursor() as cur:
            self.shape = _one(cur, SHAPE_SQL)
            cur.execute("SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'")
            self.tables = [name for (name,) in cur.fetchall()]
            cur.execute("SELECT quote_ident(sequencename), coalesce(last_value, start_value), "
                        "last_value IS NOT NULL FROM pg_sequences WHERE schemaname = 'public'")
            self.sequences = cur.fetchall()
            cur.execute("SELECT oid, reltuples, relpages, relallvisible FROM pg_class "
                        "WHERE relnamespace = 'public'::regnamespace")
            self.restore_sizes = (
                "UPDATE pg_class SET reltuples = v.tuples, relpages = v.pages, relallvisible = "
                "v.visible FROM (VALUES " + ", ".join(
                    f"({oid}::oid, {tuples}::real, {pages}, {visible})"
                    for oid, tuples, pages, visible in cur.fetchall())
                + ") AS v (oid, tuples, pages, visible) WHERE pg_class.oid = v.oid")
            self.rows = {}
            for table in self.tables:
                cur.execute(f"SELECT * FROM {table}")
                if cur.rowcount:
                    self.rows[table] = cur.fetchall()

    def take(self) -> str:
        """The name of a database as fresh as a copy of the template."""
        if self.idle:
            return self.idle.pop()
        name = f"test_{os.getpid()}_{next(_NUMBERS)}"
        self.server.admin_sql(f"CREATE DATABASE {name} TEMPLATE {self.template}")
        return name

    def give_back(self, name: str) -> None:
        """After the test: emptied for the next one, or dropped."""
        try:
            if self._emptied(name):
                self.idle.append(name)
                return
        except psycopg2.Error:
            pass
        self.server.admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def _emptied(self, name: str) -> bool:
        conn = self.server.connect(name)
        try:
            with conn.cursor() as cur:
                if not _sessions_ended(cur) or _one(cur, SHAPE_SQL) != self.shape:
                    return False
                conn.autocommit = False
                cur.execute("SET LOCAL lock_timeout = '2s'")
                cur.execute("SET LOCAL session_replication_role = replica")  # no trigger fires
                cur.execute("".join(f"DELETE FROM {table};" for table in self.tables))
                for table, rows in self.rows.items():
                    marks = ", ".join(["%s"] * len(rows[0]))
                    cur.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
                cur.execute("".join(f"SELECT setval('public.{sequence}', {value}, {called});"
                                    for sequence, value, called in self.sequences))
                # What a new copy does not know yet: the planner's statistics, the counters.
                cur.execute("DELETE FROM pg_statistic WHERE starelid IN "
                            "(SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)")
                cur.execute(self.restore_sizes)
                cur.execute("SELECT pg_stat_reset()")
            conn.commit()
            return True
        finally:
            conn.close()


def _one(cur, sql: str):
    cur.execute(sql)
    return cur.fetchone()[0]


def _sessions_ended(cur) -> bool:
    """Ends the test's leftover sessions (threads, child processes); whether they are gone."""
    cur.execute(f"SELECT pg_terminate_backend(pid) {OTHER_SESSIONS}")
    deadline = time.monotonic() + SESSIONS_GONE_SECONDS
    while _one(cur, f"SELECT count(*) {OTHER_SESSIONS}"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True
