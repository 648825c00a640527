"""Money helpers (rules §1): Decimal only, ROUND_HALF_UP to the cent, rounded once.

Rounding goes through `fractions.Fraction`, so a prorated amount such as 30 × 9 / 31
is carried exactly until the one rounding that the rules allow, and the result never
depends on the decimal context's precision.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, Inexact, InvalidOperation, localcontext
from fractions import Fraction
from functools import lru_cache

from hostdesk.models.errors import ValidationError

CENT = Decimal("0.01")
DEFAULT_LOCALE = "en_US"

MoneyInput = Decimal | int | str | Fraction


def to_fraction(value: Decimal | int | str | Fraction) -> Fraction:
    """The exact value of a money-like input. Floats are refused: they are never exact."""
    if isinstance(value, (float, bool)) or not isinstance(value, (Decimal, int, str, Fraction)):
        raise TypeError(f"money must be Decimal, int, str or Fraction, not {type(value).__name__}")
    if isinstance(value, str):
        try:
            value = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a number") from None
    if isinstance(value, Decimal) and not value.is_finite():
        raise ValueError(f"{value} is not a finite amount")
    return Fraction(value)


def round_money(value: MoneyInput) -> Decimal:
    """Round to 2 places, halves away from zero (ROUND_HALF_UP): 0.125 → 0.13, −0.125 → −0.13."""
    exact = to_fraction(value)
    hundredths = abs(exact) * 100
    cents = (2 * hundredths.numerator + hundredths.denominator) // (2 * hundredths.denominator)
    return from_cents(-cents if exact < 0 else cents)


def to_cents(value: Decimal | int) -> int:
    """Integer cents of an amount that is already whole cents (1.50 and 1.500 both give 150)."""
    if isinstance(value, (str, Fraction)):
        raise TypeError(f"to_cents takes Decimal or int, not {type(value).__name__}")
    cents = to_fraction(value) * 100
    if cents.denominator != 1:
        raise ValueError(f"{value} has more than 2 decimal places; round it first")
    return cents.numerator


def from_cents(cents: int) -> Decimal:
    """The amount of `cents`, always with exactly 2 decimal places (150 → 1.50)."""
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError(f"cents must be int, not {type(cents).__name__}")
    sign, digits, _ = Decimal(cents).as_tuple()
    return Decimal((sign, digits, -2))  # exact at any size, unlike scaleb under the context


# How amounts read (the `locale` setting) and the currency a new invoice is written in (the
# `currency` setting): set once at start-up by `configure` (the CLI, the TUI, the daily run).
_installation = {"locale": DEFAULT_LOCALE, "currency": "USD"}


def check_locale(name: str, field: str = "locale") -> str:
    """`name` as babel knows it (`de_DE`, `en_US`), or ValidationError naming `field`."""
    if name == DEFAULT_LOCALE:
        return name  # known: a command that formats no amount for people never loads babel
    from babel import Locale, UnknownLocaleError

    try:
        return str(Locale.parse(str(name).strip().replace("-", "_")))
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValidationError(field, f"'{name}' is not a locale (for example en_US, de_DE)") from None


def configure(locale: str = DEFAULT_LOCALE, currency: str = "USD") -> None:
    _installation.update(locale=check_locale(locale), currency=currency)


def installation_currency() -> str:
    """The currency a new invoice is written in (each invoice keeps its own afterwards)."""
    return _installation["currency"]


def format_money(amount: Decimal | int, currency: str = "USD", locale: str | None = None) -> str:
    """The amount as the host's customers read it, by locale: `$1,234.50` (en_US, USD),
    `1.234,50\xa0€` (de_DE, EUR), `-$4.00`; without a currency the number alone
    (`1,234.50`). Rounded to the cent for display; always two decimals."""
    locale = locale or _installation["locale"]
    if type(amount) is Decimal and amount.is_finite():
        return _format_decimal(amount, currency, locale)
    if isinstance(amount, (str, Fraction)):
        raise TypeError(f"format_money takes Decimal or int, not {type(amount).__name__}")
    return _formatted(round_money(amount), currency, locale)


# Equal amounts show the same text (1.5 and 1.50 both "1.50"), so the text can be cached by
# value: a daily run formats the same few prices on thousands of invoices and emails (and
# babel takes tens of microseconds per amount).
@lru_cache(maxsize=4096)
def _format_decimal(amount: Decimal, currency: str, locale: str) -> str:
    if amount.as_tuple().exponent == -2:
        return _formatted(amount, currency, locale)  # already whole cents (every stored amount)
    return _formatted(round_money(amount), currency, locale)


def _formatted(rounded: Decimal, currency: str, locale: str) -> str:
    if locale == DEFAULT_LOCALE and currency in ("", "USD"):
        # The default reading needs no locale data: loading babel's takes a one-shot command
        # (a payment received, a service shown) tens of milliseconds. Same text as babel's.
        number = f"{rounded:,.2f}"
        if not currency:
            return number
        return f"-${number[1:]}" if number.startswith("-") else f"${number}"
    # babel is imported here, not with this module: a command that answers JSON (amounts as
    # plain decimal strings) never loads it.
    from babel.numbers import format_currency, format_decimal

    if not currency:
        return format_decimal(rounded, format="#,##0.00", locale=locale)
    # Two decimals whatever the currency's usual digits: amounts are kept to the cent.
    return format_currency(rounded, currency, locale=locale, currency_digits=False)


def sum_money(amounts: Iterable[Decimal | int]) -> Decimal:
    """Exact sum (at least 2 places shown). Raises rather than round if it cannot be exact."""
    total = Decimal("0.00")
    with localcontext() as ctx:
        ctx.traps[Inexact] = True
        for amount in amounts:
            if isinstance(amount, (float, bool)) or not isinstance(amount, (Decimal, int)):
                raise TypeError(f"sum_money adds Decimal or int, not {type(amount).__name__}")
            if isinstance(amount, Decimal) and not amount.is_finite():
                raise ValueError(f"{amount} is not a finite amount")
            total += amount
    return total
