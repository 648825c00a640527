"""The command palette (ctrl+p or `:`): every command of the screen it was opened on, with
its key (a greyed one says why and runs nothing), every area, the global search, help and
quit. The commands are the screen's bindings, so the palette and the keys never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode
from textual.screen import Screen

from hostdesk.models.permissions import has_permission
from hostdesk.tui.keys import KEYS
from hostdesk.tui.screens.areas import EVERY_PLACE
from hostdesk.tui.screens.base import HostdeskScreen, needs_permission

# Moving between fields is not a command.
NOT_COMMANDS = {"app.focus_next", "app.focus_previous", "back"}


@dataclass(frozen=True)
class Command:
    title: str
    help: str
    run: Callable[[], object]


def _binding_commands(screen: Screen) -> Iterator[tuple[DOMNode, Binding]]:
    """(namespace, binding) of the screen's commands: all of the screen's own bindings,
    and the shown ones of the focused widget and its containers; each action once."""
    seen: set[str] = set()
    # Textual's chain for a key press (keymap applied), from the focus up; no public accessor.
    for namespace, bindings in screen._modal_binding_chain:
        if namespace is screen.app:
            continue  # the app's keys are the areas, search, help and quit below
        for binding in (b for bs in bindings.key_to_bindings.values() for b in bs):
            if binding.action in NOT_COMMANDS or binding.system or binding.action in seen:
                continue
            if namespace is not screen and not binding.show:
                continue  # a widget's hidden keys move its cursor: not commands
            seen.add(binding.action)
            yield namespace, binding


def screen_commands(screen: Screen) -> Iterator[Command]:
    app = screen.app
    keys: dict[str, list[str]] = {}
    chosen = list(_binding_commands(screen))
    for _, binding in chosen:
        keys.setdefault(binding.action, []).append(app.get_key_display(binding))
    for namespace, binding in chosen:
        key = "/".join(keys[binding.action])
        if isinstance(screen, HostdeskScreen):
            state, why = screen.command_state(binding.action, namespace)
        else:
            state, why = True, ""
        if state is False:
            continue  # hidden here (not greyed): the command does not exist on it now
        title = str(binding.description or binding.action)
        if state is None:
            yield Command(title, f"{key} · greyed: {why}",
                          lambda text=f"{title}: {why}": screen.say_status(text, warning=True))
            continue
        yield Command(title, f"{key} · {binding.tooltip}" if binding.tooltip else key,
                      lambda action=binding.action, node=namespace: app.run_action(action, node))


def app_commands(app) -> Iterator[Command]:
    for area in EVERY_PLACE:
        help_text = f"g {area.letter} · {area.blurb}"
        if area.permission and not has_permission(app.admin, area.permission):
            help_text = f"g {area.letter} · greyed: {needs_permission(area.permission)}"
        yield Command(f"Go to {area.title}", help_text, lambda key=area.key: app.go(key))
    yield Command("New order", f"{KEYS['new'].key} on the orders list · add a new order",
                  app.action_new_order)
    yield Command("Search everything", f"{KEYS['find'].key} · {KEYS['find'].means}",
                  app.action_global_search)
    yield Command("Help", f"F1 · {KEYS['help'].means}", app.action_help)
    yield Command("Quit", f"{KEYS['quit'].key} · leave hostdesk", app.action_quit)


class HostdeskCommands(Provider):
    def _commands(self) -> list[Command]:
        if not self.app.admin:
            return [Command("Quit", "ctrl+q", self.app.action_quit)]
        return [*screen_commands(self.screen), *app_commands(self.app)]

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.run,
                          help=command.help)
