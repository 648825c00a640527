"""0020: a product may be of type `server` (issue 15 lists shared, reseller, server, other;
`vps` and `dedicated` stay, WHMCS imports use them).

- PostgreSQL: the CHECK constraint on `product.type` is dropped and added again.
- SQLite cannot alter a CHECK constraint: the table is rebuilt the standard way (create the
  new table, copy the rows, drop the old one, rename the new one, recreate its indexes and
  triggers), inside the migration's transaction with foreign keys off (the runner's SQLite
  migrator turns them off around it). The new table is the old one's own CREATE statement with
  only the CHECK changed, so columns added by any other migration are kept as they are.
"""
from peewee import *
from peewee import PostgresqlDatabase

OLD_TYPES = ("shared", "reseller", "vps", "dedicated", "other")
NEW_TYPES = ("shared", "reseller", "vps", "dedicated", "server", "other")


def _check(types) -> str:
    return "CHECK (type IN (%s))" % ", ".join(f"'{t}'" for t in types)


def up(migrator, db):
    _set_types(db, OLD_TYPES, NEW_TYPES)


def down(migrator, db):
    _set_types(db, NEW_TYPES, OLD_TYPES)


def _set_types(db, old, new):
    if isinstance(db, PostgresqlDatabase):
        _postgres(db, new)
    else:
        _sqlite_rebuild(db, old, new)


def _postgres(db, types):
    names = [name for (name,) in db.execute_sql(
        "SELECT c.conname FROM pg_constraint c JOIN pg_attribute a "
        "ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey) "
        "WHERE c.conrelid = 'product'::regclass AND c.contype = 'c' AND a.attname = 'type'")]
    for name in names:
        db.execute_sql(f'ALTER TABLE product DROP CONSTRAINT "{name}"')
    db.execute_sql(f"ALTER TABLE product ADD CONSTRAINT product_type_check {_check(types)}")


def _sqlite_rebuild(db, old, new):
    # With foreign keys on, DROP TABLE would delete the rows of the tables that cascade
    # from product (prices, options...): never rebuild then.
    if db.execute_sql("PRAGMA foreign_keys").fetchone()[0]:
        raise RuntimeError("product table rebuild needs foreign keys off (run it through "
                           "the migration runner, outside a transaction)")
    (create,) = db.execute_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'product'").fetchone()
    if create.count(_check(old)) != 1:
        raise RuntimeError(f"product table: expected its type check {_check(old)!r}; "
                           "the schema is not the one this migration knows")
    others = [sql for (sql,) in db.execute_sql(
        "SELECT sql FROM sqlite_master WHERE tbl_name = 'product' "
        "AND type IN ('index', 'trigger') AND sql IS NOT NULL")]
    columns = ", ".join(f'"{c.name}"' for c in db.get_columns("product"))
    new_create = create.replace(_check(old), _check(new)).replace(
        'CREATE TABLE "product"', 'CREATE TABLE "product__new"', 1)
    if new_create == create or "product__new" not in new_create:
        raise RuntimeError("product table: could not write its new definition")
    db.execute_sql(new_create)
    db.execute_sql(f'INSERT INTO "product__new" ({columns}) SELECT {columns} FROM "product"')
    count = 'SELECT COUNT(*) FROM "{}"'
    if db.execute_sql(count.format("product__new")).fetchone() != \
            db.execute_sql(count.format("product")).fetchone():
        raise RuntimeError("product table rebuild: the copy lost rows")
    db.execute_sql('DROP TABLE "product"')
    db.execute_sql('ALTER TABLE "product__new" RENAME TO "product"')
    for sql in others:
        db.execute_sql(sql)
    # The ids are copied unchanged, so the rows pointing at products still match; the
    # product's own references are checked.
    broken = db.execute_sql('PRAGMA foreign_key_check("product")').fetchall()
    if broken:
        raise RuntimeError(f"product table rebuild broke foreign keys: {broken[:5]}")
