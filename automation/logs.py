"""Logging set-up for every `hostdesk` command: standard `logging`, to stderr or a file, as
text or as JSON lines for log collectors.

Loggers are named `hostdesk.<area>` (`hostdesk.cron`, `hostdesk.mail`, `hostdesk.modules`,
`hostdesk.cli`...). What they log never holds a secret: callers log ids, counts and errors,
never a password, a key or a message body; the secrets the configuration knows are also
masked here, in case an error text quotes one.
"""

import json
import logging
import sys
from pathlib import Path

import platformdirs

ROOT = "hostdesk"
LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")
MASK = "****"
_STANDARD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime"}


def get_logger(area: str) -> logging.Logger:
    return logging.getLogger(f"{ROOT}.{area}")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, plus the record's extras."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
                 "level": record.levelname.lower(), "logger": record.name,
                 "message": record.getMessage()}
        for key, value in record.__dict__.items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _MaskSecrets(logging.Filter):
    """Replaces known secret values in a record's message and extras."""

    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s and len(s) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            masked = self._mask(message)
            if masked != message:
                record.msg, record.args = masked, None
            for key, value in list(record.__dict__.items()):
                if key not in _STANDARD_ATTRS and isinstance(value, str):
                    record.__dict__[key] = self._mask(value)
        return True

    def _mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


def default_tui_log_file() -> Path:
    return Path(platformdirs.user_log_dir(ROOT)) / "hostdesk.log"


def configure(level: str | None = None, file: str | Path | None = None, fmt: str = "text", *,
              tui: bool = False, secrets: tuple[str, ...] = ()) -> Path | None:
    """Send the `hostdesk` loggers to `file` in `fmt`, or to stderr when only a `level` is
    given. The TUI never logs to the screen: without a file it logs to
    `default_tui_log_file()`. The level defaults to info. Returns the file used."""
    if fmt not in FORMATS:
        raise ValueError(f"--log-format must be one of {', '.join(FORMATS)}, not '{fmt}'")
    if level is not None and level.lower() not in LEVELS:
        raise ValueError(f"--log-level must be one of {', '.join(LEVELS)}, not '{level}'")
    path = Path(file).expanduser() if file else (default_tui_log_file() if tui else None)
    logger = logging.getLogger(ROOT)
    for old in list(logger.handlers):
        logger.removeHandler(old)
        old.close()
    logger.propagate = False
    if path is None and level is None:
        # A command's own output already says what happened (the run's summary, one line
        # per error): the log goes to stderr only when asked for with --log-level.
        logger.addHandler(logging.NullHandler())
        return None
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = logging.FileHandler(path, encoding="utf-8")
    else:
        handler = _StderrHandler()
        # The CLI prints its own one-line errors (they carry exit_status): never twice.
        handler.addFilter(lambda record: not hasattr(record, "exit_status"))
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_MaskSecrets(list(secrets)))
    logger.addHandler(handler)
    logger.setLevel((level or "info").upper())
    return path


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is when a record comes (tests swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass
