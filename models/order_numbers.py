"""Order numbers: a random 10-digit number (no leading zero) per order. A module of its own so
that an upgrade order (models/upgrades.py) draws one without loading the order form's rules."""

from secrets import randbelow


def new_order_number() -> str:
    """A random 10-digit number (no leading zero)."""
    return str(10**9 + randbelow(9 * 10**9))
