"""Client credit (rules §5): an overpayment, a downgrade's difference or an admin's credit
adds to the client's balance, each with a ledger entry."""

from decimal import Decimal

from hostdesk.models import audit
from hostdesk.models.db import database
from hostdesk.models.money import format_money
from hostdesk.models.parsing import parse_amount
from hostdesk.models.schema import Admin, Client, CreditEntry


def add_client_credit(client_id: int, amount: Decimal, description: str,
                      invoice_id: int | None) -> None:
    """The balance and its ledger entry (inside the caller's transaction)."""
    Client.update(credit=Client.credit + amount, version=Client.version + 1).where(
        Client.id == client_id).execute()
    CreditEntry.create(client=client_id, amount=amount, description=description, invoice=invoice_id)


def credit_client(client_id: int, amount, description: str, admin: Admin,
                  invoice_id: int | None = None) -> None:
    """`add_credit` without the permission check, for a rule acting under its own (a
    downgrade's credit is given under "create upgrade/downgrade orders")."""
    amount = parse_amount(str(amount), "credit", allow_zero=False)
    with database.atomic():
        add_client_credit(client_id, amount, description, invoice_id)
        audit.record(admin.login, "client.credit", "client", client_id, client_id=client_id,
                     description=f"credit {format_money(amount)}: {description}",
                     after={"credit_added": amount})
