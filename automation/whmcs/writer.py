"""Writing mapped rows: new ones in bulk, changed ones updated, unchanged ones left alone,
each remembered in the import map so a rerun never adds a row twice."""

import hashlib
import marshal
from dataclasses import dataclass, field, replace
from functools import partial
from itertools import chain, repeat
from operator import itemgetter, methodcaller

from peewee import IntegrityError

from hostdesk.models.db import database, ids_in, insert_rows
from hostdesk.models.schema import ImportMap, ImportTable

SOURCE = "whmcs"
BATCH = 5000
MAP_COLUMNS = ("source_table", "source_id", "target_id", "digest")
# A first import's tables whose rows' digests the importing side makes as it plans them,
# rather than the writer: the invoices, their lines and payments keep the writer busier
# than the mapping (the clients, orders and services the other way round).
DIGESTED_WHEN_PLANNED = frozenset({"invoice", "invoice_line", "payment", "credit_entry"})


_hash12 = partial(hashlib.blake2b, digest_size=12)
_digest = methodcaller("digest")


def digest(values: tuple, _dumps=marshal.dumps, _hash=hashlib.blake2b) -> bytes:
    """A short fingerprint of a row's values (text, numbers, booleans, None): 12 bytes."""
    try:
        # version 2: no back-references or interned-string marks, so equal values always give
        # equal bytes (C speed; repr() cost a tenth of an import)
        data = _dumps(values, 2)
    except ValueError:
        data = repr(values).encode()
    return _hash(data, digest_size=12).digest()


def digest_all(rows, columns: tuple[str, ...]) -> list[bytes]:
    """`digest` of each of `rows` (created_at left out, as `plan` compares), at C speed: no
    Python call per row."""
    if "created_at" in columns:
        stamp = columns.index("created_at")
        kept = [i for i in range(len(columns)) if i != stamp]
        rows = list(map(itemgetter(*kept), rows)) if len(kept) > 1 else \
            [(row[kept[0]],) for row in rows]
    try:
        return list(map(_digest, map(_hash12, map(marshal.dumps, rows, repeat(2)))))
    except ValueError:  # a value marshal cannot write: digest() takes each row in turn
        return [digest(row) for row in rows]


class IdMap:
    """(WHMCS table, id) -> (hostdesk id, digest of the values last written).

    `numbered`: hostdesk tables known to be empty (a first import loaded in bulk, one
    transaction) whose ids the import gives itself, 1, 2, 3... in the order it writes them,
    as SQLite would: a row's id is known as soon as it is mapped, so the rows that point at it
    are mapped without waiting for the writer, and the writer only inserts. Those tables'
    rows are kept as source id -> hostdesk id only (`numbered_ids`): the digests are written
    to the import map and compared by the next run, never by this one.

    Read and kept by the importing side only: the writer (another thread or process) answers
    the ids of the rows it inserted, and `record` adds them here."""

    def __init__(self, *, numbered: tuple[str, ...] = ()):
        self.tables: dict[str, dict[str, tuple[int, str]]] = {}
        self.empty = bool(numbered)  # the import map holds no row yet: nothing to read
        self.next_id = {table: 1 for table in numbered}
        self._ids: dict[str, dict[str, int]] = {}  # ids() as last built (a row keeps its id)
        self._numbered: set[str] = set()  # source tables whose rows were numbered

    def of(self, table: str) -> dict[str, tuple[int, bytes]]:
        if table not in self.tables and self.empty:
            self.tables[table] = {}
        elif table not in self.tables:
            code = table_code(table)
            rows = () if code is None else (
                ImportMap.select(ImportMap.source_id, ImportMap.target_id, ImportMap.digest)
                .where(ImportMap.source_table == code).tuples())
            # bytes(): PostgreSQL's driver hands a BYTEA back as a memoryview
            self.tables[table] = {source_id: (target, bytes(dig))
                                  for source_id, target, dig in rows}
        return self.tables[table]

    def ids(self, table: str) -> dict[str, int]:
        """source id -> hostdesk id (read only: shared by the steps that ask)."""
        if table in self._numbered:
            return self._ids[table]
        known = self.of(table)
        built = self._ids.get(table)
        if built is None or len(built) != len(known):  # rows are only ever added
            built = self._ids[table] = {key: target for key, (target, _) in known.items()}
        return built

    def numbered_ids(self, table: str) -> dict[str, int]:
        """source id -> hostdesk id of a table whose rows a first import numbers, for
        `_plan_numbered` to add to."""
        if table not in self._numbered:
            if self.of(table):
                raise ValueError(f"{table}: rows are numbered in a first import only")
            self._numbered.add(table)
            self._ids[table] = {}
        return self._ids[table]


def table_code(table: str, *, create: bool = False) -> int | None:
    """The number the import map names `table` by; None when it has none yet (then nothing
    of it is mapped), or with `create`, a new one (inside the caller's transaction: the
    writer's). One query per batch: cheaper than a cache that a rolled-back import leaves
    wrong."""
    mark = database.obj.param
    row = database.execute_sql(f'SELECT "id" FROM "import_table" WHERE "source" = {mark} '
                               f'AND "name" = {mark}', (SOURCE, table)).fetchone()
    if row is None and create:
        return ImportTable.create(source=SOURCE, name=table).id
    return None if row is None else row[0]


@dataclass
class Plan:
    """What a batch of rows needs written (see `plan`): plain values, so that it may be
    handed to a writer in another process."""

    new: list  # (source id, values, digest) of rows to insert; numbered: values only
    changed: list  # (source id, hostdesk id, values, digest) of rows to update
    result: dict  # source id -> hostdesk id, of every row known or numbered
    first: int | None = None  # numbered: the id of the first new row (then 2nd, 3rd...)
    columns: tuple = ()  # numbered: the columns of the values
    source_ids: tuple = ()  # numbered: the source id of each new row
    gone: list = field(default_factory=list)  # (source id, hostdesk id) of rows to delete
    digests: list = field(default_factory=list)  # numbered: made by `plan` (DIGESTED_WHEN_PLANNED)

    def to_write(self) -> "Plan":
        """What the writer needs of it (`write_planned`): the id map stays on this side."""
        return replace(self, result={})

    # Sent to a writer process, its rows travel as one marshal string: pickle memoizes every
    # tuple and text of them, which cost both processes a tenth of their Python time.
    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        rows = (state.pop("new"), state.pop("changed"), state.pop("source_ids"),
                state.pop("digests"))
        try:
            state["rows"] = marshal.dumps(rows, 4)
        except ValueError:  # a value marshal cannot write: pickled as it is
            return self.__dict__
        return state

    def __setstate__(self, state: dict) -> None:
        if "rows" in state:
            state = dict(state)
            (state["new"], state["changed"], state["source_ids"],
             state["digests"]) = marshal.loads(state.pop("rows"))
        self.__dict__.update(state)


def sync(idmap: IdMap, counts, table: str, model, columns: tuple[str, ...],
         rows: list[tuple[str, tuple]], *, delete_missing: bool = False) -> dict[str, int]:
    """Write `rows` — (source id, values in `columns` order, database form) — into `model`,
    here and now (inside the caller's transaction). Returns source id -> hostdesk id for
    every row given."""
    return write_plan(idmap, counts, table, model, columns,
                      plan(idmap, counts, table, model, columns, rows,
                           delete_missing=delete_missing))


def plan(idmap: IdMap, counts, table: str, model, columns: tuple[str, ...],
         rows: list[tuple[str, tuple]], *, delete_missing: bool = False) -> Plan:
    """What `rows` need: the new rows, the changed ones, and source id -> hostdesk id of the
    known ones (and of the new ones, where the import numbers `model`'s rows itself); with
    `delete_missing`, the rows imported before that `rows` no longer has.

    Reads the import map only, so it may run while the writer writes an earlier batch of
    the same table (other source ids)."""
    name = model._meta.table_name
    if idmap.empty and name in idmap.next_id:
        return _plan_numbered(idmap, table, name, model, columns, rows)
    known = idmap.of(table)
    new, changed, result = [], [], {}
    # created_at is set once (and may fall back to the import's own time): not compared
    stamp = columns.index("created_at") if "created_at" in columns else None
    found, add = None, new.append
    for source_id, values in rows:
        dig = digest(values if stamp is None else values[:stamp] + values[stamp + 1:])
        if known:
            found = known.get(source_id)
        if found is None:
            add((source_id, values, dig))
        else:
            result[source_id] = found[0]
            if found[1] != dig:
                changed.append((source_id, found[0], values, dig))
            else:
                counts.unchanged += 1
    gone = []
    if delete_missing:
        given = {source_id for source_id, _ in rows}
        gone = [(source_id, target) for source_id, (target, _) in known.items()
                if source_id not in given]
    return Plan(new, changed, result, gone=gone)


def _plan_numbered(idmap: IdMap, table: str, name: str, model, columns: tuple[str, ...],
                   rows: list[tuple[str, tuple]]) -> Plan:
    """A first import's batch: every row is new (the import map was empty and a source id
    comes once), numbered here, in bulk operations rather than row by row (this ran for every
    row of an import). A source id given twice is refused at the end of the load by the
    import map's unique index. The digests are the writer's to make (`write_planned`), but
    for DIGESTED_WHEN_PLANNED's tables."""
    if not rows:
        return Plan([], [], {})
    source_ids, values = zip(*rows)
    first = idmap.next_id[name]
    idmap.next_id[name] = first + len(rows)
    result = dict(zip(source_ids, range(first, first + len(rows))))
    idmap.numbered_ids(table).update(result)
    return Plan(values, [], result, first=first, columns=columns, source_ids=source_ids,
                digests=digest_all(values, columns) if name in DIGESTED_WHEN_PLANNED else [])


def write_plan(idmap: IdMap, counts, table: str, model, columns: tuple[str, ...],
               planned: Plan) -> dict[str, int]:
    """Write a `plan` here and now and `record` it; returns its id map."""
    return record(idmap, counts, table, planned,
                  write_planned(table, model, columns, planned))


def write_planned(table: str, model, columns: tuple[str, ...], planned: Plan) -> list[int]:
    """The writer's part of a `plan`, in the caller's transaction: insert the new rows and
    their import map, update the changed ones, delete the gone ones. Returns the ids the
    database gave the new rows (none when the plan numbered them)."""
    new, changed = planned.new, planned.changed
    batch = max(1, min(500, 30000 // (len(columns) + 1)))
    ids = []
    if planned.first is not None:
        code = table_code(table, create=True)
        _insert_numbered(model, columns, new, planned.first, batch)
        targets = range(planned.first, planned.first + len(new))
        maps = list(zip(planned.source_ids, targets,
                        planned.digests or digest_all(new, columns)))
        _insert_numbered(ImportMap, MAP_COLUMNS[1:], maps, None, 500,
                         literal={"source_table": code})
    elif new:
        extra, defaults = _defaults(model, columns)
        ids = insert_rows(model, columns + extra, [values + defaults for _, values, _ in new],
                          returning=True, batch=batch)
        code = table_code(table, create=True)
        insert_rows(ImportMap, MAP_COLUMNS, [(code, source_id, target, dig)
                                             for (source_id, _, dig), target in zip(new, ids)])
    if changed:
        _update(model, columns, changed, table_code(table))
    if planned.gone:
        _delete(table, model, planned.gone)
    return ids


def record(idmap: IdMap, counts, table: str, planned: Plan, ids: list[int]) -> dict[str, int]:
    """What the writer wrote of a `plan` (`ids`: of its new rows), added to the import map
    as the importing side keeps it and to the report's counts; returns the plan's id map."""
    counts.imported += len(planned.new)
    counts.updated += len(planned.changed)
    if planned.first is not None:
        return planned.result
    known, result = idmap.of(table), planned.result
    for (source_id, _, dig), target in zip(planned.new, ids):
        known[source_id] = (target, dig)
        result[source_id] = target
    for source_id, target, _, dig in planned.changed:
        known[source_id] = (target, dig)
    for source_id, _ in planned.gone:
        del known[source_id]
    return result


def _delete(table: str, model, gone: list) -> None:
    """Delete the rows imported from `table` that the source no longer has."""
    code = table_code(table)
    for start in range(0, len(gone), 500):
        chunk = gone[start:start + 500]
        model.delete().where(ids_in(model.id, [t for _, t in chunk])).execute()
        ImportMap.delete().where(
            (ImportMap.source_table == code)
            & ImportMap.source_id.in_([s for s, _ in chunk])).execute()


def _insert_numbered(model, columns: tuple[str, ...], rows, first: int | None, batch: int,
                     literal: dict | None = None) -> None:
    """Insert `rows` (values in `columns` order) into an empty table of a first import as
    they are, letting SQLite give them the ids `plan` numbered them with (its next rowid is
    one more than the largest: 1, 2, 3... in the order written); the ids are checked.

    The model's defaults for the other columns, and the `literal` column -> value (the
    import map's source and table), are written into the statement, not with each row:
    nothing per row is built for the database."""
    literal = literal or {}
    extra, defaults = _defaults(model, columns)
    names = [model._meta.fields[c].column_name for c in (*literal, *columns, *extra)]
    fixed = [_sql_literal(x) for x in (*literal.values(), *defaults)]
    head = (f'INSERT INTO "{model._meta.table_name}" ('
            + ", ".join(f'"{n}"' for n in names) + ") VALUES ")
    marks = ["?"] * len(columns)
    one_row = "(" + ", ".join(fixed[:len(literal)] + marks + fixed[len(literal):]) + ")"
    statements: dict[int, str] = {}
    cursor = None
    for start in range(0, len(rows), batch):
        chunk = rows[start:start + batch]
        sql = statements.get(len(chunk))
        if sql is None:
            sql = statements[len(chunk)] = head + ", ".join([one_row] * len(chunk))
        cursor = database.execute_sql(sql, list(chain.from_iterable(chunk)))
    if first is not None and cursor is not None and cursor.lastrowid != first + len(rows) - 1:
        # the load is refused (and rolled back) like any row the database refuses
        raise IntegrityError(f"{model._meta.table_name}: rows were numbered from {first} but "
                           f"SQLite gave the last one id {cursor.lastrowid}")


def _sql_literal(value) -> str:
    if value is True or value is False:
        return "1" if value else "0"
    if type(value) is int:
        return str(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {value!r}")


def _defaults(model, columns) -> tuple[tuple, tuple]:
    """The columns the importer does not set, with the model's defaults (a raw INSERT does
    not apply peewee's defaults)."""
    names, values = [], []
    for f in model._meta.sorted_fields:
        if f.name in columns or f.name == "id" or f.default is None:
            continue
        names.append(f.name)
        values.append(f.db_value(f.default() if callable(f.default) else f.default))
    return tuple(names), tuple(values)


def _update(model, columns, changed, table_code: int) -> None:
    fields = model._meta.fields
    kept = [i for i, c in enumerate(columns) if c not in ("version", "created_at")]
    names = [fields[columns[i]].column_name for i in kept]
    mark = database.obj.param
    sets = ", ".join(f'"{n}" = {mark}' for n in names)
    if "version" in fields:  # an edit open on the screen is refused as stale, not overwritten
        sets += ', "version" = "version" + 1'
    sql = f'UPDATE "{model._meta.table_name}" SET {sets} WHERE "id" = {mark}'
    map_sql = (f'UPDATE "import_map" SET "digest" = {mark} WHERE "table_id" = {mark} '
               f'AND "source_id" = {mark}')
    for source_id, target, values, dig in changed:
        database.execute_sql(sql, [*(values[i] for i in kept), target])
        database.execute_sql(map_sql, [dig, table_code, source_id])
