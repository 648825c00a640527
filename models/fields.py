"""Column types that keep money exact and dates as pendulum values on every engine."""

import datetime
from decimal import Decimal
from functools import lru_cache

import pendulum
from peewee import BigIntegerField, DateField, DateTimeField

_HUNDRED = Decimal(100)
_CENT = Decimal("0.01")


class MoneyField(BigIntegerField):
    """Money as integer cents in the database, `Decimal` in Python.

    SQLite has no exact decimal type and its SUM() over decimals yields floats; integer
    cents sum exactly on SQLite and PostgreSQL alike.
    """

    def db_value(self, value):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must be Decimal, not float")
        if isinstance(value, int):
            return value * 100 if not isinstance(value, bool) else int(value)
        cents = Decimal(value) * _HUNDRED
        if cents != cents.to_integral_value():
            raise ValueError(f"{value} has more than two decimal places")
        return int(cents)

    def python_value(self, value):
        if value is None:
            return None
        return _from_cents(int(value))


@lru_cache(maxsize=65536)  # prices repeat: a billing run reads a few thousand distinct amounts
def _from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / _HUNDRED).quantize(_CENT)


def to_date(value) -> pendulum.Date | None:
    if value is None or value == "":
        return None
    if isinstance(value, pendulum.Date):
        return value
    if isinstance(value, datetime.datetime):
        return pendulum.Date(value.year, value.month, value.day)
    if isinstance(value, datetime.date):
        return _date_from_date(value)
    return _date_from_text(str(value)[:10])


@lru_cache(maxsize=65536)  # PostgreSQL hands back datetime.date: the same few hundred values
def _date_from_date(value: datetime.date) -> pendulum.Date:
    return pendulum.Date(value.year, value.month, value.day)


@lru_cache(maxsize=65536)  # rows read in bulk share a few hundred distinct dates
def _date_from_text(text: str) -> pendulum.Date:
    parsed = datetime.date.fromisoformat(text)
    return pendulum.Date(parsed.year, parsed.month, parsed.day)


class PendulumDateField(DateField):
    """A calendar date: ISO text on SQLite, DATE on PostgreSQL; `pendulum.Date` in Python."""

    def db_value(self, value):
        value = to_date(value)
        return value.isoformat() if value is not None else None

    def python_value(self, value):
        return to_date(value)


class UTCDateTimeField(DateTimeField):
    """A moment in time, stored as naive UTC, read back as an aware `pendulum.DateTime`."""

    def db_value(self, value):
        if value is None:
            return None
        if isinstance(value, str):
            value = pendulum.parse(value)
        if value.tzinfo is None:
            value = pendulum.instance(value, tz="UTC")
        utc = pendulum.instance(value).in_timezone("UTC")
        return utc.strftime("%Y-%m-%d %H:%M:%S.%f")

    def python_value(self, value):
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.datetime.fromisoformat(value)
        return pendulum.instance(value.replace(tzinfo=None), tz="UTC")
