"""Writing a list export to a file (the TUI's `e` and `hostdesk export --output`).

The rows come from `models.export.export_list`; here only the file: written beside its final
name and renamed into place when complete, so a stopped or failed export leaves no half file.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

from hostdesk.models.export import ExportResult, export_list
from hostdesk.models.listing import ListFilter, ListSource


def export_to_path(source: ListSource, flt: ListFilter, fmt: str, path: str | Path | None, *,
                   progress: Callable[[int, int], None] | None = None,
                   cancelled: Callable[[], bool] = lambda: False) -> ExportResult:
    """Export to `path` (None: standard output)."""
    if path is None:
        return export_list(source, flt, fmt, sys.stdout, progress=progress, cancelled=cancelled)
    target = Path(path).expanduser()
    partial = target.with_name(f".{target.name}.partial")
    try:
        with open(partial, "w", newline="", encoding="utf-8") as out:
            result = export_list(source, flt, fmt, out, progress=progress, cancelled=cancelled)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return result
