"""Every public function below `tui/` takes the acting admin one way: `admin: Admin` (issue 14).

Read with `ast`, nothing is imported. A login string for the acting admin (`admin_login: str`)
is refused in any public signature of `models/` or `automation/`; a parameter named `admin` or
`actor` is annotated `Admin`, or `Admin | None` only where the docstring says what None means.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("models", "automation")
LOGIN_NAMES = {"admin_login", "acting_login", "actor_login", "by_login"}
ADMIN_NAMES = {"admin", "actor"}
# The activity log stores logins (the admin's name at the time, also for the daily run):
# `audit.record` is that storage format, called with `admin.login`.
STORAGE = {("models/audit.py", "record")}


def public_functions():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            relative = path.relative_to(ROOT).as_posix()
            tree = ast.parse(path.read_text(), relative)
            yield from _functions(tree.body, relative, "")


def _functions(body, relative: str, prefix: str):
    for node in body:
        if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            yield from _functions(node.body, relative, f"{prefix}{node.name}.")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                and not node.name.startswith("_"):
            yield relative, f"{prefix}{node.name}", node


def parameters(node):
    args = node.args
    return args.posonlyargs + args.args + args.kwonlyargs


def test_no_public_function_takes_the_acting_admin_as_a_login_string():
    found = [f"{path}: {name}({arg.arg})"
             for path, name, node in public_functions() if (path, name) not in STORAGE
             for arg in parameters(node) if arg.arg in LOGIN_NAMES]
    assert not found, "take `admin: Admin` instead:\n" + "\n".join(found)


def test_every_admin_parameter_is_an_admin():
    found = []
    for path, name, node in public_functions():
        for arg in parameters(node):
            if arg.arg not in ADMIN_NAMES:
                continue
            annotation = ast.unparse(arg.annotation) if arg.annotation else ""
            if annotation == "Admin":
                continue
            documented = "None" in (ast.get_docstring(node) or "")
            if annotation == "Admin | None" and documented:
                continue
            found.append(f"{path}: {name}({arg.arg}: {annotation or '<none>'})")
    assert not found, ("annotate `Admin` (or `Admin | None` with None's meaning in the "
                       "docstring):\n" + "\n".join(found))


def test_the_checks_exist_and_the_rule_is_not_vacuous():
    names = {(path, name) for path, name, _ in public_functions()}
    assert ("models/invoicing.py", "record_payment") in names
    assert ("models/permissions.py", "require") in names
    permissions = (ROOT / "models/permissions.py").read_text()
    assert "def require_login" not in permissions  # one way to check a permission
    assert "SYSTEM_ADMIN" in permissions
    takes_admin = sum(1 for _, _, node in public_functions()
                      if any(arg.arg == "admin" for arg in parameters(node)))
    assert takes_admin > 100
