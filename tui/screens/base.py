"""What every hostdesk screen shares: the title bar, `escape` back, tab between fields, the
reason a greyed key gives when pressed, and the one way to say a result (ux.md: a toast for
success, a dialog for an error to read, the field for bad input)."""

from __future__ import annotations

import gc

from textual import events, messages
from textual._time import get_time
from textual.actions import parse as parse_action
from textual.binding import Binding
from textual.content import Content
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Static

from hostdesk.tui.widgets.dialogs import MessageDialog, StyledOnce

NOT_NOW = "does not apply here now"
COLLECT_AFTER_SECONDS = 0.05  # the closed screen's own last messages are handled by then


def needs_permission(permission: str) -> str:
    """The reason of a command greyed for want of a permission."""
    return f"needs the permission “{permission}”"


class TitleBar(Widget):
    """One line: where you are on the left, who you are on the right. Drawn by one widget
    (every screen has one: two labels in a row were three widgets to open, issue 17)."""

    def __init__(self, title: str, who: str = "") -> None:
        super().__init__(classes="title-bar")
        self._title = title
        self._who = who

    @property
    def title(self) -> str:
        return f"hostdesk · {self._title}"

    def set_title(self, title: str) -> None:
        self._title = title
        self.refresh()

    def render(self) -> Content:
        who = f" {self._who} " if self._who else ""
        room = max(0, self.size.width - len(who))
        left = Content.styled(f" {self.title} ", "bold $foreground").truncate(
            room, ellipsis=True, pad=True)
        return Content.assemble(left, who)  # (in the bar's colour: muted)


class HostdeskScreen(StyledOnce, Screen, inherit_bindings=False):
    """Base of the full screens. `HELP` is shown first by F1."""

    HELP = ""
    BINDINGS = [
        Binding("escape", "back", "Back", id="screen.back"),
        Binding("tab", "app.focus_next", "Next field", show=False, id="screen.focus_next"),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False,
                id="screen.focus_previous"),
    ]

    _covered_by_a_glance = False
    _refilled = False  # built before, refilled with another record just now (`refill`)
    _styled_for = -1  # the app's stylesheet generation its widgets were last styled for

    def on_screen_suspend(self) -> None:
        # By the time this runs, the screen now on top is on the stack.
        self._covered_by_a_glance = getattr(self.app.screen, "CHANGES_NOTHING", False)

    def _on_screen_resume(self, event: events.ScreenResume) -> None:
        # (`StyledOnce`'s handler, next in the class order, skips the first restyle; Textual's
        # own handler runs after both.)
        app = self.app
        if self._refilled:
            # Shown again with another record, its widgets styled when it was built: restyled
            # whole only if the stylesheet changed since (a new theme). Nothing was closed
            # above it, so there is nothing to collect.
            self._refilled = False
            if self._styled_for == app._css_update_count:
                event.refresh_styles = False
        elif self._shown_once:
            # Come back to: the screen closed above is garbage in reference cycles (Textual's
            # widgets and timers point at each other) that only a full collection frees, 100
            # to 200 ms otherwise paid by whichever screen is opening when it falls. Collected
            # now, while the admin reads this one (issue 17).
            self.set_timer(COLLECT_AFTER_SECONDS, gc.collect)
            # The screen opened from here may have been the one built ahead for it: the next
            # is built now, while the admin reads this one.
            if build := getattr(app, "build_screens_ahead", None):
                app.when_idle(lambda: build(self) if self.is_current else None)
        self._styled_for = app._css_update_count  # (styled now, or restyled by Textual next)
        self._resumed()

    def _resumed(self) -> None:
        # (Textual calls one handler per class: `_on_screen_resume` hides `on_screen_resume`.)
        # Shown first, or come back to: the database's truth. Not after a glance at a screen
        # that changes nothing (the `g` chord, help): re-reading then is a wasted query, and
        # on a big list it competes with the list the chord is about to open.
        if self._covered_by_a_glance:
            self._covered_by_a_glance = False
            return
        self.reread()

    def _screen_resized(self, size) -> None:
        # Textual sends a screen just laid out a Resize to the size it was laid out at, and
        # lays it out again (twice on a first showing): a change since asks for its own layout.
        if size == self._compositor.size:
            return
        super()._screen_resized(size)

    # --- laid out and drawn once when it opens (issue 17) ----------------------------

    _laid_out_at: float | None = None  # when the first layout of the screen was done

    def _refresh_layout(self, size=None, scroll: bool = False) -> None:
        # Laid out once (issue 17): Textual's first layout of a screen places every widget
        # from scratch, yet each widget, as it mounted, asked for a layout of its own, and
        # the sizes that layout gives mark each one for another: a second layout and drawing
        # of the whole screen that finds what the first one found. Only a scrollbar the first
        # layout showed or hid changes a widget's room: those widgets keep their mark.
        if self._laid_out_at is not None:
            super()._refresh_layout(size, scroll)
            return
        widgets = list(self.walk_children(Widget))
        bars = {widget: (widget.show_vertical_scrollbar, widget.show_horizontal_scrollbar)
                for widget in widgets}
        super()._refresh_layout(size, scroll)
        if not self._compositor.size:
            return  # not laid out (no size yet)
        self._laid_out_at = get_time()
        self._layout_required = False  # (asked as it mounted; Textual clears it on its timer)
        self._laid_out_as = (list(self.children), set(self.classes))
        drawn = self.is_current  # then the layout drew all of it, as it is now
        if drawn:
            self._repaint_required = False
            self._drawn_by_layout = self._drawn_at_first_layout = True
        for widget in widgets:
            if bars[widget] == (widget.show_vertical_scrollbar, widget.show_horizontal_scrollbar):
                widget._layout_required = False
                # (and its scrollbars, shown as they were before: made by this layout)
                for bar in (widget._vertical_scrollbar, widget._horizontal_scrollbar,
                            widget._scrollbar_corner):
                    if bar is not None:
                        bar._layout_required = False
            if drawn:
                widget._repaint_required = False

    _laid_out_as: tuple[list, set] | None = None  # children and classes at the first layout
    _drawn_by_layout = False  # the next repaint of all of it asked for is the first layout's
    _drawn_at_first_layout = False

    def refresh(self, *regions, repaint: bool = True, layout: bool = False,
                recompose: bool = False):
        # Coming on top, Textual lays the screen out, which draws all of it, then asks for
        # all of it to be drawn again: the first time, that is drawing it twice.
        if self._drawn_by_layout:
            self._drawn_by_layout = False
            if not (regions or layout or recompose):
                return self
        # Textual, having pushed the screen, asks for its layout once more when its mount is
        # over, which was before the first layout (whichever comes first): with the same
        # widgets and classes, that layout holds.
        if layout and self._laid_out_as is not None:
            held = (list(self.children), set(self.classes)) == self._laid_out_as
            self._laid_out_as = None
            if held and not (regions or recompose):
                return self if self._drawn_at_first_layout else super().refresh()
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)

    def _asked_before_first_layout(self, message: messages.Layout | messages.Update) -> bool:
        if self._laid_out_at is None or message.time > self._laid_out_at:
            return False
        message.stop()
        message.prevent_default()  # done by the first layout, which drew all it laid out
        return True

    async def _on_layout(self, message: messages.Layout) -> None:
        self._asked_before_first_layout(message)

    def _on_update(self, message: messages.Update) -> None:
        if self._drawn_at_first_layout:
            self._asked_before_first_layout(message)

    def reread(self) -> None:
        """Re-read what the screen shows from the database (when it comes back on top)."""

    def refilled(self) -> None:
        """Say that the screen, built before, now shows another record: pushed again, it is
        not restyled and does not re-read (its `refill` filled it with what was just read)."""
        self._refilled = True
        self._covered_by_a_glance = False

    def title_bar(self, title: str) -> TitleBar:
        return TitleBar(title, self.app.who)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "back":
            return self.app.screen_stack.index(self) > 0 if self in self.app.screen_stack else True
        return True

    def action_back(self) -> None:
        self.app.action_back()

    # --- greyed commands ---------------------------------------------------------------

    def why_greyed(self, action: str, parameters: tuple) -> str:
        """Why `action` is greyed now (`check_action` said None). Screens that know say it."""
        return NOT_NOW

    def command_state(self, action: str, namespace: DOMNode | None = None
                      ) -> tuple[bool | None, str]:
        """(what `check_action` says, why when greyed) for an action string as a binding of
        `namespace` (this screen by default) holds it."""
        target, name, parameters = self._resolve(action, namespace or self)
        state = target.check_action(name, parameters)
        if state is not None:
            return state, ""
        why = target.why_greyed(name, parameters) if isinstance(target, HostdeskScreen) else ""
        return None, why or NOT_NOW

    def _resolve(self, action: str, namespace: DOMNode) -> tuple[DOMNode, str, tuple]:
        destination, name, parameters = parse_action(action)
        target = {"app": self.app, "screen": self}.get(destination, namespace)
        return target, name, parameters

    def greyed_binding(self, key: str) -> tuple[Binding, str] | None:
        """(binding, why) when `key` only reaches greyed commands; None when a binding takes it
        (or none knows it). Walks the chain Textual walks for a key: focus, screen, app."""
        greyed = None
        # Textual's own chain for a key press (no public accessor): focused widget up to the app.
        for namespace, bindings in self._modal_binding_chain:
            for binding in bindings.key_to_bindings.get(key, ()):
                state, why = self.command_state(binding.action, namespace)
                if state:
                    return None
                if state is None and greyed is None:
                    greyed = (binding, why)
        return greyed

    def on_key(self, event: events.Key) -> None:
        # Runs before the app looks the key up; a greyed command does nothing, so say why.
        greyed = self.greyed_binding(event.key)
        if greyed is not None:
            binding, why = greyed
            self.say_status(f"{binding.description}: {why}", warning=True)

    # --- saying things: one place each -------------------------------------------------

    def say_status(self, text: str, *, warning: bool = False) -> None:
        """A state, or why a key did nothing: the screen's status line (a screen without one
        shows a toast)."""
        lines = self.query(".status-line")
        if not lines:
            self.app.notify(text, severity="warning" if warning else "information", markup=False)
            return
        lines.first(Static).update(Content.styled(text, "$text-warning") if warning
                                   else Content(text))

    def say_done(self, text: str, *, warning: bool = False) -> None:
        """A success, said once: a toast (`warning`: it worked, with something to look at).
        The status line no longer repeats it. What was typed shows literally (no markup)."""
        self.clear_status()
        self.app.notify(text, severity="warning" if warning else "information",
                        timeout=8 if "\n" in text else 5, markup=False)

    def say_error(self, title: str, error: Exception | str) -> None:
        """An error to read, said once: a dialog (enter closes it)."""
        self.clear_status()
        self.app.push_screen(MessageDialog(title, str(error)))

    def clear_status(self) -> None:
        """Forget "working…" and the like; screens whose status line shows counts redraw it."""
        lines = self.query(".status-line")
        if lines:
            lines.first(Static).update("")
