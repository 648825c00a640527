"""No import cycle inside `models/` or `automation/` (issue 14).

Every import counts, also one deferred inside a function: a deferred import hides a cycle
from Python's loader but not from the design (two modules that each need the other are one
module, or a third one is missing). The imports are read with `ast`, nothing is imported.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("models", "automation")  # folders, imported as hostdesk.<folder>


def module_files() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(("hostdesk", *parts))] = path
    return found


def imported_modules(path: Path, name: str, known: set[str]) -> set[str]:
    """The modules of `known` that the file at `path` (module `name`) imports anywhere."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
            targets.update(names)
            if not all(n in known for n in names):  # `from pkg import submodule` needs
                targets.add(base)  # the submodule, not what else the package holds
    edges = set()
    for target in targets:
        # `import hostdesk.models.a.b` depends on hostdesk.models.a.b (the innermost known module)
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name and target.removeprefix("hostdesk.") not in PACKAGES:
            edges.add(target)
    return edges


def graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {name: imported_modules(path, name, known) for name, path in files.items()}


def find_cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan)."""
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []
    counter = [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return cycles


def test_the_checker_finds_a_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_checker_sees_deferred_and_relative_imports(tmp_path):
    pkg = tmp_path / "models"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from hostdesk.models.b import g\n")
    (pkg / "b.py").write_text("from . import a\n")
    known = {"hostdesk.models", "hostdesk.models.a", "hostdesk.models.b"}
    assert imported_modules(pkg / "a.py", "hostdesk.models.a", known) == {"hostdesk.models.b"}
    assert imported_modules(pkg / "b.py", "hostdesk.models.b", known) == {"hostdesk.models.a"}


def test_models_and_automation_have_no_import_cycle():
    cycles = find_cycles(graph())
    assert cycles == [], "import cycles: " + "; ".join(" ↔ ".join(c) for c in cycles)
