"""The key table: what a key means on every screen (README "Keys").

A screen binds a common command through `bind(...)`, which takes the key from this table, so
`n` is "new" and `ctrl+r` "reload" wherever they exist. `tests/tui/test_key_table.py` reads
every screen's and widget's bindings and fails when a common command has another key, or when
a key of this table does something else somewhere. The config file's `[keymap]` still moves
any binding by its id (`tui/keymap.py`): the table gives the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.binding import Binding


@dataclass(frozen=True)
class CommonKey:
    name: str
    key: str  # on a list or a page
    form_key: str  # where the focused field takes letters: its ctrl variant ("": the same key)
    means: str


# `e` is the one key with two meanings, never on the same screen: lists export (they have
# nothing to edit), record pages edit (their inner lists export from the palette).
COMMON_KEYS = (
    CommonKey("new", "n", "ctrl+n",
              "a new record: of the list (client, order, addon…), a new order on a client, "
              "a new line in a form"),
    CommonKey("edit", "e", "", "edit the record the page shows (pages that are not a form)"),
    CommonKey("export", "e", "", "export the rows the list shows, search and filters applied"),
    CommonKey("delete", "d", "ctrl+d",
              "delete what has focus: the record, the highlighted row or line (a typed "
              "confirmation where it is destructive)"),
    CommonKey("reload", "ctrl+r", "",
              "re-read from the database (a form drops its unsaved edits)"),
    CommonKey("save", "ctrl+s", "", "save the form, or apply what it previews"),
    # ux.md had `n` for both "new" and "untick all"; untick all is `N` ("none"), as `A` is
    # "all matching" next to `a` "all visible".
    CommonKey("untick_all", "N", "", "untick every row of a list"),
)

# Keys the app binds once for every screen; no screen gives them another meaning.
APP_KEYS = (
    CommonKey("go", "g", "", "go to an area: g then a letter (shown in the footer)"),
    CommonKey("find", "ctrl+k", "", "search everything: clients, services, domains, invoices"),
    CommonKey("palette", "ctrl+p", "", "the command palette (also `:`): this screen's "
                                       "commands, every area, quit"),
    CommonKey("help", "f1", "", "help for the screen and what has focus (also `?`)"),
    CommonKey("back", "escape", "", "back; in a form, cancel (asks when edits are unsaved)"),
    CommonKey("quit", "ctrl+q", "", "quit"),
)

KEYS = {entry.name: entry for entry in COMMON_KEYS + APP_KEYS}

# binding id -> the common command it is, and the keys it takes besides the table's
# (filled by `bind`, read by the key-table test)
BOUND: dict[str, str] = {}
ALSO: dict[str, set[str]] = {}


def bind(name: str, action: str, description: str, *, id: str, form: bool = False,
         also: str = "", **options: Any) -> Binding:
    """A Binding of the common command `name` with the table's key (`form`: its ctrl
    variant, for a screen whose fields take letters); `also` adds keys (`"delete"`)."""
    entry = KEYS[name]
    key = (entry.form_key or entry.key) if form else entry.key
    BOUND[id] = name
    ALSO[id] = {k.strip() for k in also.split(",") if k.strip()}
    return Binding(",".join(k for k in (key, also) if k), action, description, id=id,
                   **options)


def table_keys() -> dict[str, set[str]]:
    """key -> the common commands it may mean."""
    meanings: dict[str, set[str]] = {}
    for entry in COMMON_KEYS + APP_KEYS:
        for key in (entry.key, entry.form_key):
            if key:
                meanings.setdefault(key, set()).add(entry.name)
    return meanings
