"""A deterministic WHMCS 8 host in a MariaDB database, for the import tests and the bench.

`build_whmcs(conn, HostSpec(...))` creates WHMCS's tables (tests/whmcs_schema.sql) and fills
them the way WHMCS leaves them after years of billing: every service status and cycle,
renewal invoices paid, unpaid, cancelled, refunded and in collections, partial payments,
credit, promotions, addons, domains, cancellation requests, and WHMCS's odd values
(`0000-00-00`, `-1` prices, empty strings). With `odd_rows`, a few rows the importer must
refuse by name: an orphan service, an unknown cycle, a negative amount, a broken invoice.
"""

from __future__ import annotations

import calendar
import datetime
import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

SCHEMA = Path(__file__).with_name("whmcs_schema.sql")
ZERO_DATE = "0000-00-00"
ZERO_TIME = "0000-00-00 00:00:00"
CENT = Decimal("0.01")

CYCLES = {"Monthly": 1, "Quarterly": 3, "Semi-Annually": 6, "Annually": 12, "Biennially": 24,
          "Triennially": 36}
PRICE_COLUMNS = ["monthly", "quarterly", "semiannually", "annually", "biennially", "triennially"]
SERVICE_STATUSES = [("Active", 60), ("Suspended", 8), ("Pending", 7), ("Terminated", 8),
                    ("Cancelled", 8), ("Fraud", 3), ("Completed", 6)]
GATEWAYS = ["paypal", "banktransfer", "stripe"]
# (name, type, group, paytype, servertype, autosetup, monthly base price, cycles offered)
PRODUCTS = [
    ("Starter", "hostingaccount", 1, "recurring", "cpanel", "payment", "4.99", 6),
    ("Business", "hostingaccount", 1, "recurring", "cpanel", "order", "9.95", 6),
    ("Reseller S", "reselleraccount", 2, "recurring", "cpanel", "on", "19.00", 4),
    ("VPS 2GB", "server", 3, "recurring", "", "", "15.00", 5),
    ("Free Plan", "hostingaccount", 1, "free", "", "", "0.00", 0),
    ("Setup Service", "other", 3, "onetime", "", "", "49.00", 0),
    ("Legacy", "hostingaccount", 1, "recurring", "", "payment", "3.00", 4),
    ("Unpriced", "other", 3, "recurring", "", "", "-1", 0),
]


def add_months(day: datetime.date, months: int, anchor: int) -> datetime.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return datetime.date(year, month, min(anchor, calendar.monthrange(year, month)[1]))


def money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class HostSpec:
    clients: int = 300
    seed: int = 7
    today: datetime.date = datetime.date(2026, 6, 15)
    max_periods: int = 4  # renewals billed per service at most (history length)
    services_per_client: tuple = (0, 4)
    second_currency_clients: int = 0  # the last N clients bill in EUR
    odd_rows: bool = True
    invoice_ahead_days: int = 7  # WHMCS invoiced due dates up to today + this


@dataclass
class Host:
    """What was generated, for the tests' expectations."""

    tables: dict = field(default_factory=lambda: {})

    def add(self, table: str, row: dict) -> dict:
        self.tables.setdefault(table, []).append(row)
        return row

    def rows(self, table: str) -> list[dict]:
        return self.tables.get(table, [])

    def next_id(self, table: str) -> int:
        return len(self.tables.get(table, [])) + 1


class _Builder:
    def __init__(self, spec: HostSpec):
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.host = Host()
        self.today = spec.today
        self.prices: dict[tuple[int, int], dict] = {}  # (product, currency) -> pricing row

    # --- catalog ------------------------------------------------------------------------
    def catalog(self) -> None:
        h = self.host
        h.add("tblcurrencies", dict(id=1, code="USD", prefix="$", suffix=" USD", format=1,
                                    rate=Decimal("1"), default=1))
        h.add("tblcurrencies", dict(id=2, code="EUR", prefix="€", suffix=" EUR", format=1,
                                    rate=Decimal("0.9"), default=0))
        for gid, (name, separate) in enumerate([("Resellers", "on"), ("VIP", ""),
                                                ("Staff", "")], 1):
            h.add("tblclientgroups", dict(id=gid, groupname=name, groupcolour=None,
                                          discountpercent=Decimal("0"), susptermexempt="",
                                          separateinvoices=separate))
        for order, gateway in enumerate(GATEWAYS):
            h.add("tblpaymentgateways", dict(id=order + 1, gateway=gateway, setting="name",
                                             value=gateway.title(), order=order))
        for gid, name in enumerate(["Shared Hosting", "Reseller Hosting", "Servers"], 1):
            h.add("tblproductgroups", dict(id=gid, name=name, slug=name.lower().replace(" ", "-"),
                                           headline=None, tagline="", orderfrmtpl="",
                                           disabledgateways="", hidden=0, order=gid))
        for pid, (name, kind, gid, paytype, module, autosetup, base, offered) in \
                enumerate(PRODUCTS, 1):
            h.add("tblproducts", dict(
                id=pid, type=kind, gid=gid, name=name, slug=name.lower(), description=f"{name} plan",
                hidden=int(name == "Legacy"), welcomeemail=5 if pid == 1 else 0, paytype=paytype,
                allowqty=int(pid == 4), autosetup=autosetup, servertype=module, servergroup=0,
                autoterminatedays=0, upgradeemail=0, order=pid, retired=int(name == "Legacy")))
            for currency, rate in ((1, Decimal("1")), (2, Decimal("0.9"))):
                row = dict(type="product", currency=currency, relid=pid)
                for i, column in enumerate(PRICE_COLUMNS):
                    months = list(CYCLES.values())[i]
                    if paytype == "onetime" and i == 0:
                        price = money(Decimal(base) * rate)
                    elif paytype == "recurring" and i < offered:
                        price = money(Decimal(base) * months * rate * (Decimal("0.9") if months >= 12 else 1))
                    else:
                        price = Decimal("-1.00")
                    row[column] = price
                    row["msqabt"[i] + "setupfee"] = Decimal("5.00") if (pid == 4 and price >= 0) \
                        else (Decimal("-1.00") if price < 0 else Decimal("0.00"))
                self.prices[(pid, currency)] = row
                h.add("tblpricing", dict(id=h.next_id("tblpricing"), **row))
        # configurable options: VPS RAM (dropdown) and extra IPs (quantity), on products 2 and 4
        h.add("tblproductconfiggroups", dict(id=1, name="VPS options", description=""))
        for pid in (2, 4):
            h.add("tblproductconfiglinks", dict(id=h.next_id("tblproductconfiglinks"), gid=1, pid=pid))
        h.add("tblproductconfigoptions", dict(id=1, gid=1, optionname="RAM", optiontype="1",
                                              qtyminimum=0, qtymaximum=0, order=1, hidden=0))
        h.add("tblproductconfigoptions", dict(id=2, gid=1, optionname="Extra IPs", optiontype="4",
                                              qtyminimum=0, qtymaximum=8, order=2, hidden=0))
        for sid, (config, name, price) in enumerate([(1, "2 GB", "0.00"), (1, "4 GB", "6.00"),
                                                     (2, "IP address", "2.00")], 1):
            h.add("tblproductconfigoptionssub", dict(id=sid, configid=config, optionname=name,
                                                     sortorder=sid, hidden=0))
            for currency in (1, 2):
                row = dict(id=h.next_id("tblpricing"), type="configoptions", currency=currency,
                           relid=sid)
                for i, column in enumerate(PRICE_COLUMNS):
                    row[column] = money(Decimal(price) * list(CYCLES.values())[i])
                    row["msqabt"[i] + "setupfee"] = Decimal("0.00")
                h.add("tblpricing", row)
        for aid, (name, packages, price) in enumerate([("Daily Backups", "1,2,4", "2.00"),
                                                       ("SSL Certificate", "1,2", "5.00")], 1):
            h.add("tbladdons", dict(id=aid, packages=packages, name=name, description=name,
                                    billingcycle="recurring", allowqty=0, tax=0, showorder=1,
                                    hidden=0, retired=0, downloads="", autoactivate="payment",
                                    suspendproduct=0, welcomeemail=0, type="", module="",
                                    server_group_id=0, prorate=0, weight=0, autolinkby=""))
            for currency in (1, 2):
                row = dict(id=h.next_id("tblpricing"), type="addon", currency=currency, relid=aid)
                for i, column in enumerate(PRICE_COLUMNS):
                    row[column] = money(Decimal(price) * list(CYCLES.values())[i]) if i in (0, 3) \
                        else Decimal("-1.00")
                    row["msqabt"[i] + "setupfee"] = Decimal("0.00") if i in (0, 3) else Decimal("-1.00")
                h.add("tblpricing", row)
        promos = [("SPRING10", "Percentage", 1, "10.00", "Monthly,Annually", "1,2", ZERO_DATE),
                  ("FIVEOFF", "Fixed Amount", 0, "5.00", "", "", "2025-12-31"),
                  ("FREESETUP", "Free Setup", 0, "0.00", "", "4", ZERO_DATE)]
        if self.spec.odd_rows:
            promos.append(("BROKEN", "Percentage", 0, "-5.00", "", "", ZERO_DATE))
        for pid, (code, kind, recurring, value, cycles, applies, expiry) in enumerate(promos, 1):
            h.add("tblpromotions", dict(
                id=pid, code=code, type=kind, recurring=recurring, value=Decimal(value),
                cycles=cycles, appliesto=applies, requires="", requiresexisting=0,
                startdate="2024-01-01", expirationdate=expiry, maxuses=0, uses=3,
                lifetimepromo=0, applyonce=0, newsignups=0, existingclient=0, onceperclient=0,
                recurfor=0, upgrades=0, upgradeconfig="", notes=""))
        for tid, (extension, register, renew) in enumerate(
                [(".com", "12.00", "12.00"), (".net", "14.00", "14.00"), (".org", "11.00", "-1")], 1):
            h.add("tbldomainpricing", dict(id=tid, extension=extension, dnsmanagement=1,
                                           emailforwarding=1, idprotection=1, eppcode=1,
                                           autoreg="", order=tid))
            for kind, price in (("domainregister", register), ("domaintransfer", register),
                                ("domainrenew", renew)):
                for currency in (1, 2):
                    row = dict(id=h.next_id("tblpricing"), type=kind, currency=currency, relid=tid,
                               msetupfee=Decimal(price),
                               qsetupfee=Decimal(price) * 2 if Decimal(price) > 0 else Decimal("-1"))
                    for column in ("ssetupfee", "asetupfee", "bsetupfee", "tsetupfee", *PRICE_COLUMNS):
                        row[column] = Decimal("-1.00")
                    h.add("tblpricing", row)
        for sid, (name, module, password) in enumerate([("web1", "cpanel", "ENC:x1"),
                                                        ("vps1", "", ""),
                                                        ("web1", "cpanel", "")], 1):
            h.add("tblservers", dict(id=sid, name=name, ipaddress=f"10.0.0.{sid}", assignedips="",
                                     hostname=f"{name}.example.net", monthlycost=Decimal("0"),
                                     noc="", statusaddress="", maxaccounts=500, type=module,
                                     username="root", password=password,
                                     accesshash="TOKEN" if sid == 2 else "", secure="on", port=None,
                                     active=1, disabled=0))

    # --- clients and their history -------------------------------------------------------
    def clients(self) -> None:
        spec, rng, h = self.spec, self.rng, self.host
        for cid in range(1, spec.clients + 1):
            currency = 2 if cid > spec.clients - spec.second_currency_clients else 1
            created = self.today - datetime.timedelta(days=rng.randint(400, 1500))
            gateway = rng.choice(GATEWAYS + [""])
            status = rng.choices(["Active", "Inactive", "Closed"], [85, 10, 5])[0]
            h.add("tblclients", dict(
                id=cid, uuid=f"uuid-{cid}", firstname=f"First{cid}", lastname=f"Last{cid}",
                companyname=rng.choice(["", "", f"Company {cid} Ltd"]),
                email=f"client{cid}@example.com", address1=f"{cid} Main Street", address2="",
                city="Springfield", state="", postcode=f"{10000 + cid}",
                country=rng.choice(["US", "DE", "GB"]), phonenumber="", tax_id="", password="x",
                currency=currency, defaultgateway=gateway, credit=Decimal("0.00"), taxexempt=0,
                separateinvoices=int(rng.random() < 0.05), datecreated=created.isoformat(),
                notes="", groupid=rng.choice([0, 0, 0, 1, 2, 3]),
                cardtype="Visa" if gateway == "stripe" else "",
                cardlastfour="4242" if gateway == "stripe" else "", status=status,
                created_at=f"{created.isoformat()} 10:00:00", updated_at=ZERO_TIME))
            self.credit = Decimal("0")
            if rng.random() < 0.1:
                self._credit(cid, money(rng.randint(500, 5000) / 100), "Add Funds", 0, created)
            for _ in range(rng.randint(*spec.services_per_client)):
                self.service(cid, currency, gateway or "banktransfer")
            if rng.random() < 0.35:
                self.domain(cid, currency, gateway or "banktransfer")
            if rng.random() < 0.03:
                self.invoice(cid, self.today - datetime.timedelta(days=2), "Draft",
                             [("Item", 0, "Custom work", money("25.00"), None)],
                             gateway or "banktransfer")
            h.rows("tblclients")[-1]["credit"] = self.credit

    def _credit(self, cid, amount, description, relid, day) -> None:
        self.credit += amount
        self.host.add("tblcredit", dict(id=self.host.next_id("tblcredit"), clientid=cid,
                                        admin_id=0, date=day.isoformat(), description=description,
                                        amount=amount, relid=relid))

    def service(self, cid, currency, gateway, *, cycle=None, status=None, amount=None,
                userid=None) -> int:
        rng, h = self.rng, self.host
        pid = rng.choices(range(1, 8), [30, 25, 8, 12, 6, 4, 5])[0]
        product = PRODUCTS[pid - 1]
        if cycle is None:
            if product[3] == "free":
                cycle = "Free Account"
            elif product[3] == "onetime":
                cycle = "One Time"
            else:
                cycle = rng.choice(list(CYCLES)[:product[7]])
        status = status or rng.choices([s for s, _ in SERVICE_STATUSES],
                                       [w for _, w in SERVICE_STATUSES])[0]
        if amount is None:
            if cycle in CYCLES:
                amount = self.prices[(pid, currency)][PRICE_COLUMNS[list(CYCLES).index(cycle)]]
                if rng.random() < 0.1:
                    amount = money(amount * Decimal("0.8"))  # a custom price
            elif cycle == "One Time":
                amount = self.prices[(pid, currency)]["monthly"]
            else:
                amount = Decimal("0.00")
        months = CYCLES.get(cycle)
        sid = h.next_id("tblhosting")
        periods = rng.randint(0, self.spec.max_periods)
        if months:
            regdate = add_months(self.today, -months * periods, 28) - \
                datetime.timedelta(days=rng.randint(-20, 25))
        else:
            regdate = self.today - datetime.timedelta(days=rng.randint(5, 700))
        promo = 1 if pid in (1, 2) and rng.random() < 0.1 else 0
        order_id = h.next_id("tblorders")
        service = h.add("tblhosting", dict(
            id=sid, userid=userid or cid, orderid=order_id, packageid=pid,
            server=1 if product[4] == "cpanel" else (2 if pid == 4 else 0),
            regdate=regdate.isoformat(), domain="" if rng.random() < 0.1 else f"site{sid}.example.com",
            paymentmethod=gateway, qty=1, firstpaymentamount=amount, amount=amount,
            billingcycle=cycle, nextduedate=ZERO_DATE, nextinvoicedate=ZERO_DATE,
            termination_date=ZERO_DATE, completed_date=ZERO_DATE, domainstatus=status,
            username=f"user{sid}", password="ENC:secret", notes="", subscriptionid="",
            promoid=promo, promocount=0, suspendreason="Overdue on payment" if status == "Suspended" else "",
            overideautosuspend=int(rng.random() < 0.05), overidesuspenduntil=ZERO_DATE,
            dedicatedip="10.1.0.%d" % (sid % 250) if pid == 4 else "", assignedips="", ns1="",
            ns2="", diskusage=0, disklimit=0, bwusage=0, bwlimit=0, lastupdate=ZERO_TIME,
            created_at=f"{regdate.isoformat()} 09:00:00", updated_at=ZERO_TIME))
        first_invoice = None
        if months:
            ndd, first_invoice = self.history("Hosting", sid, cid, gateway, regdate, months,
                                              amount, status, f"{product[0]} - site{sid}",
                                              setup=Decimal("5.00") if pid == 4 else Decimal("0"),
                                              promo=promo)
            service["nextduedate"] = service["nextinvoicedate"] = ndd.isoformat()
            if status in ("Terminated", "Cancelled"):
                service["termination_date"] = min(ndd, self.today).isoformat()
        elif cycle == "One Time" and status not in ("Pending", "Fraud"):
            first_invoice = self.invoice(cid, regdate, "Paid",
                                         [("Hosting", sid, product[0], amount, regdate)], gateway)
        h.add("tblorders", dict(
            id=order_id, ordernum=4_000_000_000 + order_id * 37, userid=userid or cid, contactid=0,
            date=f"{regdate.isoformat()} 09:00:00", nameservers="", promocode="", promotype="",
            promovalue="", orderdata="", amount=amount, paymentmethod=gateway,
            invoiceid=first_invoice or 0, status={"Pending": "Pending", "Fraud": "Fraud",
                                                  "Cancelled": "Cancelled"}.get(status, "Active"),
            ipaddress="", notes=""))
        if pid in (2, 4):
            h.add("tblhostingconfigoptions", dict(id=h.next_id("tblhostingconfigoptions"),
                                                  relid=sid, configid=1,
                                                  optionid=rng.choice([1, 2]), qty=0))
        if months and rng.random() < 0.2:
            self.addon(sid, cid, currency, gateway, regdate, status)
        if months and status in ("Active", "Suspended") and rng.random() < 0.06:
            h.add("tblcancelrequests", dict(id=h.next_id("tblcancelrequests"),
                                            date=f"{self.today.isoformat()} 08:00:00", relid=sid,
                                            reason="Moving elsewhere",
                                            type=rng.choice(["Immediate", "End of Billing Period"])))
        if status == "Cancelled" and rng.random() < 0.5:
            h.add("tblcancelrequests", dict(id=h.next_id("tblcancelrequests"),
                                            date=f"{regdate.isoformat()} 08:00:00", relid=sid,
                                            reason="No longer needed", type="Immediate"))
        return sid

    def addon(self, sid, cid, currency, gateway, regdate, status) -> None:
        rng, h = self.rng, self.host
        aid = h.next_id("tblhostingaddons")
        catalog = rng.choice([0, 1, 2])
        cycle = rng.choice(["Monthly", "Annually"])
        months = CYCLES[cycle]
        price = money({0: "3.00", 1: "2.00", 2: "5.00"}[catalog]) * months
        addon = h.add("tblhostingaddons", dict(
            id=aid, orderid=0, hostingid=sid, addonid=catalog, userid=cid, server=0,
            name="Extra disk" if catalog == 0 else "", qty=1, firstpaymentamount=price,
            setupfee=Decimal("0.00"), recurring=price, billingcycle=cycle, tax="",
            status=status, regdate=regdate.isoformat(), nextduedate=ZERO_DATE,
            nextinvoicedate=ZERO_DATE, termination_date=ZERO_DATE, proratadate=ZERO_DATE,
            paymentmethod=gateway, notes="", subscriptionid=""))
        ndd, _ = self.history("Addon", aid, cid, gateway, regdate, months, price, status,
                              "Addon")
        addon["nextduedate"] = addon["nextinvoicedate"] = ndd.isoformat()

    def domain(self, cid, currency, gateway) -> None:
        rng, h = self.rng, self.host
        did = h.next_id("tbldomains")
        years = rng.choice([1, 1, 1, 2])
        extension = rng.choice([".com", ".com", ".net"])
        price = money(Decimal("12.00" if extension == ".com" else "14.00") * years)
        status = rng.choices(["Active", "Expired", "Cancelled", "Pending", "Transferred Away",
                              "Grace"], [70, 8, 6, 6, 5, 5])[0]
        regdate = add_months(self.today, -12 * years * rng.randint(0, 2), 28) - \
            datetime.timedelta(days=rng.randint(-25, 25))
        domain = h.add("tbldomains", dict(
            id=did, userid=cid, orderid=0, type=rng.choice(["Register", "Transfer"]),
            registrationdate=regdate.isoformat(), domain=f"name{did}{extension}",
            firstpaymentamount=price, recurringamount=price, registrar="enom",
            registrationperiod=years, expirydate=ZERO_DATE, subscriptionid="", promoid=0,
            status=status, nextduedate=ZERO_DATE, nextinvoicedate=ZERO_DATE, additionalnotes="",
            paymentmethod=gateway, dnsmanagement=int(rng.random() < 0.3), emailforwarding=0,
            idprotection=int(rng.random() < 0.2), is_premium=None,
            donotrenew=int(rng.random() < 0.1), reminders="", synced=0))
        service_status = {"Active": "Active", "Expired": "Suspended", "Grace": "Suspended",
                          "Pending": "Pending"}.get(status, "Cancelled")
        ndd, _ = self.history("Domain", did, cid, gateway, regdate, 12 * years, price,
                              service_status, f"Domain name{did}{extension}")
        domain["nextduedate"] = domain["nextinvoicedate"] = ndd.isoformat()
        domain["expirydate"] = ndd.isoformat() if status != "Pending" else ZERO_DATE

    def history(self, kind, relid, cid, gateway, regdate, months, amount, status, label, *,
                setup=Decimal("0"), promo=0) -> tuple[datetime.date, int | None]:
        """Invoice a billable item from its registration on, as WHMCS would have; returns its
        next due date and its first invoice."""
        rng, today = self.rng, self.today
        due, first, anchor = regdate, None, regdate.day
        ends = None
        if status in ("Terminated", "Cancelled", "Completed"):
            ends = add_months(regdate, months * rng.randint(0, self.spec.max_periods), anchor)
        while True:
            if due > today + datetime.timedelta(days=self.spec.invoice_ahead_days):
                break
            end = add_months(due, months, anchor)
            items = [("DomainRegister" if kind == "Domain" and due == regdate else kind, relid,
                      f"{label} ({due.isoformat()} - {(end - datetime.timedelta(days=1)).isoformat()})",
                      amount, due)]
            if due == regdate and setup:
                items.append(("Setup", relid, f"{label} setup fee", setup, due))
            if promo:
                items.append(("PromoHosting", relid, "Promotional code SPRING10",
                              -money(amount / 10), due))
            if status == "Pending":
                invoice = self.invoice(cid, due, "Unpaid", items, gateway)
                return due, first or invoice
            if status == "Fraud":
                invoice = self.invoice(cid, due, "Cancelled", items, gateway)
                return due, first or invoice
            if ends is not None and due >= ends:
                if status != "Completed":
                    invoice = self.invoice(cid, due, "Cancelled", items, gateway)
                    first = first or invoice
                break
            old = due < today - datetime.timedelta(days=30)
            if status == "Suspended" and not old and due < today - datetime.timedelta(days=5):
                choice = "Unpaid"
            elif old:
                choice = rng.choices(["Paid", "Refunded", "Collections"], [94, 3, 3])[0]
            else:
                choice = rng.choice(["Paid", "Unpaid"])
            invoice = self.invoice(cid, due, choice, items, gateway)
            first = first or invoice
            if choice in ("Unpaid", "Collections"):
                return due, first
            due = end
        return due, first

    def invoice(self, cid, due, status, items, gateway) -> int:
        rng, h = self.rng, self.host
        iid = h.next_id("tblinvoices")
        subtotal = sum((amount for *_, amount, _ in items), Decimal("0.00"))
        tax = money(subtotal * Decimal("0.2")) if rng.random() < 0.1 and subtotal > 0 else Decimal("0.00")
        credit = Decimal("0.00")
        if status == "Paid" and self.credit > 0 and subtotal > 0 and rng.random() < 0.5:
            credit = min(self.credit, subtotal + tax)
            self._credit(cid, -credit, f"Credit Applied to Invoice #{iid}", iid, due)
        total = subtotal + tax - credit
        date = due - datetime.timedelta(days=7)
        paid_at = ZERO_TIME
        for item_type, relid, description, amount, item_due in items:
            h.add("tblinvoiceitems", dict(
                id=h.next_id("tblinvoiceitems"), invoiceid=iid, userid=cid, type=item_type,
                relid=relid, description=description, amount=amount, taxed=int(tax > 0),
                duedate=item_due.isoformat() if item_due else None, paymentmethod=gateway,
                notes=""))
        if status in ("Paid", "Refunded") and total > 0:
            parts = [total] if rng.random() < 0.85 else [money(total / 2), total - money(total / 2)]
            for n, part in enumerate(parts):
                paid_day = min(due, self.today) - datetime.timedelta(days=3 - n)
                self._payment(cid, iid, gateway, paid_day, part, Decimal("0"))
                paid_at = f"{paid_day.isoformat()} 12:00:00"
            if status == "Refunded":
                self._payment(cid, iid, gateway, min(due, self.today), Decimal("0"), total,
                              refund_of=h.rows("tblaccounts")[-1]["id"])
        elif status == "Paid":
            paid_at = f"{min(due, self.today).isoformat()} 12:00:00"
        elif status == "Unpaid" and total > 1 and rng.random() < 0.2:
            self._payment(cid, iid, gateway, min(due, self.today), money(total / 2), Decimal("0"))
        h.add("tblinvoices", dict(
            id=iid, userid=cid, invoicenum="", date=date.isoformat(), duedate=due.isoformat(),
            datepaid=paid_at, last_capture_attempt=ZERO_TIME, date_refunded=ZERO_TIME,
            date_cancelled=ZERO_TIME, subtotal=subtotal, credit=credit, tax=tax,
            tax2=Decimal("0.00"), total=total, taxrate=Decimal("20.000") if tax else Decimal("0"),
            taxrate2=Decimal("0"), status=status, paymentmethod=gateway, paymethodid=None,
            notes="", created_at=f"{date.isoformat()} 06:00:00", updated_at=ZERO_TIME))
        return iid

    def _payment(self, cid, iid, gateway, day, amount_in, amount_out, refund_of=0) -> None:
        h = self.host
        aid = h.next_id("tblaccounts")
        fee = money(amount_in * Decimal("0.029")) if gateway in ("paypal", "stripe") else Decimal("0")
        h.add("tblaccounts", dict(
            id=aid, userid=cid, currency=0, gateway=gateway, date=f"{day.isoformat()} 12:00:00",
            description=f"Invoice Payment (#{iid})", amountin=amount_in, fees=fee,
            amountout=amount_out, rate=Decimal("1"), transid=f"TX{aid:08d}", invoiceid=iid,
            refundid=refund_of))

    def odd_rows(self) -> None:
        """Rows the importer must name and refuse."""
        h = self.host
        self.credit = Decimal("0")  # no credit applied to these invoices
        self.orphan = self.service(999_999, 1, "paypal", userid=999_999, status="Active")
        self.unknown_cycle = self.service(1, 1, "paypal", cycle="Weekly", status="Active",
                                          amount=Decimal("1.00"))
        self.negative = self.service(1, 1, "paypal", cycle="Monthly", status="Active",
                                     amount=Decimal("-5.00"))
        broken = self.invoice(1, self.today - datetime.timedelta(days=40), "Paid",
                              [("Item", 0, "Consulting", money("30.00"), None)], "paypal")
        h.rows("tblinvoices")[-1]["total"] += Decimal("1.00")  # items no longer add up
        self.broken_invoice = broken
        # items that renew nothing: an upgrade and a late fee
        self.upgrade_invoice = self.invoice(
            1, self.today - datetime.timedelta(days=3), "Unpaid",
            [("Upgrade", 1, "Upgrade: Starter => Business", money("7.50"), None),
             ("LateFee", 0, "Late fee", money("5.00"), None)], "paypal")
        # the same gateway transaction recorded twice on one invoice
        paid = next(a for a in h.rows("tblaccounts") if a["amountin"] > 0 and a["amountout"] == 0)
        twin = dict(paid, id=h.next_id("tblaccounts"))
        h.add("tblaccounts", twin)
        self.duplicate_payment = twin["id"]


def build_whmcs(conn, spec: HostSpec) -> Host:
    """Create WHMCS's tables in `conn`'s database and fill them; returns what was made."""
    builder = _Builder(spec)
    builder.catalog()
    builder.clients()
    if spec.odd_rows:
        builder.odd_rows()
    with conn.cursor() as cur:
        cur.execute("SET SESSION sql_mode = ''")  # WHMCS's zero dates
        for statement in SCHEMA.read_text().split(";"):
            if statement.strip():
                cur.execute(statement)
        for table, rows in builder.host.tables.items():
            insert(cur, table, rows)
    conn.commit()
    builder.host.builder = builder
    return builder.host


def insert(cur, table: str, rows: list[dict], batch: int = 2000) -> None:
    if not rows:
        return
    columns = list(rows[0])
    sql = (f"INSERT INTO `{table}` ({', '.join(f'`{c}`' for c in columns)}) VALUES "
           f"({', '.join(['%s'] * len(columns))})")
    for start in range(0, len(rows), batch):
        cur.executemany(sql, [tuple(row[c] for c in columns) for row in rows[start:start + batch]])
