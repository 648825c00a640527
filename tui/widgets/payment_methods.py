"""The choices of a payment method picker (issue 15): the managed list's enabled methods in
the order the admin gave them, and the record's current method even when it has since been
disabled, marked so (the record keeps it until someone picks another)."""

from __future__ import annotations


def method_choices(enabled: list[str], current: str = "") -> list[tuple[str, str]]:
    """(label, value) pairs for a Select; `current` is the record's method, if any."""
    choices = [(name, name) for name in enabled]
    if current and current not in enabled:
        choices.append((f"{current} (disabled)", current))
    return choices
