"""The settings the rules name, with the rulebook's defaults. Pure data: loading is elsewhere.

Every value is checked when a `Settings` is built, whatever it came from (config file,
environment, database, a test): a bad one raises `ValidationError` naming the setting, so a
daily run never starts with, say, `batch_size = 0` (which would select nothing and report
success) or an SMTP timeout of infinity.
"""

import math
import re
from dataclasses import dataclass, field, fields

import pendulum

from hostdesk.models.cycles import Cycle, DayBasis
from hostdesk.models.errors import ValidationError

SMTP_SECURITY_MODES = ("none", "starttls", "tls")

# ISO 4217 codes in use (plus XAU/XAG and the like are left out: no one bills hosting in gold).
CURRENCIES = frozenset("""
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP
BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP
GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR
KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK
MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR
SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD
TZS UAH UGX USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
""".split())

_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HOST = re.compile(r"^[A-Za-z0-9._:\[\]-]{1,253}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class Settings:
    currency: str = "USD"  # new invoices are written in it; each keeps its own afterwards
    locale: str = "en_US"  # how amounts read: $3.99 (en_US), 3,99 € (de_DE)
    timezone: str = "UTC"
    invoice_days: int = 14
    invoice_days_per_cycle: dict = field(default_factory=dict)  # cycle value -> days
    continuous_invoicing: bool = False
    prorata_day_basis: DayBasis = DayBasis.CALENDAR
    suspend_enabled: bool = True
    suspend_days: int = 5
    terminate_enabled: bool = True
    terminate_days: int = 30
    process_cancellations: bool = True
    credit_on_downgrade: bool = True
    send_invoice_emails: bool = True
    reminder_days_before: int = 7  # "unpaid" reminder this many days before the due date
    overdue_reminder_days: tuple = (1, 7, 14)  # overdue reminders this many days after
    company_name: str = "Example Hosting"
    admin_notice_email: str = "billing@example.com"
    from_email: str = "billing@example.com"
    email_html: bool = False  # add an HTML part (from the same template) to every email
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_security: str = "none"  # none | starttls | tls
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout: float = 10.0  # seconds for one whole SMTP conversation (connect to QUIT)
    email_max_attempts: int = 10
    module_max_attempts: int = 5
    # The payment methods a gateway may report a payment with (comma separated), until the
    # catalog keeps its own list.
    # Rows a daily task handles per transaction; for invoicing, clients per chunk. At 1M
    # services 5000 made a normal day ~17% quicker than 2000 (fewer commits rewriting the
    # same index pages) and a day with everything due ~5% slower (a larger working set).
    batch_size: int = 5000
    # The daily run as a whole stops after this long (the tasks not reached are reported).
    run_deadline_minutes: int = 240
    # Termination guard (rules §11): a run that would terminate more than this share of the
    # active services, or more than this many, terminates nothing until an admin confirms.
    terminate_guard_percent: int = 5
    terminate_guard_count: int = 50

    def __post_init__(self):
        if not isinstance(self.prorata_day_basis, DayBasis):
            try:
                object.__setattr__(self, "prorata_day_basis", DayBasis(self.prorata_day_basis))
            except ValueError:
                raise ValidationError("prorata_day_basis", "must be calendar or thirty_day, not "
                                                           f"{self.prorata_day_basis!r}") from None
        if isinstance(self.overdue_reminder_days, list):
            object.__setattr__(self, "overdue_reminder_days", tuple(self.overdue_reminder_days))
        for name, value in ((f.name, getattr(self, f.name)) for f in fields(self)):
            problem = setting_problem(name, value, self)
            if problem:
                raise ValidationError(name, problem)

    def invoice_days_for(self, cycle: Cycle | str) -> int:
        key = cycle.value if isinstance(cycle, Cycle) else str(cycle)
        return int(self.invoice_days_per_cycle.get(key, self.invoice_days))


SECRET_SETTINGS = frozenset({"smtp_password"})


def setting_names() -> list[str]:
    return [f.name for f in fields(Settings)]


# --- what each setting accepts ----------------------------------------------------------

def _whole(low: int, high: int):
    def check(value, _settings):
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be a whole number, not {value!r}"
        if not low <= value <= high:
            return f"must be from {low} to {high}, not {value}"
        return None
    return check


def _flag(value, _settings):
    return None if isinstance(value, bool) else f"must be true or false, not {value!r}"


def _text(max_length: int, *, required: bool):
    def check(value, _settings):
        if not isinstance(value, str):
            return f"must be text, not {value!r}"
        if required and not value.strip():
            return "must not be empty"
        if len(value) > max_length:
            return f"is longer than {max_length} characters"
        if _CONTROL.search(value):
            return "contains a control character"
        return None
    return check


def _currency(value, _settings):
    if value not in CURRENCIES:
        return f"{str(value)[:20]!r} is not an ISO 4217 currency code (e.g. USD, EUR, GBP)"
    return None


def _locale(value, _settings):
    from hostdesk.models.money import check_locale

    try:
        check_locale(value)
    except ValidationError as exc:
        return exc.message
    return None


def _timezone(value, _settings):
    if not isinstance(value, str) or not value.strip():
        return "must be a time zone name such as UTC or Europe/Paris"
    try:
        pendulum.timezone(value)
    except Exception:  # noqa: BLE001 - pendulum raises several kinds for an unknown name
        return f"{value[:60]!r} is not a known time zone (e.g. UTC, Europe/Paris)"
    return None


def _optional_address(value, settings):
    return None if value == "" else _address(value, settings)


def _address(value, _settings):
    if not isinstance(value, str) or len(value) > 254 or not _ADDRESS.match(value):
        return f"{str(value)[:60]!r} is not an email address"
    return None


def _host(value, _settings):
    if not isinstance(value, str) or not _HOST.match(value):
        return f"{str(value)[:60]!r} is not a host name or IP address"
    return None


def _security(value, _settings):
    if value not in SMTP_SECURITY_MODES:
        return f"{str(value)[:20]!r} is not one of {', '.join(SMTP_SECURITY_MODES)}"
    return None


def _timeout(value, _settings):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a number of seconds, not {value!r}"
    if not math.isfinite(value) or not 0 < value <= 600:
        return f"must be above 0 and at most 600 seconds, not {value}"
    return None


def _per_cycle(value, _settings):
    if not isinstance(value, dict):
        return "must be a table of billing cycle = days"
    cycles = {c.value for c in Cycle if c.months is not None}
    for key, days in value.items():
        if key not in cycles:
            return (f"{str(key)[:20]!r} is not a repeating billing cycle "
                    f"({', '.join(sorted(cycles))})")
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650:
            return f"{key}: days must be a whole number from 0 to 3650, not {days!r}"
    return None


def _reminder_days(value, _settings):
    if not isinstance(value, tuple) or len(value) > 3:
        return "must list at most 3 days (one per overdue reminder template)"
    if any(isinstance(d, bool) or not isinstance(d, int) or not 1 <= d <= 3650 for d in value):
        return f"each day must be a whole number from 1 to 3650, not {list(value)}"
    if list(value) != sorted(set(value)):
        return f"the days must increase, not {list(value)}"
    return None


def _terminate_days(value, settings):
    problem = _whole(0, 3650)(value, settings)
    if problem is None and settings.suspend_enabled and settings.terminate_enabled \
            and value < settings.suspend_days:
        return (f"must not be less than suspend_days ({settings.suspend_days}): a service is "
                "suspended before it is terminated")
    return problem


_CHECKS = {
    "currency": _currency,
    "timezone": _timezone,
    "invoice_days": _whole(0, 3650),
    "invoice_days_per_cycle": _per_cycle,
    "continuous_invoicing": _flag,
    "prorata_day_basis": lambda value, s: None,  # coerced in __post_init__
    "suspend_enabled": _flag,
    "suspend_days": _whole(0, 3650),
    "terminate_enabled": _flag,
    "terminate_days": _terminate_days,
    "process_cancellations": _flag,
    "credit_on_downgrade": _flag,
    "send_invoice_emails": _flag,
    "reminder_days_before": _whole(0, 365),
    "overdue_reminder_days": _reminder_days,
    "company_name": _text(200, required=True),
    "admin_notice_email": _optional_address,
    "from_email": _address,
    "smtp_host": _host,
    "smtp_port": _whole(1, 65535),
    "smtp_security": _security,
    "smtp_username": _text(200, required=False),
    "smtp_password": _text(500, required=False),
    "smtp_timeout": _timeout,
    "email_max_attempts": _whole(1, 1000),
    "module_max_attempts": _whole(1, 1000),
    "batch_size": _whole(1, 1_000_000),
    "run_deadline_minutes": _whole(1, 24 * 60),
    "terminate_guard_percent": _whole(0, 100),
    "terminate_guard_count": _whole(0, 10_000_000),
    "locale": _locale,
    "email_html": _flag,
}


def setting_problem(name: str, value, settings: "Settings") -> str | None:
    """What is wrong with `value` for setting `name` (None when it is fine)."""
    return _CHECKS[name](value, settings)
