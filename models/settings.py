"""The settings the rules name, with the rulebook's defaults. Pure data: loading is elsewhere."""

from dataclasses import dataclass, field, fields

from models.cycles import Cycle, DayBasis


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
    smtp_timeout: float = 10.0
    email_max_attempts: int = 10
    module_max_attempts: int = 5
    # Rows a daily task handles per transaction; for invoicing, clients per chunk. At 1M
    # services 5000 made a normal day ~17% quicker than 2000 (fewer commits rewriting the
    # same index pages) and a day with everything due ~5% slower (a larger working set).
    batch_size: int = 5000

    def invoice_days_for(self, cycle: Cycle | str) -> int:
        key = cycle.value if isinstance(cycle, Cycle) else str(cycle)
        return int(self.invoice_days_per_cycle.get(key, self.invoice_days))


SECRET_SETTINGS = frozenset({"smtp_password"})


def setting_names() -> list[str]:
    return [f.name for f in fields(Settings)]
