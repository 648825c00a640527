"""`tui/` presents and calls; it holds no transaction, no model write and no query of its own
(issue 14, architecture principle 2). Each user action is one function below `tui/`; each
screen reads through a view function. Read with `ast`, nothing is imported from `tui/`.

What counts:
- a transaction: `.atomic()`, `.transaction()`, `.savepoint()`, `.manual_commit()`;
- a write: `.save()`, `.create()`, `.insert…()`, `.update()`, `.delete…()`, `.replace()`
  on a model class, `.delete_instance()`, `.bulk_create/bulk_update()` anywhere;
- a query: any use of a model class's attributes (`Service.select`, `Invoice.status == …`),
  constructing a model, `.get_by_id/get_or_none/get_or_create/execute/execute_sql/raw()`,
  and any import of peewee or playhouse.
Type annotations may name a model (they run nothing).
"""

import ast
from pathlib import Path

import peewee

ROOT = Path(__file__).resolve().parents[2]
TRANSACTIONS = {"atomic", "transaction", "savepoint", "manual_commit"}
WRITES_ANYWHERE = {"save", "delete_instance", "bulk_create", "bulk_update", "insert_many",
                   "insert_from", "execute_sql"}
QUERIES_ANYWHERE = {"get_by_id", "get_or_none", "get_or_create", "select_extend"}


def model_names() -> set[str]:
    import hostdesk.models.schema as schema

    return {name for name, value in vars(schema).items()
            if isinstance(value, type) and issubclass(value, peewee.Model)}


def _root(node):
    while isinstance(node, (ast.Attribute, ast.Call, ast.Subscript)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _annotation_nodes(tree) -> set[int]:
    skip = set()
    for node in ast.walk(tree):
        annotations = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            annotations.append(node.returns)
            args = node.args
            for arg in args.args + args.kwonlyargs + args.posonlyargs + [args.vararg, args.kwarg]:
                if arg is not None:
                    annotations.append(arg.annotation)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for annotation in annotations:
            if annotation is not None:
                skip.update(id(n) for n in ast.walk(annotation))
    return skip


def problems(source: str, filename: str, models: set[str]) -> list[str]:
    tree = ast.parse(source, filename)
    skip = _annotation_nodes(tree)
    # names bound in this file to model classes (imported from hostdesk.models.schema) or `database`
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] in ("peewee", "playhouse"):
                bound.add("<peewee>")
            for alias in node.names:
                if node.module == "hostdesk.models.schema" and alias.name in models:
                    bound.add(alias.asname or alias.name)
                if node.module == "hostdesk.models.db" and alias.name == "database":
                    bound.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ("peewee", "playhouse"):
                    bound.add("<peewee>")
    found = []
    if "<peewee>" in bound:
        found.append(f"{filename}: imports peewee/playhouse")
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Attribute):
            name = node.attr
            if name in TRANSACTIONS:
                found.append(f"{filename}:{line}: transaction .{name}")
            elif name in WRITES_ANYWHERE:
                found.append(f"{filename}:{line}: write .{name}")
            elif name in QUERIES_ANYWHERE:
                found.append(f"{filename}:{line}: query .{name}")
            elif isinstance(node.value, ast.Name) and node.value.id in bound:
                found.append(f"{filename}:{line}: {node.value.id}.{name} (model or database "
                             "used in a screen)")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in bound:
            found.append(f"{filename}:{line}: {node.func.id}(…) builds a model in a screen")
    return found


def test_the_checker_sees_transactions_writes_and_queries():
    models = {"Service"}
    source = '''
from hostdesk.models.db import database
from hostdesk.models.schema import Service
from peewee import fn

def f(service: Service) -> Service:
    with database.atomic():
        Service.update(status="x").where(Service.id == 1).execute()
    service.save()
    Service.get_by_id(1)
    n = Service(id=2)
    widget.update("text")  # a widget: fine
    return {}.get("x")
'''
    found = problems(source, "x.py", models)
    assert any("peewee" in f for f in found)
    assert any(".atomic" in f for f in found)
    assert any("Service.update" in f for f in found)
    assert any("Service.id" in f for f in found)
    assert any(".save" in f for f in found)
    assert any(".get_by_id" in f for f in found)
    assert any("Service(" in f for f in found)
    assert not any("widget" in f or ".get " in f for f in found)
    assert not any(":6:" in f for f in found)  # annotations name models and run nothing


def test_tui_holds_no_transaction_write_or_query():
    models = model_names()
    found = []
    for path in sorted((ROOT / "tui").rglob("*.py")):
        found += problems(path.read_text(), str(path.relative_to(ROOT)), models)
    assert found == [], "\n".join(found)
