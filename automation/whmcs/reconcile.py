"""Reconciliation: the money of the WHMCS database (read with its own SQL sums) against what
hostdesk holds for the imported rows, equal to the cent once the rows the report names as
skipped are left out."""

from hostdesk.automation.whmcs.context import Context, status_or_text
from hostdesk.models.db import database

IMPORTED = ("SELECT m.target_id FROM import_map m JOIN import_table t ON t.id = m.table_id "
            "WHERE t.source = 'whmcs' AND t.name = '{table}'")
IN_CURRENCY = "JOIN tblclients c ON c.id = {owner} WHERE c.currency = %s"


# The source's figures (each with the chosen currency as its one argument): read early, on
# the reading thread, so the reconciliation at the end waits for hostdesk's sums only.
INVOICES = ("SELECT i.status AS status, COUNT(*) AS n, SUM(i.total) AS total FROM tblinvoices i "
            + IN_CURRENCY.format(owner="i.userid") + " GROUP BY i.status")
PAID = ("SELECT SUM(CASE WHEN a.amountin > 0 THEN a.amountin ELSE 0 END) AS received, "
        "SUM(a.amountin - a.amountout) AS net FROM tblaccounts a "
        "JOIN tblinvoices i ON i.id = a.invoiceid " + IN_CURRENCY.format(owner="i.userid"))
CREDIT = "SELECT SUM(credit) AS s FROM tblclients WHERE currency = %s"
MOVES = "SELECT SUM(k.amount) AS s FROM tblcredit k " + IN_CURRENCY.format(owner="k.clientid")
SERVICES = "SELECT COUNT(*) AS n FROM tblhosting h " + IN_CURRENCY.format(owner="h.userid")
SOURCE_QUERIES = (INVOICES, PAID, CREDIT, MOVES, SERVICES)


# hostdesk's figures for the imported rows (`hostdesk_sums`, run by the writer: on its
# connection, inside its transaction).
HOSTDESK_SUMS = {
    "payments": "SELECT SUM(amount) FROM payment WHERE id IN ("
                + IMPORTED.format(table="tblaccounts") + ")",
    "net amount paid": "SELECT SUM(amount_paid) FROM invoice WHERE id IN ("
                       + IMPORTED.format(table="tblinvoices") + ")",
    "client credit": "SELECT SUM(credit) FROM client WHERE id IN ("
                     + IMPORTED.format(table="tblclients") + ")",
    "credit movements": "SELECT SUM(amount) FROM credit_entry WHERE id IN ("
                        + IMPORTED.format(table="tblcredit") + ")",
    "services count": "SELECT COUNT(*) FROM service WHERE id IN ("
                      + IMPORTED.format(table="tblhosting") + ")",
}
INVOICE_SUMS = ("SELECT status, COUNT(*), SUM(total) FROM invoice WHERE id IN ("
                + IMPORTED.format(table="tblinvoices") + ") GROUP BY status")


def _cents(value) -> int:
    return int((value or 0) * 100)


def hostdesk_sums() -> dict:
    """What hostdesk holds of the imported rows: figure -> cents (or count), and per invoice
    status (count, total cents) under "invoices"."""
    sums = {figure: int(database.execute_sql(sql).fetchone()[0] or 0)
            for figure, sql in HOSTDESK_SUMS.items()}
    sums["invoices"] = {status: (int(n), int(total or 0)) for status, n, total in
                        database.execute_sql(INVOICE_SUMS)}
    return sums


def figures(ctx: Context, mine: dict) -> list[dict]:
    """The source's figures (less what the report skipped) against `mine` (`hostdesk_sums`)."""
    result = []

    def add(figure: str, source: int, hostdesk: int, count: bool = False) -> None:
        source -= ctx.excluded.get(figure, 0)
        result.append({"figure": figure, "source": source, "hostdesk": hostdesk,
                       "equal": source == hostdesk, "count": count})

    source_invoices = {}
    for row in ctx.source.rows(INVOICES, (ctx.currency_id,)):
        status = status_or_text(row["status"])
        n, total = source_invoices.get(status, (0, 0))
        source_invoices[status] = (n + row["n"], total + _cents(row["total"]))
    hostdesk_invoices = mine["invoices"]
    for status in sorted(set(source_invoices) | set(hostdesk_invoices)):
        source_n, source_total = source_invoices.get(status, (0, 0))
        mine_n, mine_total = hostdesk_invoices.get(status, (0, 0))
        add(f"invoices {status} count", source_n, mine_n, count=True)
        add(f"invoices {status}", source_total, mine_total)

    paid = ctx.source.rows(PAID, (ctx.currency_id,))[0]
    add("payments", _cents(paid["received"]), mine["payments"])
    add("net amount paid", _cents(paid["net"]), mine["net amount paid"])
    credit = ctx.source.rows(CREDIT, (ctx.currency_id,))[0]["s"]
    add("client credit", _cents(credit), mine["client credit"])
    moves = ctx.source.rows(MOVES, (ctx.currency_id,))[0]["s"]
    add("credit movements", _cents(moves), mine["credit movements"])
    services = ctx.source.rows(SERVICES, (ctx.currency_id,))[0]["n"]
    skipped = sum(1 for s in ctx.report.table("tblhosting").skipped
                  if not s["reason"].startswith("orphan: client #") or "skipped" in s["reason"])
    result.append({"figure": "services count", "source": int(services) - skipped,
                   "hostdesk": mine["services count"], "count": True})
    result[-1]["equal"] = result[-1]["source"] == result[-1]["hostdesk"]
    return result
