"""Functions run in separate processes by the concurrency tests (each binds its own connection)."""

import time


def record_payment(url: str, invoice_id: int, ref: str, start_at: float) -> str:
    import pendulum

    from models import invoicing
    from models.db import bind
    from models.errors import ValidationError

    db = bind(url)
    db.connect()
    while time.time() < start_at:
        time.sleep(0.001)
    try:
        result = invoicing.record_payment(invoice_id, "10.00", date=pendulum.date(2026, 1, 1),
                                          method="card", transaction_ref=ref, admin_login=ref)
        return "duplicate" if result.duplicate else "paid"
    except ValidationError as exc:
        return f"refused: {exc}"
    finally:
        db.close()
