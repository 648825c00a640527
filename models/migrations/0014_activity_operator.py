"""0014: the activity log names the OS account behind each change (`operator`), so a `full`
admin acting as another login is recorded as "X acting as Y"; admin logins are normalised
(NFKC, lower case) as every lookup now normalises the login it is given.

The column has a constant default, so neither engine rewrites the table (it may hold
millions of rows). A login whose normal form another admin already holds is left as it is.
"""
import unicodedata


def up(migrator, db):
    db.execute_sql("ALTER TABLE activity_log ADD COLUMN operator VARCHAR(100) NOT NULL DEFAULT ''")
    rows = db.execute_sql("SELECT id, login FROM admin").fetchall()
    taken = {login for _, login in rows}
    for admin_id, login in rows:
        normal = unicodedata.normalize("NFKC", login).strip().lower()
        if normal != login and normal not in taken:
            mark = db.param
            db.execute_sql(f"UPDATE admin SET login = {mark} WHERE id = {mark}", (normal, admin_id))
            taken.add(normal)


def down(migrator, db):
    migrator.migrate(migrator.drop_column('activity_log', 'operator'))
