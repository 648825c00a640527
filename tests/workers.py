"""Functions run in separate processes by the concurrency tests (each binds its own connection)."""

import time
from tests.factories import as_login


def record_payment(url: str, invoice_id: int, ref: str, start_at: float) -> str:
    import pendulum

    from hostdesk.models import invoicing
    from hostdesk.models.db import bind
    from hostdesk.models.errors import ValidationError

    db = bind(url)
    db.connect()
    while time.time() < start_at:
        time.sleep(0.001)
    try:
        result = invoicing.record_payment(invoice_id, "10.00", date=pendulum.date(2026, 1, 1),
                                          method="card", transaction_ref=ref, admin=as_login(ref))
        if result.duplicate:
            return "duplicate"
        return "credited" if result.credited and not result.applied_lines else "paid"
    except ValidationError as exc:
        return f"refused: {exc}"
    finally:
        db.close()


def admin_session(url: str, seed: int, seconds: float, login: str) -> dict:
    """Random admin work (payments, edits, module commands) until the deadline; returns counts.

    Only the refusals an admin may meet (stale save, already paid, command not applicable) are
    counted; anything else — a "database is locked" error included — fails the test."""
    import random

    import pendulum

    from hostdesk.automation.provisioning.runner import run_command
    from hostdesk.models import invoicing, secrets, services
    from hostdesk.models.clock import Clock
    from hostdesk.models.db import bind
    from hostdesk.models.errors import RuleViolation, StaleRecordError, ValidationError, ValidationErrors
    from hostdesk.models.permissions import find_admin
    from hostdesk.models.schema import Invoice, Service
    from hostdesk.models.settings import Settings

    secrets.configure("stress")
    db = bind(url)
    db.connect()
    rng = random.Random(seed)
    admin = find_admin(login)
    counts = {"payments": 0, "duplicate_payments": 0, "edits": 0, "stale": 0, "commands": 0,
              "refused": 0}
    deadline = time.time() + seconds
    while time.time() < deadline:
        action = rng.random()
        try:
            if action < 0.45:
                unpaid = list(Invoice.select(Invoice.id, Invoice.total, Invoice.amount_paid)
                              .where(Invoice.status == "unpaid").order_by(Invoice.id).limit(20))
                if not unpaid:
                    continue
                invoice = rng.choice(unpaid)
                ref = f"{login}-{rng.randrange(40)}"  # references repeat: duplicates happen
                result = invoicing.record_payment(
                    invoice.id, str(invoice.total - invoice.amount_paid),
                    date=pendulum.date(2026, 6, 1), method="card", transaction_ref=ref,
                    admin=as_login(login))
                counts["duplicate_payments" if result.duplicate else "payments"] += 1
            elif action < 0.8:
                service = Service.get_by_id(rng.randrange(1, 201))
                form = {"admin_notes": f"note {rng.random()}", "recurring_amount": f"{rng.randrange(5, 50)}.00"}
                services.save_service(service.id, service.version,
                                      services.parse_service_form(form), admin,
                                      clock=Clock("UTC", pendulum.date(2026, 6, 1)))
                counts["edits"] += 1
            else:
                service_id = rng.randrange(1, 201)
                command = "unsuspend" if Service.get_by_id(service_id).status == "suspended" else "suspend"
                run_command(service_id, command, admin=find_admin(login),
                            clock=Clock("UTC", pendulum.date(2026, 6, 1)), settings=Settings(),
                            reason="stress")
                counts["commands"] += 1
        except StaleRecordError:
            counts["stale"] += 1
        except (ValidationError, ValidationErrors, RuleViolation):
            counts["refused"] += 1
    db.close()
    return counts


def daily_runs(url: str, seconds: float) -> dict:
    """The daily run, day after day, until the deadline."""
    import pendulum

    from hostdesk.automation.cron import run_daily
    from hostdesk.models import secrets
    from hostdesk.models.clock import Clock
    from hostdesk.models.db import bind
    from hostdesk.models.errors import RunInProgress
    from hostdesk.models.settings import Settings

    secrets.configure("stress")
    db = bind(url)
    db.connect()
    day, runs, failures = pendulum.date(2026, 5, 20), 0, []
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            report = run_daily(Settings(batch_size=50), Clock("UTC", day))
            runs += 1
            failures += [f for t in report.tasks.values() for f in t["failures"]
                         if t is not report.tasks.get("email")]
        except RunInProgress:
            pass
        day = day.add(days=1)
    db.close()
    return {"runs": runs, "failures": failures}
