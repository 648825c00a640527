"""`e` on a list: which format and file, then the export with its progress; escape stops it.

The rows are `models.export`'s; the file is written by `tui.exporting.export_to_path`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.widgets import Input, ProgressBar, Select

from hostdesk.models.errors import ValidationError
from hostdesk.models.export import FORMATS, ExportCancelled, check_format, check_may_export
from hostdesk.models.export import default_file_name
from hostdesk.models.listing import ListFilter, ListSource
from hostdesk.models.schema import Admin
from hostdesk.tui.exporting import export_to_path
from hostdesk.tui.widgets.dialogs import FieldsDialog


@dataclass(frozen=True)
class ExportOutcome:
    path: str
    rows: int
    stopped: bool = False  # escape during the export: no file was written


class ExportDialog(FieldsDialog):
    """Gives an ExportOutcome, or None when closed before exporting."""

    TITLE = "Export the list"

    def __init__(self, list_name: str, title: str, source: ListSource, flt: ListFilter,
                 admin: Admin, today, directory: Path | None = None) -> None:
        super().__init__()
        self.list_name, self.list_title = list_name, title
        self.source, self.flt, self.admin = source, flt, admin
        self.today = today
        self.directory = directory or Path.cwd()
        self._stop = threading.Event()
        what = flt.describe() if hasattr(flt, "describe") else (
            f"search “{flt.term}”" if flt.term else "every row")
        self.INTRO = (f"{title} — {what}: the rows as the list shows them, newest first. "
                      "ctrl+s exports; escape stops an export under way (no file is left).")

    def fields(self) -> ComposeResult:
        yield self.label("Format")
        yield Select([(fmt.upper(), fmt) for fmt in FORMATS], value=FORMATS[0],
                     allow_blank=False, id="field-format", compact=True,
                     classes="dialog--input")
        yield self.error_line("format")
        yield self.label("File")
        yield Input(str(self.directory / default_file_name(self.list_name, FORMATS[0],
                                                           self.today)),
                    id="field-path", compact=True, classes="dialog--input")
        yield self.error_line("path")
        yield ProgressBar(show_eta=False, id="export-progress", classes="-hidden")

    def on_select_changed(self, event: Select.Changed) -> None:
        """The file's extension follows the format while it is one of ours."""
        path_input = self.query_one("#field-path", Input)
        stem, dot, ext = path_input.value.rpartition(".")
        if dot and ext in FORMATS and isinstance(event.value, str):
            path_input.value = f"{stem}.{event.value}"

    def action_cancel(self) -> None:
        if self.working:
            self._stop.set()
            return
        self.dismiss(None)

    def action_submit(self) -> None:
        if not self.working:
            self.query_one("#export-progress", ProgressBar).remove_class("-hidden")
        super().action_submit()

    def refused(self, exc: Exception) -> None:
        self.query_one("#export-progress", ProgressBar).add_class("-hidden")
        super().refused(exc)

    def _progress(self, done: int, total: int) -> None:
        self.app.call_from_thread(self.query_one("#export-progress", ProgressBar).update,
                                  total=max(total, 1), progress=done)

    def submit(self, values: dict[str, Any]) -> ExportOutcome:
        fmt = check_format(values["format"])
        text = values["path"].strip()
        if not text:
            raise ValidationError("path", "name the file to write")
        path = Path(text).expanduser()
        if not path.is_absolute():
            path = self.directory / path
        if path.is_dir():
            raise ValidationError("path", "is a directory: name a file in it")
        if path.exists():
            raise ValidationError("path", "already exists: choose another name")
        if not path.parent.is_dir():
            raise ValidationError("path", f"there is no directory {path.parent}")
        check_may_export(self.admin, self.list_name)
        try:
            result = export_to_path(self.source, self.flt, fmt, path, progress=self._progress,
                                    cancelled=self._stop.is_set)
        except ExportCancelled:
            return ExportOutcome(str(path), 0, stopped=True)
        return ExportOutcome(str(path), result.rows)
