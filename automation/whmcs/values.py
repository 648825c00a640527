"""WHMCS values turned into hostdesk's: cycles, statuses, dates, money, payment methods.

Every function takes a raw column value as the MySQL driver hands it back (a `date`, a
`Decimal`, text, or WHMCS's "none" markers `0000-00-00` and empty strings) and returns the
value in hostdesk's database form (ISO date text, integer cents), or None / raises
`Unmappable` with the reason the report shows.
"""

import datetime
from decimal import Decimal
from functools import lru_cache

from hostdesk.models.cycles import Cycle


class Unmappable(ValueError):
    """A source value hostdesk has no place for; the message is the reason in the report."""


CYCLES = {
    "monthly": Cycle.MONTHLY, "quarterly": Cycle.QUARTERLY, "semiannually": Cycle.SEMIANNUALLY,
    "annually": Cycle.ANNUALLY, "biennially": Cycle.BIENNIALLY, "triennially": Cycle.TRIENNIALLY,
    "freeaccount": Cycle.FREE, "free": Cycle.FREE, "onetime": Cycle.ONE_TIME,
}
# tblpricing's columns per cycle: (price, setup fee)
PRICE_COLUMNS = {
    Cycle.MONTHLY: ("monthly", "msetupfee"), Cycle.QUARTERLY: ("quarterly", "qsetupfee"),
    Cycle.SEMIANNUALLY: ("semiannually", "ssetupfee"), Cycle.ANNUALLY: ("annually", "asetupfee"),
    Cycle.BIENNIALLY: ("biennially", "bsetupfee"), Cycle.TRIENNIALLY: ("triennially", "tsetupfee"),
}
SERVICE_STATUSES = {"pending": "pending", "active": "active", "suspended": "suspended",
                    "terminated": "terminated", "cancelled": "cancelled", "fraud": "fraud",
                    "completed": "completed"}
CLIENT_STATUSES = {"active": "active", "inactive": "inactive", "closed": "closed"}
DOMAIN_STATUSES = {"pending": "pending", "pendingregistration": "pending",
                   "pendingtransfer": "pending_transfer", "active": "active",
                   "grace": "expired", "redemption": "expired", "expired": "expired",
                   "transferredaway": "transferred_away", "cancelled": "cancelled",
                   "fraud": "fraud"}
# WHMCS's Collections and Payment Pending invoices are unpaid money owed in hostdesk.
INVOICE_STATUSES = {"paid": "paid", "unpaid": "unpaid", "cancelled": "cancelled",
                    "refunded": "refunded", "collections": "unpaid", "draft": "draft",
                    "paymentpending": "unpaid"}
ORDER_STATUSES = {"pending": "pending", "active": "active", "cancelled": "cancelled",
                  "fraud": "fraud"}
PRODUCT_TYPES = {"hostingaccount": "shared", "reselleraccount": "reseller", "server": "dedicated",
                 "other": "other"}
AUTO_SETUP = {"order": "on_order", "payment": "on_payment", "on": "on_accept", "": "never"}
PROMOTION_TYPES = {"percentage": "percentage", "fixedamount": "fixed",
                   "priceoverride": "price_override", "freesetup": "free_setup"}


@lru_cache(maxsize=4096)  # statuses, cycles and item types: a few dozen distinct values
def _squash(text) -> str:
    return "".join(ch for ch in str(text or "").lower() if ch.isalnum())


def _lookup(table: dict, value, what: str) -> str:
    found = table.get(_squash(value))
    if found is None:
        raise Unmappable(f"unknown {what} '{value}'")
    return found


# The lookups below are cached: a host's rows name a few dozen distinct values, and a cache
# hit costs no Python call (an unknown value raises every time: errors are not cached).
@lru_cache(maxsize=1024)
def cycle(value) -> Cycle:
    return _lookup(CYCLES, value, "billing cycle")


@lru_cache(maxsize=1024)
def cycle_terms(value) -> tuple[Cycle, int | None, str]:
    """`cycle(value)`, its months (None when it does not repeat) and its stored value."""
    found = cycle(value)
    return found, found.months, found.value


@lru_cache(maxsize=1024)
def service_status(value) -> str:
    return _lookup(SERVICE_STATUSES, value, "status")


@lru_cache(maxsize=1024)
def client_status(value) -> str:
    return _lookup(CLIENT_STATUSES, value, "client status")


@lru_cache(maxsize=1024)
def domain_status(value) -> str:
    return _lookup(DOMAIN_STATUSES, value, "domain status")


@lru_cache(maxsize=1024)
def invoice_status(value) -> str:
    return _lookup(INVOICE_STATUSES, value, "invoice status")


@lru_cache(maxsize=1024)
def order_status(value) -> str:
    return ORDER_STATUSES.get(_squash(value), "active")  # WHMCS lets admins add order statuses


def product_type(value) -> str:
    return PRODUCT_TYPES.get(_squash(value), "other")


def auto_setup(value) -> str:
    return AUTO_SETUP.get(str(value or "").strip().lower(), "never")


def promotion_type(value) -> str:
    return _lookup(PROMOTION_TYPES, value, "promotion type")


def date(value) -> datetime.date | None:
    """A date, or None for WHMCS's `0000-00-00`, NULL and empty text."""
    if type(value) is str:  # the common case first: the source hands values over as text
        return _date_text(value[:10]) if value else None
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return _date_text(str(value)[:10])


@lru_cache(maxsize=65536)  # a host's rows share a few thousand distinct dates
def _date_text(text: str) -> datetime.date | None:
    if text.startswith("0000") or not text.strip():
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise Unmappable(f"'{text}' is not a date") from None


def iso(value) -> str | None:
    if type(value) is str:
        return _iso_text(value[:10]) if value else None
    day = date(value)
    return day.isoformat() if day is not None else None


@lru_cache(maxsize=65536)
def _iso_text(text: str) -> str | None:
    day = _date_text(text)
    return day.isoformat() if day is not None else None


def moment(value) -> str | None:
    """A DATETIME as hostdesk's UTC timestamp text (WHMCS keeps server-local time)."""
    if type(value) is str and len(value) >= 19:  # the common case: "YYYY-MM-DD HH:MM:SS"
        return value[:19] + ".000000" if _date_text(value[:10]) is not None else None
    day = date(value)
    if day is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return f"{day.isoformat()} 00:00:00.000000"


def cents(value) -> int:
    """Integer cents of a DECIMAL(16,2) amount (exact: the driver hands back `Decimal`)."""
    if value is None or value == "":
        return 0
    if type(value) is str:
        return _text_cents(value)
    return _decimal_cents(value)


@lru_cache(maxsize=65536)  # prices repeat across a host's rows
def _text_cents(value: str) -> int:
    whole, dot, fraction = value.partition(".")  # DECIMAL(16,2) as text: "-12.30"
    digits = whole[1:] if whole[:1] == "-" else whole
    if dot and len(fraction) == 2 and fraction.isdigit() and digits.isdigit():
        result = int(digits) * 100 + int(fraction)
        return -result if whole[:1] == "-" else result
    return _decimal_cents(value)


@lru_cache(maxsize=65536)  # amounts repeat: a column is mapped at C speed (cache hits)
def cents_or_text(value) -> int | str:
    """`cents(value)`, or the value as it was when it is not an amount (`cents` then names
    it where the row is mapped)."""
    try:
        return cents(value)
    except Unmappable:
        return value
    except ArithmeticError:  # decimal.InvalidOperation: not a number at all
        return value


def read_cents(value) -> int:
    """An amount read as cents (a `:c` column, see `Source._select`); a value the reader
    could not turn into cents is refused here, as `cents` refuses it."""
    return value if type(value) is int else cents(value)


def _decimal_cents(value) -> int:
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    scaled = amount.scaleb(2)
    if scaled != scaled.to_integral_value():
        raise Unmappable(f"{amount} has more than two decimal places")
    return int(scaled)


def price_cents(value) -> int | None:
    """A tblpricing amount: None when WHMCS says `-1` (not offered) or any negative price."""
    amount = cents(value)
    return None if amount < 0 else amount


@lru_cache(maxsize=1024)
def flag(value) -> bool:
    """WHMCS keeps yes/no as 1/0, 'on'/'' or 'yes'/'no'."""
    text = str(value if value is not None else "").strip().lower()
    return text not in ("", "0", "off", "no", "false")


def text(value, limit: int | None = None) -> str:
    if type(value) is str:  # the common case first
        result = value.strip()
    else:
        result = "" if value is None else str(value).strip()
    return result[:limit] if limit else result


@lru_cache(maxsize=1024)  # a host uses a handful of gateways, named on most of its rows
def payment_method(gateway) -> str:
    """The hostdesk payment method a WHMCS gateway (module name: `paypal`, `banktransfer`,
    `stripe`, ...) becomes: its name in the managed list (`catalog.payment_gateways` adds the
    ones the list lacks; the list keeps names in lower case)."""
    return text(gateway, 50).lower() or "banktransfer"


def anchor_day(next_due: datetime.date | None, registered: datetime.date | None) -> int:
    """The day of month due dates keep (rules §2): the registration day when the next due date
    is that day clamped to its month (31 Jan → 28 Feb keeps 31), else the due date's own."""
    if next_due is None:
        return registered.day if registered else 1
    if registered is not None and registered.day > next_due.day:
        last = (next_due.replace(day=28) + datetime.timedelta(days=4)).replace(day=1) \
            - datetime.timedelta(days=1)
        if next_due.day == last.day:
            return registered.day
    return next_due.day
