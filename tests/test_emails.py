"""Email templates and the outbox: every default renders from real rows, admins' edits take
effect, the sandbox refuses escapes, missing variables and secrets are named, stale saves
are refused."""

import json
from decimal import Decimal

import pendulum
import pytest

from hostdesk.models import emails, secrets
from hostdesk.models.email_sandbox import render_part
from hostdesk.models.template_values import TemplateVars
from hostdesk.models.emails import (
    SPECS,
    email_context,
    list_templates,
    preview,
    queue_email,
    render,
    reset_template,
    sample_context,
    save_template,
)
from hostdesk.models.errors import StaleRecordError, ValidationError
from hostdesk.models.schema import (
    ActivityLog,
    Admin,
    CancellationRequest,
    Client,
    EmailOutbox,
    EmailTemplate,
    Invoice,
    InvoiceLine,
    LineKind,
    Order,
    Payment,
    Product,
    Server,
    Service,
    Upgrade,
)
from hostdesk.models.settings import Settings
from tests.factories import as_login

SETTINGS = Settings(company_name="Acme Hosting", currency="EUR")
SERVICE_PASSWORD = "Zq8!service-secret"


@pytest.fixture(autouse=True)
def catalog_admins(request):
    """The admins who edit templates here ("manage catalog": every full admin)."""
    if "db" not in request.fixturenames and "world" not in request.fixturenames:
        return
    from hostdesk.models.schema import Admin

    request.getfixturevalue("db")
    for login in ("alice", "bob", "mallory", "a"):
        Admin.create(login=login, role="full")


@pytest.fixture
def world(db):
    """A client with a VPS, an order, an invoice of two live lines and one cancelled line,
    a payment, an upgrade and a cancellation request: the rows emails are made from."""
    client = Client.create(first_name="Grace", last_name="Hopper", company="Navy Labs",
                           email="grace@example.org")
    server = Server.create(name="vps-host-3", hostname="vh3.acme.test", ip_address="198.51.100.7")
    small = Product.create(name="VPS Small", type="vps", group_name="Servers")
    large = Product.create(name="VPS Large", type="vps", group_name="Servers")
    order = Order.create(number="7301946285", client=client, payment_method="banktransfer",
                         amount=Decimal("1234.50"),
                         created_at=pendulum.datetime(2026, 3, 17, 9, 30, tz="UTC"))
    service = Service.create(client=client, order=order, product=small, server=server,
                             domain="grace.example.org", dedicated_ip="203.0.113.9",
                             username="grace", password=SERVICE_PASSWORD, status="active",
                             registration_date=pendulum.date(2026, 1, 31),
                             first_payment_amount=Decimal("1234.50"),
                             recurring_amount=Decimal("1234.50"), billing_cycle="monthly",
                             next_due_date=pendulum.date(2026, 3, 31), anchor_day=31,
                             payment_method="banktransfer",
                             termination_date=pendulum.date(2026, 4, 2))
    invoice = Invoice.create(client=client, order=order, date=pendulum.date(2026, 3, 17),
                             due_date=pendulum.date(2026, 3, 31), payment_method="banktransfer",
                             total=Decimal("1244.49"), amount_paid=Decimal("1000.00"),
                             currency="EUR")
    InvoiceLine.create(invoice=invoice, kind=LineKind.RENEWAL, item_type="service",
                       item_id=service.id, description="VPS Small - grace.example.org",
                       amount=Decimal("1234.50"), sort_order=1)
    InvoiceLine.create(invoice=invoice, kind=LineKind.SETUP, description="Setup fee",
                       amount=Decimal("9.99"), sort_order=2)
    InvoiceLine.create(invoice=invoice, kind=LineKind.CUSTOM, description="Withdrawn line",
                       amount=Decimal("50.00"), cancelled=True, sort_order=3)
    payment = Payment.create(invoice=invoice, amount=Decimal("1000.00"),
                             date=pendulum.date(2026, 3, 20), method="banktransfer",
                             transaction_ref="BANK-77")
    upgrade = Upgrade.create(service=service, old_product=small, new_product=large,
                             old_cycle="monthly", new_cycle="annually",
                             old_amount=Decimal("1234.50"), new_amount=Decimal("9999.00"),
                             payable=Decimal("321.09"))
    cancellation = CancellationRequest.create(
        service=service, type="end_of_period", reason="Too expensive", requested_by="alice",
        created_at=pendulum.datetime(2026, 3, 18, 12, 0, tz="UTC"))
    return dict(client=client, service=service, order=order, invoice=invoice,
                payment=payment, upgrade=upgrade, cancellation=cancellation)


def _context_for(name: str, w: dict) -> dict:
    """The context each kind of email gets from the code that sends it (rows, not dicts)."""
    base = emails.base_template(name)
    variables = SPECS[base].variables
    values = {}
    for var in ("client", "service", "invoice", "order", "payment", "upgrade", "cancellation"):
        if var in variables:
            values[var] = w[var]
    if base == "order_confirmation":
        values["lines"] = [{"description": "VPS Small - grace.example.org",
                            "amount": Decimal("1234.50")}]
    if "password" in variables:
        values["password"] = SERVICE_PASSWORD
    if "days_until_due" in variables:
        values["days_until_due"] = 1
    if "days_overdue" in variables:
        values["days_overdue"] = 15
    if base == "admin_notice":
        values.update(title="Module queue has 3 failures", message="See the module queue.")
    return email_context(SETTINGS, **values)


# What each default must say, beyond the client's name and the company's.
EXPECTED = {
    "order_confirmation": ["#7301946285", "2026-03-17", "€1,234.50", "banktransfer"],
    "invoice_created": ["Invoice #", "2026-03-31", "VPS Small - grace.example.org: €1,234.50",
                        "Setup fee: €9.99", "Total: €1,244.49", "Balance due: €244.49"],
    "invoice_payment_confirmation": ["€1,000.00", "2026-03-20", "Balance due: €244.49"],
    "welcome_shared": ["vh3.acme.test (198.51.100.7)", "Username: grace",
                       f"Password: {SERVICE_PASSWORD}", "€1,234.50 Monthly"],
    "welcome_reseller": ["vh3.acme.test", f"Password: {SERVICE_PASSWORD}"],
    "welcome_vps": ["IP address: 203.0.113.9", f"Password: {SERVICE_PASSWORD}",
                    "next due 2026-03-31"],
    "welcome_dedicated": ["IP address: 203.0.113.9", f"Password: {SERVICE_PASSWORD}"],
    "welcome_other": ["Product/service: VPS Small", f"Password: {SERVICE_PASSWORD}"],
    "service_suspended": ["suspended", "Reason: Overdue on payment", "grace.example.org"],
    "service_unsuspended": ["reactivated", "grace.example.org"],
    "upgrade_confirmation": ["from VPS Small (Monthly) to VPS Large (Annually)", "€9,999.00"],
    "service_terminated": ["terminated on 2026-04-02"],
    "cancellation_confirmation": ["End of billing period", "active until 2026-03-31"],
    "admin_cancellation_notice": ["2026-03-18 by alice", "Grace Hopper", "grace@example.org",
                                  "Too expensive"],
    "admin_notice": ["See the module queue."],
    "invoice_reminder": ["due in 1 day.", "Total: €1,244.49"],
    "overdue_reminder_1": ["15 days overdue", "Balance due: €244.49"],
    "overdue_reminder_2": ["15 days after its due date of 2026-03-31"],
    "overdue_reminder_3": ["15 days overdue", "last notice"],
}


def test_the_required_default_templates_exist():
    assert set(EXPECTED) == set(SPECS) == set(emails.DEFAULT_TEMPLATES)
    for spec in SPECS.values():
        assert spec.purpose and all(var in emails.VARIABLES for var in spec.variables)


def test_every_default_template_renders_from_real_rows(world):
    for name in SPECS:
        email = queue_email(name, to="grace@example.org", context=_context_for(name, world),
                            client_id=world["client"].id, related_type="service",
                            related_id=world["service"].id)
        stored = EmailOutbox.get_by_id(email.id)
        assert stored.status == "queued" and stored.attempts == 0, name
        assert stored.template == name and stored.to_address == "grace@example.org"
        assert "\n" not in stored.subject and stored.subject, name
        # Only a body carrying the password is stored encrypted; it is read here as delivered.
        assert stored.body_encrypted == name.startswith("welcome_"), name
        assert SERVICE_PASSWORD not in stored.body + stored.subject, name
        body = secrets.decrypt(stored.body) if stored.body_encrypted else stored.body
        assert "Acme Hosting" in stored.subject + body, name
        if name != "admin_notice":
            assert "Grace" in body, name
        for snippet in EXPECTED[name]:
            assert snippet in body + stored.subject, (name, snippet)
        assert "None" not in body, name
        assert "Withdrawn line" not in body, name  # cancelled lines are not listed
        if not name.startswith("welcome_"):
            assert SERVICE_PASSWORD not in body, name
    assert EmailOutbox.select().count() == len(SPECS)


def test_every_default_template_previews_with_its_sample_context():
    for name, (subject, body) in emails.DEFAULT_TEMPLATES.items():
        rendered_subject, rendered_body = preview(name, subject, body)
        assert rendered_subject and "{" not in rendered_subject + rendered_body, name
        assert set(sample_context(name)) == set(SPECS[name].variables)


def test_context_from_the_invoicing_code_renders(world):
    """The shape models/invoicing.py passes: rows, a list of line rows, a preformatted total."""
    invoice = world["invoice"]
    lines = list(InvoiceLine.select().where(InvoiceLine.invoice == invoice.id,
                                            InvoiceLine.cancelled == False))  # noqa: E712
    subject, body = render("invoice_created", {"client": world["client"], "invoice": invoice,
                                               "lines": lines, "total": "1,244.49 USD",
                                               "company_name": "Acme Hosting"})
    assert subject == f"Invoice #{invoice.id} created"
    assert "Setup fee: €9.99" in body and "Dear Grace" in body


def test_client_is_found_from_the_invoice_when_not_given(world):
    _, body = render("invoice_created", {"invoice": world["invoice"], "company_name": "Acme"})
    assert body.startswith("Dear Grace,")


def test_editing_a_template_changes_the_next_email(world):
    context = _context_for("invoice_created", world)
    first = queue_email("invoice_created", to="grace@example.org", context=context)
    assert "A new invoice has been created" in first.body

    info = save_template("invoice_created", "Bill {{ invoice.number }} from {{ company_name }}",
                         "Hi {{ client.first_name }}, you owe {{ invoice.balance }}.\n",
                         as_login("alice"), expected_version=0)
    assert info.version == 1 and info.customised
    second = queue_email("invoice_created", to="grace@example.org", context=context)
    assert second.subject == f"Bill {world['invoice'].id} from Acme Hosting"
    assert second.body == "Hi Grace, you owe €244.49.\n"
    assert EmailOutbox.get_by_id(first.id).body == first.body  # queued mail is not rewritten

    log = ActivityLog.get(ActivityLog.action == "email_template.save")
    assert log.admin_login == "alice" and log.object_type == "email_template"
    assert json.loads(log.after)["body"].startswith("Hi {{ client.first_name }}")

    save_template("invoice_created", "Bill {{ invoice.number }}", "Pay {{ invoice.total }}.",
                  as_login("bob"), expected_version=1)
    third = queue_email("invoice_created", to="grace@example.org", context=context)
    assert third.body == "Pay €1,244.49."
    second_log = ActivityLog.select().where(ActivityLog.admin_login == "bob").get()
    before = json.loads(second_log.before)
    assert before["subject"] == "Bill {{ invoice.number }} from {{ company_name }}"

    reset_template("invoice_created", as_login("bob"), expected_version=2)
    fourth = queue_email("invoice_created", to="grace@example.org", context=context)
    assert fourth.body == first.body
    assert ActivityLog.select().where(ActivityLog.action == "email_template.reset").count() == 1


def test_stale_template_save_is_refused_and_changes_nothing(db):
    opened_by_alice = emails.get_template("service_suspended").version
    opened_by_bob = emails.get_template("service_suspended").version
    assert opened_by_alice == opened_by_bob == 0
    save_template("service_suspended", "Suspended", "Alice's text {{ client.first_name }}",
                  as_login("alice"), opened_by_alice)
    with pytest.raises(StaleRecordError, match="changed by someone else"):
        save_template("service_suspended", "Suspended", "Bob's text", as_login("bob"), opened_by_bob)
    stored = EmailTemplate.get(EmailTemplate.name == "service_suspended")
    assert stored.body == "Alice's text {{ client.first_name }}" and stored.version == 1
    assert ActivityLog.select().where(ActivityLog.admin_login == "bob").count() == 0
    with pytest.raises(StaleRecordError):
        reset_template("service_suspended", as_login("bob"), expected_version=0)
    assert EmailTemplate.select().count() == 1


ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{% if false %}{{ lipsum.__globals__['os'] }}{% endif %}",  # a branch no sample reaches
    "{{ client['__class__'] }}",
    "{% set n = '__cla' ~ 'ss__' %}{{ client[n] }}",  # built at run time: the sandbox stops it
    "{{ client.update({'email': 'x@evil.test'}) }}",
    "{{ 'x' * 100000000 }}",
]


@pytest.mark.parametrize("payload", ESCAPES)
def test_sandbox_escapes_are_refused_in_a_preview(payload):
    with pytest.raises(ValidationError) as caught:
        preview("invoice_created", "Invoice", f"Hello {payload}")
    assert caught.value.field == "body" and "'invoice_created'" in caught.value.message
    assert "not allowed" in caught.value.message or "too large" in caught.value.message


def test_sandbox_escapes_are_refused_at_save_and_at_render_time(world):
    for payload in ESCAPES:
        with pytest.raises(ValidationError) as caught:
            save_template("invoice_created", "Invoice", f"Hello {payload}", as_login("mallory"), 0)
        assert caught.value.field == "body", payload
    assert EmailTemplate.select().count() == 0 and ActivityLog.select().count() == 0

    # A row written behind the application's back (SQL, an older version) is still refused
    # when an email is rendered from it, including an escape only visible at run time: that
    # email fails, visibly, with the reason, and is never sent.
    row = EmailTemplate.create(name="invoice_created", subject="Invoice", body="")
    for payload in ESCAPES:
        EmailTemplate.update(body=payload).where(EmailTemplate.id == row.id).execute()
        email = queue_email("invoice_created", to="grace@example.org",
                            context=_context_for("invoice_created", world))
        assert (email.status, email.render_failed, email.body) == ("failed", True, ""), payload
        assert "not allowed" in email.last_error or "too large" in email.last_error
        assert email.last_error.startswith("body: email template 'invoice_created'")
    assert EmailOutbox.select().where(EmailOutbox.status != "failed").count() == 0


def test_a_missing_variable_is_named_with_the_template(world):
    with pytest.raises(ValidationError) as caught:
        save_template("invoice_created", "Invoice", "Total {{ invoice.totl }}", as_login("alice"), 0)
    assert caught.value.field == "body"
    assert "'invoice_created'" in caught.value.message
    assert "'invoice.totl' is undefined" in caught.value.message
    # A variable this kind of email does not have at all (an invoice email has no service).
    with pytest.raises(ValidationError, match="'service' is undefined"):
        save_template("invoice_created", "{{ service.domain }}", "Hi", as_login("alice"), 0)

    # At queue time: the caller forgot a documented variable.
    context = _context_for("invoice_reminder", world)
    del context["days_until_due"]
    email = queue_email("invoice_reminder", to="grace@example.org", context=context)
    assert email.status == "failed" and email.render_failed
    assert "'invoice_reminder'" in email.last_error
    assert "'days_until_due' is undefined" in email.last_error
    with pytest.raises(ValidationError, match=r"'lines\[0\]\.price' is undefined"):
        preview("invoice_created", "x", "{% for l in lines %}{{ l.price }}{% endfor %}")


def test_template_syntax_errors_name_field_and_line(db):
    with pytest.raises(ValidationError) as caught:
        save_template("invoice_created", "ok", "line one\n{% for x in lines %}\nno end", as_login("a"), 0)
    assert caught.value.field == "body" and "line 3" in caught.value.message
    with pytest.raises(ValidationError) as caught:
        save_template("invoice_created", "{{ invoice.number ", "body", as_login("a"), 0)
    assert caught.value.field == "subject"


def test_secrets_never_reach_a_template(world):
    service = world["service"]
    # A service row gives a template no way to its password...
    with pytest.raises(ValidationError, match="'service.password' is undefined"):
        save_template("service_suspended", "x", "{{ service.password }}", as_login("alice"), 0)
    _, body = render("service_suspended", _context_for("service_suspended", world))
    assert SERVICE_PASSWORD not in body
    # ...only the welcome email's explicit variable carries it.
    context = _context_for("service_suspended", world)
    with pytest.raises(ValidationError) as caught:
        render("service_suspended", {**context, "password": SERVICE_PASSWORD})
    assert caught.value.field == "context" and "welcome" in caught.value.message
    with pytest.raises(ValidationError, match="secret"):
        render("service_suspended", {**context, "service": {"domain": "x", "password": "pw"}})
    _, welcome = render("welcome_vps", _context_for("welcome_vps", world))
    assert f"Password: {SERVICE_PASSWORD}" in welcome
    _, without = render("welcome_vps", {**_context_for("welcome_vps", world), "password": ""})
    assert "Password:" not in without and "Username: grace" in without
    assert service.password == SERVICE_PASSWORD  # nothing was changed on the row


def test_a_float_amount_is_refused(db):
    context = {**sample_context("admin_notice"), "message": 0.1}
    with pytest.raises(ValidationError, match="float"):
        render("admin_notice", context)


def test_subject_is_always_one_line(world):
    world["client"].first_name = "Grace\r\nBcc: everyone@example.org"
    save_template("service_suspended", "Hello {{ client.first_name }}", "x", as_login("alice"), 0)
    subject, _ = render("service_suspended", _context_for("service_suspended", world))
    assert subject == "Hello Grace Bcc: everyone@example.org"


def test_queue_email_is_part_of_the_callers_transaction(world, db):
    context = _context_for("invoice_created", world)
    with pytest.raises(RuntimeError):
        with db.atomic():
            queue_email("invoice_created", to="grace@example.org", context=context)
            raise RuntimeError("the change that caused the email failed")
    assert EmailOutbox.select().count() == 0
    with db.atomic():
        email = queue_email("invoice_created", to=" grace@example.org ", context=context,
                            client_id=world["client"].id, related_type="invoice",
                            related_id=world["invoice"].id)
    stored = EmailOutbox.get_by_id(email.id)
    assert (stored.to_address, stored.client_id, stored.related_type, stored.related_id) == (
        "grace@example.org", world["client"].id, "invoice", world["invoice"].id)
    for bad in ("", "grace", "grace@example", "a b@example.org", "x@y.org\nBcc: z@w.org"):
        with pytest.raises(ValidationError) as caught:
            queue_email("invoice_created", to=bad, context=context)
        assert caught.value.field == "to"
    assert EmailOutbox.select().count() == 1


def test_outbox_rows_render_a_generators_messages_one_at_a_time_in_order(world, db):
    context = _context_for("invoice_created", world)
    read = []

    def messages():
        for number in range(5):
            read.append(number)
            yield dict(to=f"n{number}@example.org", context=context, related_type="invoice",
                       related_id=number)

    failures = []
    rendered = emails.outbox_rows("invoice_created", messages(), failures)
    first = next(rendered)
    assert read == [0]  # a message and its context need not outlive its row
    with db.atomic():
        assert emails.write_outbox_rows("invoice_created", [first, *rendered], failures) == 5
    assert failures == []
    rows = list(EmailOutbox.select().order_by(EmailOutbox.id))
    assert [(r.to_address, r.related_id, r.status) for r in rows] == [
        (f"n{n}@example.org", n, "queued") for n in range(5)]
    single = queue_email("invoice_created", to="n0@example.org", context=context)
    assert {(r.subject, r.body) for r in rows} == {(single.subject, single.body)}


def test_list_templates_and_extensions(db):
    listed = {info.name: info for info in list_templates()}
    assert set(listed) == set(SPECS)
    assert all(info.version == 0 and not info.customised for info in listed.values())
    assert dict(listed["welcome_vps"].variables)["password"].startswith("the service's password")

    # A product-specific welcome email extends a default and gets its variables.
    save_template("welcome_vps_gold", "Gold VPS ready", "Root password: {{ password }}",
                  as_login("alice"), 0)
    gold = {info.name: info for info in list_templates()}["welcome_vps_gold"]
    assert (gold.base, gold.version, gold.customised) == ("welcome_vps", 1, True)
    assert render("welcome_vps_gold", {"password": "pw1"})[1] == "Root password: pw1"
    with pytest.raises(ValidationError) as caught:
        save_template("my_template", "x", "y", as_login("alice"), 0)
    assert caught.value.field == "name"
    with pytest.raises(ValidationError) as caught:
        save_template("Invoice Created", "x", "y", as_login("alice"), 0)
    assert caught.value.field == "name"
    with pytest.raises(ValidationError) as caught:
        save_template("invoice_created", "  ", "y", as_login("alice"), 0)
    assert caught.value.field == "subject"
    assert reset_template("welcome_vps_gold", as_login("alice"), 1) is None
    assert "welcome_vps_gold" not in {info.name for info in list_templates()}
    with pytest.raises(ValidationError) as caught:
        render("welcome_vps_gold", {"password": "pw1"})
    assert caught.value.field == "template" and "welcome_vps_gold" in caught.value.message


def test_templates_keep_jinja_globals_and_a_key_wins_over_a_dict_method():
    subject, body = preview("invoice_created", "{{ client.first_name }}",
                            "{% for i in range(3) %}{{ i }}{% endfor %}"
                            "{{ cycler('a', 'b').next() }}|{{ lines[0].description }}")
    assert subject == "Ada"
    assert body.startswith("012a|") and len(body) > len("012a|")
    # A context key named like a dict method is the value, not the method.
    assert render_part("{{ invoice.items }}", TemplateVars(
        {"invoice": TemplateVars({"items": "3 items"}, "invoice")}, ""), "body", "t") == "3 items"


def _jinja(source: str, context) -> str:
    from hostdesk.models.email_sandbox import _compiled, _render_compiled

    return _render_compiled(_compiled(source), context)


def test_the_fast_path_prints_exactly_what_jinja_prints():
    """Templates that only print values and loop over lines skip Jinja's render (the daily
    run's invoice emails); the text must be Jinja's to the character."""
    from hostdesk.models.email_sandbox import _plain_renderer

    subject, body = emails.DEFAULT_TEMPLATES["invoice_created"]
    assert _plain_renderer(subject) is not None and _plain_renderer(body) is not None
    for name, (subject, body) in emails.DEFAULT_TEMPLATES.items():
        context = emails.template_context(name, sample_context(name))
        for source in (subject, body):
            assert render_part(source, context, "body", name) == _jinja(source, context), name
    # several lines, no line, amounts in another currency, whole numbers and text
    context = emails.template_context("invoice_created", {
        **sample_context("invoice_created"), "currency": "EUR",
        "lines": [{"description": f"Line {n}", "amount": Decimal(f"{n}.50"),
                   "period_start": pendulum.date(2026, 3, n), "period_end": None}
                  for n in range(1, 4)]})
    source = ("{{ invoice.id }} {{ currency }}{% for line in lines %}\n{{ line.description }}"
              " {{ line.amount }} {{ line.amount|money }} {{ line.period_start }}"
              "[{{ line.period_end }}]{% endfor %}\n{{ invoice.total }}")
    assert _plain_renderer(source) is not None
    assert render_part(source, context, "body", "t") == _jinja(source, context)
    assert "Line 3 €3.50 €3.50 2026-03-03[]" in render_part(source, context, "body", "t")
    invoice_body = emails.DEFAULT_TEMPLATES["invoice_created"][1]
    empty = TemplateVars({**context, "lines": []}, "")
    assert render_part(invoice_body, empty, "body", "t") == _jinja(invoice_body, empty)
    # nothing to print, a comment only, a loop printing nothing, loops within loops
    nested = TemplateVars({**context, "rows": [context["lines"], [], context["lines"][:1]]}, "")
    for source in ("", "{# a note #}", "{% for line in lines %}{% endfor %}.",
                   "{% for row in rows %}[{% for line in row %}{{ line.description }} "
                   "{{ invoice.id }};{% endfor %}]{% endfor %}"):
        assert _plain_renderer(source) is not None, source
        assert render_part(source, nested, "body", "t") == _jinja(source, nested), source


def test_what_the_fast_path_cannot_print_is_left_to_jinja():
    from hostdesk.models.email_sandbox import _plain_renderer

    context = TemplateVars({"flag": True, "text": "12.5", "when": [1, 2], "client": TemplateVars(
        {"first_name": "Ada"}, "client")}, "")
    for source, expected in (("{{ flag }}", "True"), ("{{ text|money }}", "$12.50"),
                             ("{% if flag %}yes{% endif %}", "yes"), ("{{ when }}", "[1, 2]"),
                             ("{{ client.first_name|upper }}", "ADA"),
                             ("{% for n in when %}{{ loop.index }}{% endfor %}", "12")):
        assert render_part(source, context, "body", "t") == expected, source
    assert _plain_renderer("{% if flag %}yes{% endif %}") is None
    # a missing variable is still Jinja's error, naming it
    with pytest.raises(ValidationError) as caught:
        render_part("Dear {{ client.frist_name }}", context, "body", "invoice_created")
    assert "client.frist_name" in caught.value.message


def test_the_fast_path_keeps_jinjas_loop_budget():
    """Loops within loops: the steps of all loops of one email count together, as Jinja's
    budget counts them, so an email over it is refused the same way."""
    from hostdesk.models.email_sandbox import RENDER_MAX_ITERATIONS, _plain_renderer

    source = "{% for a in rows %}{% for b in rows %}.{% endfor %}{% endfor %}"
    assert _plain_renderer(source) is not None
    side = int(RENDER_MAX_ITERATIONS ** 0.5) + 1  # each list is short, together they are not
    context = TemplateVars({"rows": list(range(side))}, "")
    with pytest.raises(ValidationError) as caught:
        render_part(source, context, "body", "invoice_created")
    assert "too costly" in caught.value.message
    small = TemplateVars({"rows": [TemplateVars({}, "r")] * 3}, "")
    assert render_part(source, small, "body", "t") == "." * 9 == _jinja(source, small)
