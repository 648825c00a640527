"""Keymap overrides from the config file's `[keymap]` table, as Posting does: each binding
has an id (`list-screen.export`, `app.go`, ...) and the table gives it other keys
(`"list-screen.export" = "x"`, several keys comma-separated). Applied when the app starts;
an id no screen has is a configuration error naming it."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Mapping

from textual.binding import Binding
from textual.dom import DOMNode

from hostdesk.models.errors import ValidationError, ValidationErrors

_PACKAGES = ("hostdesk.tui.screens", "hostdesk.tui.widgets")


def every_subclass(root: type) -> set[type]:
    """Every class below `root`, however deep."""
    found, todo = set(), [root]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def binding_ids() -> dict[str, Binding]:
    """Every binding id of the app, its screens and widgets (and Textual's own), with its
    default binding."""
    import hostdesk.tui.app  # noqa: F401 - the app's own bindings

    for package_name in _PACKAGES:
        package = importlib.import_module(package_name)
        for module in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{module.name}")
    ids: dict[str, Binding] = {}
    for cls in every_subclass(DOMNode):
        for binding in cls.__dict__.get("BINDINGS", []):
            if isinstance(binding, Binding) and binding.id:
                ids.setdefault(binding.id, binding)
    return ids


def check_keymap(keymap: Mapping[str, str], where: str = "config") -> dict[str, str]:
    """The keymap if every id names a binding and every value is keys; else
    ValidationErrors naming each bad entry."""
    known = binding_ids()
    errors = []
    for binding_id, keys in keymap.items():
        field = f"keymap.{binding_id} (in {where})"
        if binding_id not in known:
            errors.append(ValidationError(field, "is not a binding id (F1 on a screen, or "
                                                 "README “Keymap”, lists them)"))
        elif not isinstance(keys, str) or not all(k.strip() for k in keys.split(",")):
            errors.append(ValidationError(field, "expected keys such as \"x\" or \"ctrl+e,x\""))
    if errors:
        raise ValidationErrors(errors)
    return {binding_id: ",".join(k.strip() for k in keys.split(","))
            for binding_id, keys in keymap.items()}
