"""TLD prices (issue 15, rules §6): register, transfer and renew prices, EPP, domain addons.

A TLD is stored without its dot (`com`, `co.uk`: the key `models.domains` looks names up
by) and typed, shown and exported with it (`.com`), as admins and registrars write it; a
name typed without the dot is refused so a TLD is never mistaken for a domain label.

Prices are per year; `years` may set the catalog's own prices for a year count (1-10),
each a register/transfer/renew amount, blank meaning N x the one-year price.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from hostdesk.models import audit, records
from hostdesk.models.db import database
from hostdesk.models.errors import ValidationError, ValidationErrors
from hostdesk.models.parsing import parse_amount
from hostdesk.models.permissions import MANAGE_CATALOG, require
from hostdesk.models.schema import Admin, Domain, Tld, TldPrice

FIELDS = ("name", "register_price", "transfer_price", "renew_price", "min_years", "max_years",
          "epp_required", "dns_management_price", "email_forwarding_price",
          "id_protection_price", "years")
PRICE_FIELDS = ("register_price", "transfer_price", "renew_price", "dns_management_price",
                "email_forwarding_price", "id_protection_price")
ACTIONS = ("register", "transfer", "renew")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")


@dataclass(frozen=True)
class TldView:
    id: int
    version: int
    values: dict[str, str]  # the fields as text, name with its dot (".com")
    years: dict[int, dict[str, str]]  # year count -> {"register", "transfer", "renew"} ("" = N x)
    domains: int


def tld_view(tld_id: int) -> TldView:
    tld = records.get(Tld, tld_id, "tld")
    values = {"name": f".{tld.name}", "min_years": str(tld.min_years),
              "max_years": str(tld.max_years), "epp_required": "yes" if tld.epp_required else "no"}
    values.update({name: str(getattr(tld, name)) for name in PRICE_FIELDS})
    years = {row.years: {action: "" if getattr(row, f"{action}_price") is None
                         else str(getattr(row, f"{action}_price")) for action in ACTIONS}
             for row in TldPrice.select().where(TldPrice.tld == tld.id).order_by(TldPrice.years)}
    count = Domain.select().where(Domain.name.endswith(f".{tld.name}")).count()
    return TldView(tld.id, tld.version, values, years, count)


def tld_list() -> list[TldView]:
    return [tld_view(i) for (i,) in Tld.select(Tld.id).order_by(Tld.name).tuples()]


def parse_tld_name(value, field: str = "name") -> str:
    """`.com` or `.co.uk` as stored: `com`, `co.uk`."""
    text = records.text(value, field, 64, required=True).lower()
    if not text.startswith("."):
        raise ValidationError(field, f"write the TLD with its leading dot, like .{text[:20]}")
    labels = text[1:].split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise ValidationError(field, f"'{text[:30]}' is not a TLD (letters, digits and '-' "
                                     "between dots, like .com or .co.uk)")
    return text[1:]


def _price(value, field: str) -> Decimal:
    return parse_amount(records.as_text(value), field)


def _year_count(value, field: str) -> int:
    text = records.as_text(value).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 10:
        raise ValidationError(field, "is a number of years from 1 to 10")
    return int(text)


def _years(value) -> dict[int, dict[str, Decimal | None]]:
    if not isinstance(value, dict):
        raise ValidationError("years", "is a table of year count = prices")
    parsed, errors = {}, []
    for key, prices in value.items():
        try:
            years = _year_count(key, f"years.{key}")
            if not isinstance(prices, dict) or set(prices) - set(ACTIONS):
                raise ValidationError(f"years.{key}", "has register, transfer and renew prices")
            row = {}
            for action in ACTIONS:
                text = records.as_text(prices.get(action, "")).strip()
                row[action] = _price(text, f"years.{years}.{action}") if text else None
            parsed[years] = row
        except ValidationError as exc:
            errors.append(exc)
    if errors:
        raise errors[0] if len(errors) == 1 else ValidationErrors(errors)
    return dict(sorted(parsed.items()))


def _rules(tld_id: int | None) -> dict:
    rules = {"name": lambda v: records.unique(Tld, Tld.name, parse_tld_name(v), "name", tld_id,
                                              "TLD"),
             "min_years": lambda v: _year_count(v, "min_years"),
             "max_years": lambda v: _year_count(v, "max_years"),
             "epp_required": lambda v: records.yes_no(v, "epp_required"),
             "years": _years}
    rules.update({name: (lambda v, n=name: _price(v, n)) for name in PRICE_FIELDS})
    return rules


def _write_years(tld_id: int, years: dict) -> None:
    TldPrice.delete().where(TldPrice.tld == tld_id).execute()
    rows = [{"tld": tld_id, "years": count, **{f"{a}_price": p[a] for a in ACTIONS}}
            for count, p in years.items() if any(v is not None for v in p.values())]
    if rows:
        TldPrice.insert_many(rows).execute()


def _check_range(parsed: dict, current: Tld | None) -> None:
    low = parsed.get("min_years", current.min_years if current else 1)
    high = parsed.get("max_years", current.max_years if current else 10)
    if high < low:
        raise ValidationError("max_years", f"{high} is below the minimum of {low} years")
    outside = [n for n in parsed.get("years", {}) if not low <= n <= high]
    if outside:
        raise ValidationError(f"years.{outside[0]}", f"is outside {low}-{high} years")


def add_tld(values: dict, *, admin: Admin, at=None) -> TldView:
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        parsed = records.checked(values, _rules(None), unknown_refused=True)
        missing = [ValidationError(n, "is required") for n in
                   ("name", "register_price", "transfer_price", "renew_price")
                   if n not in parsed]
        if missing:
            raise missing[0] if len(missing) == 1 else ValidationErrors(missing)
        _check_range(parsed, None)
        years = parsed.pop("years", {})
        tld = records.create(Tld, parsed, admin=admin, action="tld.add",
                             what=f"TLD .{parsed['name']}", at=at)
        _write_years(tld.id, years)
        if years:
            audit.record(admin.login, "tld.year_prices", "tld", tld.id, before={},
                         after=tld_view(tld.id).years, description=f"prices per year of "
                                                                   f".{tld.name}", at=at)
    return tld_view(tld.id)


def edit_tld(tld_id: int, version: int, values: dict, *, admin: Admin) -> TldView:
    """Save the fields given; `years` replaces the per-year-count prices. Domains already
    ordered keep their amounts (a price list change is for new orders and renewals priced
    from now on)."""
    require(admin, MANAGE_CATALOG)
    with database.atomic():
        tld = records.get(Tld, tld_id, "tld")
        parsed = records.checked(values, _rules(tld.id), unknown_refused=True)
        _check_range(parsed, tld)
        years = parsed.pop("years", None)
        before = tld_view(tld.id).years
        records.save(tld, parsed, version, admin=admin, action="tld.edit",
                     what=f"TLD .{tld.name}")
        if years is not None:
            _write_years(tld.id, years)
            after = tld_view(tld.id).years
            if after != before:
                audit.record(admin.login, "tld.year_prices", "tld", tld.id, before=before,
                             after=after, description=f"prices per year of .{tld.name}")
    return tld_view(tld_id)
