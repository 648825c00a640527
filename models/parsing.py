"""Strict parsers for what an admin types in a form or on the command line.

Each parser takes the raw text and the name of the field, and either returns a clean
value or raises `ValidationError(field, message)` with a message meant for the admin.
`None` is treated like empty text (an untouched form field).

Choices made here:
- Control characters (tab, newline, NUL, DEL, C1 codes, line/paragraph separators,
  bidirectional overrides) are refused everywhere, never silently stripped: a pasted
  value with a hidden character is shown back to the admin instead of being stored.
  Surrounding spaces are stripped.
- Amounts: ASCII digits, an optional leading `-`, an optional `.` and 1–2 decimals.
  A thousands comma is accepted only between correct groups of three digits
  (`1,234.50`, `12,345,678`); any other comma is refused, so `12,50` (a decimal comma)
  can never be read as 1250. No exponents, no `NaN`/`inf`, no currency symbols.
- Dates: exactly `YYYY-MM-DD`.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Literal

import pendulum

from hostdesk.models.errors import ValidationError
from hostdesk.models.money import format_money, round_money

MAX_AMOUNT = Decimal("99999999.99")
MAX_ID = 2**63 - 1  # a 64-bit signed database key

_AMOUNT = re.compile(r"(?P<sign>-)?(?P<int>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.(?P<frac>[0-9]+))?")
_DATE = re.compile(r"(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})")
_WHOLE = re.compile(r"[0-9]+")
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_NEVER = ("never", "00/00/0000")

OverrideKind = Literal["never", "clear", "date"]


def has_control_characters(text: str) -> bool:
    """Whether `text` holds a control, surrogate, line-separator or bidi-override character."""
    return any(
        unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in _BIDI_CONTROLS for ch in text
    )


def refuse_control_characters(text: str, field: str) -> str:
    """`text` unchanged, or ValidationError naming `field` if it holds a control character
    (which no field stores: it would break a line, a terminal or a module's command)."""
    if has_control_characters(text):
        raise ValidationError(field, "contains a control character (tab, newline or similar)")
    return text


def _prepare(text: str | None, field: str) -> str:
    """Stripped text, after refusing non-strings and control characters."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise TypeError(f"{field}: expected text, got {type(text).__name__}")
    return refuse_control_characters(text, field).strip()


def _shown(text: str, limit: int = 24) -> str:
    return f"'{text}'" if len(text) <= limit else f"'{text[:limit]}…'"


def parse_amount(
    text: str | None,
    field: str,
    *,
    allow_negative: bool = False,
    allow_zero: bool = True,
    max_value: Decimal | None = MAX_AMOUNT,
) -> Decimal:
    """An amount with exactly 2 decimal places. `max_value` bounds the absolute value."""
    cleaned = _prepare(text, field)
    if not cleaned:
        raise ValidationError(field, "enter an amount")
    match = _AMOUNT.fullmatch(cleaned)
    if match is None or (match["int"] == "" and match["frac"] is None):
        if "," in cleaned and re.fullmatch(r"-?[0-9,]*[0-9]", cleaned.replace(".", "", 1)):
            raise ValidationError(
                field,
                f"{_shown(cleaned)} is not an amount: use '.' for decimals and ',' only "
                "between groups of three digits (1,234.50)",
            )
        raise ValidationError(field, f"{_shown(cleaned)} is not an amount (write it like 1234.50)")
    frac = match["frac"] or ""
    if len(frac) > 2:
        raise ValidationError(
            field, f"{_shown(cleaned)} has {len(frac)} decimal places; the currency has 2 decimal places"
        )
    digits = (match["int"] or "0").replace(",", "")
    value = round_money(Decimal(f"{match['sign'] or ''}{digits}.{frac or '0'}"))
    if value < 0 and not allow_negative:
        raise ValidationError(field, "must not be negative")
    if value == 0 and not allow_zero:
        raise ValidationError(field, "must be more than zero")
    if max_value is not None and abs(value) > max_value:
        raise ValidationError(field, f"must be at most {format_money(max_value, '')}")
    return value


def parse_date(text: str | None, field: str) -> pendulum.Date:
    """A date typed strictly as `YYYY-MM-DD` that exists in the calendar."""
    cleaned = _prepare(text, field)
    if not cleaned:
        raise ValidationError(field, "enter a date (YYYY-MM-DD)")
    match = _DATE.fullmatch(cleaned)
    if match is None:
        raise ValidationError(field, f"{_shown(cleaned)} is not in the form YYYY-MM-DD")
    try:
        return pendulum.date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        raise ValidationError(field, f"{cleaned} is not a date") from None


def parse_optional_date(text: str | None, field: str) -> pendulum.Date | None:
    """None for an empty field, otherwise a strict date."""
    if not _prepare(text, field):
        return None
    return parse_date(text, field)


def parse_override_until(text: str | None, field: str) -> tuple[OverrideKind, pendulum.Date | None]:
    """Override auto-suspend until (rules §6).

    `("never", None)` for `never` or `00/00/0000` (permanent exemption), `("clear", None)`
    for an empty field (no override), `("date", date)` for a date.
    """
    cleaned = _prepare(text, field)
    if not cleaned:
        return ("clear", None)
    if cleaned.lower() in _NEVER:
        return ("never", None)
    if _DATE.fullmatch(cleaned) is None:
        raise ValidationError(
            field, f"{_shown(cleaned)} is not a date: enter YYYY-MM-DD, 'never', or leave it empty"
        )
    return ("date", parse_date(cleaned, field))


def _parse_whole(text: str | None, field: str, what: str) -> int:
    cleaned = _prepare(text, field)
    if not cleaned:
        raise ValidationError(field, f"enter {what}")
    if _WHOLE.fullmatch(cleaned) is None:
        raise ValidationError(field, f"{_shown(cleaned)} is not a whole number")
    return int(cleaned)


def parse_whole_number(text: str | None, field: str) -> int:
    """A whole number from 0 up, in ASCII digits (`²` is a digit to `str.isdigit`, not to
    `int`); how large it may be is the caller's rule."""
    return _parse_whole(text, field, "a whole number")


def parse_quantity(text: str | None, field: str, max_value: int = 1000) -> int:
    """A whole number from 1 to `max_value`."""
    value = _parse_whole(text, field, "a quantity")
    if value < 1:
        raise ValidationError(field, "must be at least 1")
    if value > max_value:
        raise ValidationError(field, f"must be at most {max_value}")
    return value


def parse_int_id(text: str | None, field: str) -> int:
    """A record id: a positive whole number that fits a 64-bit database key."""
    value = _parse_whole(text, field, "an id")
    if value < 1:
        raise ValidationError(field, "an id is a number from 1 up")
    if value > MAX_ID:
        raise ValidationError(field, "is too large to be an id")
    return value


def clean_search_text(text: str | None, field: str = "search") -> str:
    """What to search for: stripped, control characters refused (a NUL is not even valid
    in SQLite's full-text query syntax); any length (a long term simply matches nothing)."""
    return _prepare(text, field)


def clean_text(text: str | None, field: str, max_length: int, required: bool = False) -> str:
    """Stripped free text: no control characters, at most `max_length` characters."""
    cleaned = _prepare(text, field)
    if required and not cleaned:
        raise ValidationError(field, "is required")
    if len(cleaned) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters (it has {len(cleaned)})")
    return cleaned


# Terminal escape sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), other
# two-byte ESC sequences, and their 8-bit C1 forms.
_ESCAPES = re.compile(r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
                      r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
                      r"|\x1b[PX^_][^\x1b\x9c]*(?:\x1b\\|\x9c)?"
                      r"|\x1b[ -~]?")
# What Rich would read as markup: `[bold]`, `[/]`, `[link=...]`, `[@click=...]`, `[#ff0000]`
# (the same shape Rich's own parser looks for); "[Errno 111]" is not markup and stays.
_RICH_TAG = re.compile(r"\\*\[[a-z#/@][^\[\]]*?\]")
OUTSIDE_TEXT_MAX = 2000


def clean_outside_text(text, limit: int = OUTSIDE_TEXT_MAX) -> str:
    """Text from outside hostdesk (a module's reply, a remote server's error) made safe to
    store, log and show on a terminal: escape sequences, Rich markup, control and bidi
    characters removed, lines joined, at most `limit` characters."""
    text = str(text or "")
    text = _ESCAPES.sub("", text)
    text = "".join(" " if ch in "\r\n\t\u2028\u2029" else ch for ch in text
                   if ch in "\r\n\t\u2028\u2029"
                   or not (unicodedata.category(ch) in ("Cc", "Cs") or ch in _BIDI_CONTROLS))
    previous = None
    while previous != text:  # "[[b]b]" leaves "[b]" after one pass
        previous, text = text, _RICH_TAG.sub("", text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
