"""Domain names, TLDs and domain prices for orders (rules §6, §9).

A name is accepted in `example.com` form: one label registered under a TLD the catalog sells
(`co.uk` counts as one TLD). Internationalised names are converted with Python's built-in
IDNA codec (`encodings.idna`, IDNA 2003 with nameprep), then every label must follow the
hostname rules in its ASCII form: letters, digits and hyphens, 1–63 characters, no hyphen
at either end, and `--` in positions 3–4 only for a valid `xn--` label. Names are stored in
their ASCII (punycode) form, the one registrars and DNS use; the Unicode form is for display.

Known limit of IDNA 2003: nameprep maps some characters instead of refusing them
(`faß.de` becomes `fass.de`, `ﬁ` becomes `fi`); the admin sees the stored form in the
order result.

TLD prices are per year: registering or transferring for N years costs N × the price, and a
renewal covers the same N years at the renewal price, unless the catalog sets its own price
for N years (`TldPrice`, issue 15), which then applies for that count. Domain addons (DNS management, email
forwarding, ID protection) are priced per year too and are added to both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from encodings import idna

from hostdesk.models.errors import ValidationError
from hostdesk.models.money import sum_money
from hostdesk.models.parsing import clean_text
from hostdesk.models.schema import Tld, TldPrice

NAME_FIELD = "domain.name"
YEARS_FIELD = "domain.years"
MAX_NAME_LENGTH = 253
MAX_LABEL_LENGTH = 63
REGISTER, TRANSFER = "register", "transfer"
KINDS = (REGISTER, TRANSFER)

_DOTS = re.compile("[.\u3002\uff0e\uff61]")  # the full stops IDNA treats as label separators
_LDH = re.compile(r"[a-z0-9-]+")
_WHOLE = re.compile(r"[0-9]+")

ADDON_LABELS = {
    "dns_management": "DNS Management",
    "email_forwarding": "Email Forwarding",
    "id_protection": "ID Protection",
}


@dataclass(frozen=True)
class DomainName:
    ascii: str  # "xn--bcher-kva.de": what is stored
    unicode: str  # "bücher.de": what an admin reads
    tld: str  # "de", "co.uk" (ASCII, the catalog's key)

    @property
    def shown(self) -> str:
        """`bücher.de (xn--bcher-kva.de)` for an internationalised name, else the name."""
        return self.ascii if self.unicode == self.ascii else f"{self.unicode} ({self.ascii})"


@dataclass(frozen=True)
class DomainAddons:
    dns_management: bool = False
    email_forwarding: bool = False
    id_protection: bool = False

    def chosen(self) -> list[str]:
        return [name for name in ADDON_LABELS if getattr(self, name)]


@dataclass(frozen=True)
class DomainPrice:
    """What a domain costs: its first payment and each renewal (both for `years` years)."""

    years: int
    base_first: Decimal  # registration or transfer, all years, without addons
    base_recurring: Decimal  # renewal, all years, without addons
    addons: tuple[tuple[str, Decimal], ...]  # (addon name, price for all years)

    @property
    def addons_total(self) -> Decimal:
        return sum_money(amount for _, amount in self.addons)

    @property
    def first(self) -> Decimal:
        return self.base_first + self.addons_total

    @property
    def recurring(self) -> Decimal:
        return self.base_recurring + self.addons_total


# --- the name ----------------------------------------------------------------------------


def _ascii_label(label: str, field: str) -> str:
    """One label in its ASCII form, after IDNA conversion and the hostname rules."""
    if not label:
        raise ValidationError(field, "has an empty label (two dots in a row, or a dot at an end)")
    try:
        ascii_label = idna.ToASCII(label).decode("ascii").lower()
    except UnicodeError:
        if len(label.encode("utf-8", "replace")) > MAX_LABEL_LENGTH:
            raise ValidationError(field, f"the label '{label[:20]}…' is longer than "
                                         f"{MAX_LABEL_LENGTH} characters") from None
        raise ValidationError(field, f"the label '{label}' is not a valid internationalised "
                                     "name") from None
    if not ascii_label:
        raise ValidationError(field, f"the label '{label}' is empty once normalised")
    if len(ascii_label) > MAX_LABEL_LENGTH:
        raise ValidationError(field, f"the label '{label[:20]}…' is longer than "
                                     f"{MAX_LABEL_LENGTH} characters")
    if not _LDH.fullmatch(ascii_label):
        bad = sorted({ch for ch in ascii_label if not _LDH.fullmatch(ch)})
        shown = " ".join(repr(ch) for ch in bad[:3])
        raise ValidationError(field, f"the label '{label}' contains {shown}: only letters, "
                                     "digits and hyphens are allowed")
    if ascii_label.startswith("-") or ascii_label.endswith("-"):
        raise ValidationError(field, f"the label '{label}' must not start or end with a hyphen")
    if ascii_label[2:4] == "--":
        if not ascii_label.startswith("xn--"):
            raise ValidationError(field, f"the label '{label}' has '--' in positions 3–4, which "
                                         "is reserved for internationalised (xn--) labels")
        _check_punycode(ascii_label, field)
    return ascii_label


def _check_punycode(ascii_label: str, field: str) -> None:
    """An `xn--` label must decode, and encode back to itself."""
    try:
        decoded = idna.ToUnicode(ascii_label)
        again = idna.ToASCII(decoded).decode("ascii").lower()
    except UnicodeError:
        again = None
    if again != ascii_label:
        raise ValidationError(field, f"the label '{ascii_label}' is not valid punycode")


def parse_domain_name(text: str | None, field: str = NAME_FIELD) -> tuple[str, str]:
    """The (ASCII, Unicode) forms of a syntactically valid name with at least two labels.

    Pure: no database. Which part is the TLD is decided by `validate_domain_name`.
    """
    cleaned = clean_text(text, field, max_length=MAX_NAME_LENGTH * 4)
    if not cleaned:
        raise ValidationError(field, "enter a domain name, like example.com")
    if "://" in cleaned or "/" in cleaned:
        raise ValidationError(field, "enter only the domain name, like example.com "
                                     "(no http:// and no path)")
    if any(ch.isspace() for ch in cleaned):
        raise ValidationError(field, "must not contain spaces")
    if "@" in cleaned:
        raise ValidationError(field, "is an email address; enter a domain name, like example.com")
    labels = _DOTS.split(cleaned)
    if len(labels) < 2:
        raise ValidationError(field, f"'{cleaned[:40]}' has no TLD; write it like example.com")
    ascii_labels = [_ascii_label(label, field) for label in labels]
    ascii_name = ".".join(ascii_labels)
    if len(ascii_name) > MAX_NAME_LENGTH:
        raise ValidationError(field, f"is {len(ascii_name)} characters long in its ASCII form; "
                                     f"the limit is {MAX_NAME_LENGTH}")
    unicode_name = ".".join(idna.ToUnicode(label) for label in ascii_labels)
    return ascii_name, unicode_name


def tld_candidates(ascii_name: str) -> list[str]:
    """Every suffix of the name that could be its TLD, longest first ("a.co.uk" → co.uk, uk)."""
    labels = ascii_name.split(".")
    return [".".join(labels[i:]) for i in range(1, len(labels))]


def find_tld(ascii_name: str) -> Tld | None:
    """The catalog TLD that is the longest suffix of the name (one indexed query)."""
    candidates = tld_candidates(ascii_name)
    found = {tld.name: tld for tld in Tld.select().where(Tld.name.in_(candidates))}
    for candidate in candidates:
        if candidate in found:
            return found[candidate]
    return None


def validate_domain_name(text: str | None, field: str = NAME_FIELD) -> tuple[DomainName, Tld]:
    """A name the catalog can sell: syntax, IDNA, and a known TLD with one label before it."""
    ascii_name, unicode_name = parse_domain_name(text, field)
    tld = find_tld(ascii_name)
    if tld is None:
        suffix = ascii_name.rsplit(".", 1)[-1]
        raise ValidationError(field, f"the TLD .{suffix} is not in the catalog "
                                     "(no domain pricing for it)")
    registrable_labels = ascii_name.count(".") - tld.name.count(".")
    if registrable_labels != 1:
        registrable = ".".join(ascii_name.split(".")[-(tld.name.count(".") + 2):])
        raise ValidationError(field, f"'{ascii_name}' has a subdomain; enter the name to "
                                     f"register, like {registrable}")
    return DomainName(ascii=ascii_name, unicode=unicode_name, tld=tld.name), tld


def check_years(tld: Tld, text: str | int | None, field: str = YEARS_FIELD) -> int:
    """Registration years within the TLD's allowed range."""
    if isinstance(text, bool):
        raise TypeError(f"{field}: expected a number of years")
    cleaned = str(text).strip() if isinstance(text, int) else clean_text(text, field, 10)
    if not cleaned:
        raise ValidationError(field, "enter the number of years")
    if not _WHOLE.fullmatch(cleaned):
        raise ValidationError(field, f"'{cleaned}' is not a whole number of years")
    years = int(cleaned)
    if not tld.min_years <= years <= tld.max_years:
        raise ValidationError(field, f".{tld.name} can be registered for {tld.min_years} to "
                                     f"{tld.max_years} years, not {years}")
    return years


# --- prices ------------------------------------------------------------------------------


def addon_prices_per_year(tld: Tld) -> dict[str, Decimal]:
    return {
        "dns_management": tld.dns_management_price,
        "email_forwarding": tld.email_forwarding_price,
        "id_protection": tld.id_protection_price,
    }


def year_prices(tld: Tld) -> dict[int, TldPrice]:
    """The TLD's prices per year count, where the catalog sets one; any other count costs
    N x the one-year price."""
    if tld.id is None:
        return {}
    return {row.years: row for row in TldPrice.select().where(TldPrice.tld == tld.id)}


def domain_price(tld: Tld, kind: str, years: int, addons: DomainAddons = DomainAddons(), *,
                 first_override: Decimal | None = None,
                 recurring_override: Decimal | None = None) -> DomainPrice:
    """Prices for `years` years. An override replaces the TLD's price for the domain itself
    (for all the years), never the addons."""
    if kind not in KINDS:
        raise ValidationError("domain.kind", f"'{kind}' is not one of: {', '.join(KINDS)}")
    per_year = tld.register_price if kind == REGISTER else tld.transfer_price
    first, renew = per_year * years, tld.renew_price * years
    row = year_prices(tld).get(years)
    if row is not None:  # the catalog's own price for this many years (issue 15)
        chosen = row.register_price if kind == REGISTER else row.transfer_price
        first = chosen if chosen is not None else first
        renew = row.renew_price if row.renew_price is not None else renew
    base_first = first_override if first_override is not None else first
    base_recurring = recurring_override if recurring_override is not None else renew
    per_addon = addon_prices_per_year(tld)
    addons_priced = tuple((ADDON_LABELS[name], per_addon[name] * years) for name in addons.chosen())
    return DomainPrice(years=years, base_first=base_first, base_recurring=base_recurring,
                       addons=addons_priced)
