"""The hostdesk TUI: the one app factory (`make_app`) and the entry the CLI calls (`run_tui`).

The caller binds `models.db.database` first. Database work happens in thread workers that
open their own connection (`with hostdesk.models.db.connection():`), never on the UI thread, apart
from looking up the admin once before the app starts.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import threading
import time
from typing import Iterable

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.theme import Theme

from hostdesk.automation.config import Config
from hostdesk.models.admins import manager_logins
from hostdesk.models.clock import Clock
from hostdesk.models.db import connection
from hostdesk.models.listing import SOURCES
from hostdesk.models.permissions import find_admin, has_permission
from hostdesk.models.schema import Admin
from hostdesk.models.search import SearchHit
from hostdesk.tui.background import run_in_background
from hostdesk.tui.palette import HostdeskCommands
from hostdesk.tui.screens.areas import BY_KEY, DASHBOARD, Area
from hostdesk.tui.screens.chord import GoChordScreen
from hostdesk.tui.screens.dashboard import DashboardScreen
from hostdesk.tui.screens.detail import DetailScreen
from hostdesk.tui.screens.help import HelpScreen
from hostdesk.tui.screens.lists import ListScreen
from hostdesk.tui.screens.no_access import NoAccessScreen
from hostdesk.tui.screens.routes import (
    AHEAD,
    AREA_SCREENS,
    LIST_SCREENS,
    RECORD_SCREENS,
    screen_class,
)
from hostdesk.tui.screens.search import GlobalSearchScreen

TERMINAL_CHECK_SECONDS = 5.0  # how often we make sure the terminal (SSH session) is still there
# After the terminal is gone, the longest a clean exit may take: Textual's output thread can
# block for good on a hung-up terminal, so then the process ends without tidying the screen.
EXIT_GRACE_SECONDS = 2.0
EXIT_TERMINAL_LOST = 129  # 128 + SIGHUP, as a shell reports a hang-up

HOSTDESK_THEME = Theme(
    name="hostdesk",
    primary="#0178D4",
    secondary="#004578",
    accent="#5FB3F9",
    warning="#E5C07B",
    error="#E06C75",
    success="#4EBF71",
    foreground="#E0E0E0",
    dark=True,
)

# Status colours (ux.md): one each, everywhere. A theme may override them.
STATUS_COLOURS = {
    "status-active": "#4EBF71",
    "status-pending": "#E5C07B",
    "status-suspended": "#F0883E",
    "status-closed": "#7F848E",
    "status-fraud": "#E06C75",
}


class HostdeskApp(App[int], inherit_bindings=False):
    """Built by `make_app`; everything it shows comes from the bound database."""

    CSS_PATH = "hostdesk.tcss"
    TITLE = "hostdesk"
    COMMANDS = {HostdeskCommands}

    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="app.quit"),
        Binding("ctrl+c", "help_quit", "How to quit", show=False, system=True,
                id="app.help_quit"),
        Binding("g", "go_chord", "Go to", tooltip="then c s o i x m l a d: an area",
                id="app.go"),
        Binding("ctrl+k", "global_search", "Find", tooltip="clients, services, domains, invoices",
                priority=True, id="app.search"),
        # Shown at the footer's right end by Textual itself.
        Binding("ctrl+p", "command_palette", "Commands", show=False, priority=True,
                id="app.palette"),
        Binding("colon", "command_palette", "Commands", show=False, id="app.palette_colon"),
        Binding("f1", "help", "Help", id="app.help"),
        Binding("question_mark", "help", "Help", show=False, id="app.help_question"),
    ]

    def __init__(self, config: Config, login: str, admin: Admin | None, clock: Clock,
                 *, known_but_inactive: bool = False, managers: list[str] | None = None) -> None:
        super().__init__()
        self.config = config
        self.settings = config.settings
        self.login = login
        self.admin = admin
        self.clock = clock
        self._known_but_inactive = known_but_inactive
        self._managers = managers or []
        self.animation_level = "none"  # over SSH, motion costs bandwidth and shows lag
        self.register_theme(HOSTDESK_THEME)
        self.theme = "hostdesk"
        self._exit_timer: threading.Timer | None = None
        self._built_ahead: dict[tuple, Screen] = {}  # (class, record id) -> screen (`build_ahead`)
        self.last_key_at = 0.0  # (time.monotonic) when the last key came

    @property
    def who(self) -> str:
        return f"{self.login} ({self.admin.role})" if self.admin else self.login

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return dict(STATUS_COLOURS)

    def get_default_screen(self) -> Screen:
        if self.admin is None:
            return NoAccessScreen(self.login, self._known_but_inactive, self._managers)
        return DashboardScreen()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        if self.admin is None:
            return
        yield from super().get_system_commands(screen)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if self.admin is None and action in ("go_chord", "global_search", "command_palette"):
            return False  # without access: only help and quit
        return True

    def update_styles(self, node, animate: bool = True) -> None:
        # A widget not in the DOM yet (a class set in its constructor, such as `compact`) is
        # styled when it is mounted: restyling it and its children now is wasted work (on
        # the service page, 124 of the 389 stylings done to open it; issue 17).
        if node is not self and not node.is_attached:
            return
        super().update_styles(node, animate=animate)

    # --- going places -----------------------------------------------------------------

    def go(self, area_key: str) -> None:
        """Show an area's list (or the main screen) directly above the main screen."""
        if self.admin is None:
            return
        area = BY_KEY[area_key]
        if area.permission and not has_permission(self.admin, area.permission):
            self.notify(f"{area.title} needs the permission “{area.permission}”, which your "
                        f"role ({self.admin.role}) does not have.", severity="error")
            return
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if area is DASHBOARD:
            if len(self.screen_stack) == 2:
                self.pop_screen()
            return
        if not self.is_screen_installed(area.key):
            self.install_screen(self._area_screen(area), area.key)
        if len(self.screen_stack) == 2:
            self.switch_screen(area.key)
        else:
            self.push_screen(area.key)

    def _area_screen(self, area: Area) -> Screen:
        if area.key in AREA_SCREENS:
            return screen_class(AREA_SCREENS[area.key])()
        kind = screen_class(LIST_SCREENS[area.key]) if area.key in LIST_SCREENS else ListScreen
        return kind(area, SOURCES[area.key](timezone=self.settings.timezone))

    def open_record(self, kind: str, record_id: int) -> None:
        if kind in RECORD_SCREENS:
            page = screen_class(RECORD_SCREENS[kind])
            if hasattr(page, "read"):  # read first, then drawn once with the record
                self.open_read(page, record_id)
            else:
                self.push_screen(page(record_id))
            return
        self.push_screen(DetailScreen(SOURCES[kind](timezone=self.settings.timezone), record_id))

    def open_read(self, screen_class, record_id: int | None) -> None:
        """Push `screen_class(record_id, data)` once `screen_class.read(app, record_id)` has
        been read in a thread worker (or the kept one refilled with it, `_screen_for`): the
        screen is composed and drawn once, with its data (no placeholder first). A failed read pushes it without data: it reads again and
        says why. A second open before the first is read replaces it."""
        def push(data) -> None:
            self.push_screen(self._screen_for(screen_class, record_id, data))

        # A screen may keep what it read at its last open (`kept`, the order form's catalog):
        # drawn at once with it, the screen reads it again itself.
        kept = getattr(screen_class, "kept", None)
        data = kept(self, record_id) if kept is not None else None
        if data is not None:
            self.workers.cancel_group(self, "open-screen")  # an earlier open not read yet
            push(data)
            return
        run_in_background(self, lambda: screen_class.read(self, record_id), push,
                          lambda _error: push(None), group="open-screen",
                          description="read a screen's data")

    def _screen_for(self, screen_class, record_id: int | None, data):
        """A new `screen_class(record_id, data)`, or the one built ahead for this open
        (`build_ahead`); for a screen class with `refill`, the one kept from its last open (or
        built ahead), refilled with `data`: opening service after service from a list then
        costs no building, styling or mounting of its widgets (issue 17). A new one when the
        kept one is still open further back or the read failed (it reads again)."""
        if not hasattr(screen_class, "refill"):
            return self.take_built_ahead(screen_class, record_id) or screen_class(record_id, data)
        name = kept_name(screen_class)
        if not self.is_screen_installed(name):
            screen = screen_class(record_id, data)
            self.install_screen(screen, name)  # not removed when it is closed
            return screen
        kept = self.get_screen(name)
        if data is None or kept in self.screen_stack or not kept.is_mounted:
            return screen_class(record_id, data)
        kept.refill(record_id, data)
        return kept

    # --- screens built ahead ------------------------------------------------------------

    def build_ahead(self, screen: Screen, record_id: int | None = None, *,
                    keep: bool = False) -> None:
        """Compose and mount `screen` now, off the stack, while the admin reads the screen on
        top: the open it is for (`open_read` of its class and `record_id`) then pushes it as
        it is, and costs only its layout and drawing (issue 17). `keep`: installed as its
        class's kept page instead (a class with `refill`), refilled by the next open."""
        if keep:
            self.install_screen(screen, kept_name(type(screen)))
        else:
            self._built_ahead[type(screen), record_id] = screen
        self._get_screen(screen)  # Textual's own first step of a push: composed and mounted

    def take_built_ahead(self, screen_class, record_id: int | None = None) -> Screen | None:
        """The screen built ahead for this open, once mounted (then the next is built when
        the screen below comes back on top); None when there is none yet."""
        built = self._built_ahead.get((screen_class, record_id))
        if built is None or not built.is_mounted:
            return None
        del self._built_ahead[screen_class, record_id]
        return built

    def is_built_ahead(self, screen_class, record_id: int | None = None) -> bool:
        """Whether a screen for this open is built (or being built) ahead, or kept."""
        if hasattr(screen_class, "refill"):
            return self.is_screen_installed(kept_name(screen_class))
        return (screen_class, record_id) in self._built_ahead

    def build_screens_ahead(self, back_on: Screen | None = None) -> None:
        """Build ahead, off the stack, the screens opened next that are not built (`AHEAD`):
        once the app is up, and when `back_on`, the screen they open from, is come back to
        (the one built for the last open was used). Each class's `build_ahead(app, back_on)`
        says what it needs and from where it opens."""
        if self.admin is None or self._exit_timer is not None:
            return
        for where in AHEAD:
            screen_class(where).build_ahead(self, back_on)

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key):
            self.last_key_at = time.monotonic()
        await super().on_event(event)

    def when_idle(self, callback, seconds: float | None = None) -> None:
        """Call `callback` once no key has come for `seconds` and no worker runs: work that
        holds the UI thread or the database for a while (building a big screen ahead, a read
        after a screen is drawn) then does not delay what the admin is doing."""
        seconds = IDLE_SECONDS if seconds is None else seconds

        def check() -> None:
            quiet = time.monotonic() - self.last_key_at >= seconds
            if quiet and not any(worker.is_running for worker in self.workers):
                callback()
            else:
                self.set_timer(IDLE_CHECK_SECONDS, check)

        self.set_timer(IDLE_CHECK_SECONDS, check)

    def action_new_order(self, client_id: int | None = None) -> None:
        from hostdesk.models.permissions import ADD_ORDER
        from hostdesk.tui.screens.order_form import OrderFormScreen

        if not has_permission(self.admin, ADD_ORDER):
            self.notify(f"New orders need the permission “{ADD_ORDER}”.", severity="error")
            return
        self.open_read(OrderFormScreen, client_id)

    def action_go_chord(self) -> None:
        def chosen(area_key: str | None) -> None:
            if area_key:
                self.go(area_key)

        self.push_screen(GoChordScreen(), chosen)

    def action_global_search(self) -> None:
        if isinstance(self.screen, GlobalSearchScreen):
            return

        def chosen(hit: SearchHit | None) -> None:
            if hit is not None:
                self.open_record(hit.source, hit.id)

        self.push_screen(GlobalSearchScreen(), chosen)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    def action_back(self) -> None:
        if len(self.screen_stack) > 1:
            self.pop_screen()

    # --- the terminal going away (dropped SSH connection) ------------------------------

    def on_mount(self) -> None:
        keep_out_of_collections()
        if self.admin is not None:
            # On the UI thread, once the first screen is drawn: an import racing the same
            # import on another thread can fail (a circular import seen half-done).
            self.set_timer(LOAD_SCREENS_AFTER_SECONDS, self._load_ahead)
        if self.is_headless:
            return
        try:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self.terminal_lost)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread or no signals here: the periodic check still runs
        self.set_interval(TERMINAL_CHECK_SECONDS, self.check_terminal, name="terminal-check")

    def _load_ahead(self) -> None:
        """Once the app is up: the record screens' modules, and, once the admin pauses, the
        screens built ahead (the order form, the service page): the first of a session then
        opens as every later one does."""
        load_record_screens()
        self.when_idle(self.build_screens_ahead)  # (not while the admin opens a list)

    def check_terminal(self) -> None:
        if not terminal_alive():
            self.terminal_lost()

    def terminal_lost(self) -> None:
        """Leave at once: nobody is looking, and a spinning orphan holds a connection."""
        if self._exit_timer is None and not self.is_headless:
            # If tidying up hangs on the dead terminal, end the process anyway.
            self._exit_timer = threading.Timer(EXIT_GRACE_SECONDS, os._exit,
                                               args=(EXIT_TERMINAL_LOST,))
            self._exit_timer.daemon = True
            self._exit_timer.start()
        self.exit(return_code=EXIT_TERMINAL_LOST)


_frozen = False


def keep_out_of_collections() -> None:
    """Once per process, when the app is up: what is alive now (modules, stylesheet, the
    app) lives until the end, so Python's collector stops going through it. A full collection
    otherwise walks every object and costs 100-200 ms, paid by whichever screen is opening
    when it falls (issue 17). The garbage of the start is collected first."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


LOAD_SCREENS_AFTER_SECONDS = 0.5
IDLE_SECONDS = 0.25  # no key for this long: the admin is reading (`HostdeskApp.when_idle`)
IDLE_CHECK_SECONDS = 0.1


def kept_name(screen_class) -> str:
    """The name a screen class with `refill` is installed under, kept between opens."""
    return f"kept {screen_class.__name__}"


def load_record_screens() -> None:
    """Import the record screens' modules once the app is up: the first service page
    opened then costs what every later one does (issue 17)."""
    for where in RECORD_SCREENS.values():
        screen_class(where)


def terminal_alive() -> bool:
    try:
        return os.isatty(sys.__stdin__.fileno())
    except (AttributeError, OSError, ValueError):
        return False


TRUECOLOR_TERMINALS = ("iTerm.app", "WezTerm", "vscode", "ghostty", "Hyper", "Tabby")
TRUECOLOR_TERMS = ("-direct", "truecolor", "24bit", "kitty", "alacritty", "foot", "wezterm",
                   "ghostty")


def terminal_has_truecolor(environ) -> bool:
    """Whether the terminal shows 24-bit colour, judged from what SSH passes on.

    SSH forwards TERM (and usually LC_*), but not COLORTERM; so we also trust a TERM that
    names a truecolor terminal or terminfo entry, iTerm2's LC_TERMINAL, and TERM_PROGRAM.
    """
    if environ.get("COLORTERM", "").lower() in ("truecolor", "24bit"):
        return True
    term = environ.get("TERM", "").lower()
    if any(marker in term for marker in TRUECOLOR_TERMS):
        return True
    if environ.get("LC_TERMINAL") or environ.get("TERM_PROGRAM") in TRUECOLOR_TERMINALS:
        return True
    return False


def prefer_truecolor(environ=None) -> bool:
    """Tell Textual to use 24-bit colour when the terminal has it; returns whether it does.

    An explicit TEXTUAL_COLOR_SYSTEM or NO_COLOR is left alone.
    """
    environ = os.environ if environ is None else environ
    if "TEXTUAL_COLOR_SYSTEM" in environ or "NO_COLOR" in environ:
        return False
    if terminal_has_truecolor(environ):
        environ["COLORTERM"] = "truecolor"  # read by Rich when the app's console is made
        return True
    return False


def make_app(config: Config, login: str, clock: Clock | None = None) -> HostdeskApp:
    """The one way to build the TUI (CLI, tests, snapshots). The database must be bound.

    The config's `[keymap]` is applied here; an unknown binding id raises ValidationErrors."""
    clock = clock or Clock(config.settings.timezone)
    with connection():
        admin = find_admin(login)
        managers: list[str] = []
        if admin is None or not admin.active:
            managers = manager_logins()
    known_but_inactive = admin is not None and not admin.active
    app = HostdeskApp(config, login, admin if admin is not None and admin.active else None,
                      clock, known_but_inactive=known_but_inactive, managers=managers)
    if config.keymap:
        from hostdesk.tui.keymap import check_keymap

        app.set_keymap(check_keymap(config.keymap, str(config.config_file or "config")))
    return app


def run_tui(config: Config, login: str) -> int:
    """Open the TUI for `login` on the already bound database; returns the exit status."""
    prefer_truecolor()
    app = make_app(config, login)
    app.run()
    return app.return_code or 0
