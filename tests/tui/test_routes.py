"""The routing tables (tui/screens/routes.py): every area and record kind opens a screen."""

from __future__ import annotations

from textual.screen import Screen

from hostdesk.models.listing import SOURCES
from hostdesk.tui.screens.areas import DASHBOARD, EVERY_PLACE
from hostdesk.tui.screens.lists import ListScreen
from hostdesk.tui.screens.routes import AREA_SCREENS, LIST_SCREENS, RECORD_SCREENS, screen_class


def test_every_area_has_a_screen_and_every_table_entry_is_one():
    for area in EVERY_PLACE:
        if area is DASHBOARD:
            continue
        assert area.key in AREA_SCREENS or area.key in SOURCES, area.key
    for where in (*AREA_SCREENS.values(), *RECORD_SCREENS.values()):
        assert issubclass(screen_class(where), Screen), where
    for where in LIST_SCREENS.values():
        assert issubclass(screen_class(where), ListScreen), where
    assert set(AREA_SCREENS) | set(LIST_SCREENS) <= {area.key for area in EVERY_PLACE}
    assert set(RECORD_SCREENS) <= set(SOURCES) | {"products", "servers"}  # their own lists
