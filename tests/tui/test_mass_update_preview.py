"""The mass update's preview never cuts a change off, even on an 80-column terminal."""

from rich.console import Console

from hostdesk.models.massupdate import ItemPreview
from hostdesk.tui.screens.mass_update import Plan, preview_report


def rendered(renderable, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_a_long_change_wraps_instead_of_being_cut_off_at_80_columns():
    item = ItemPreview(
        service_id=101, client_id=7, title="a-rather-long-domain-name.example.com",
        before={"recurring_amount": "10.00", "billing_cycle": "monthly",
                "next_due_date": "2026-01-01", "payment_method": "bank transfer",
                "status": "active"},
        after={"recurring_amount": "35.00", "billing_cycle": "annually",
               "next_due_date": "2026-02-15", "payment_method": "paypal",
               "status": "suspended"})
    plan = Plan(ids=[101], accepted_ids=[101], shown=[item])
    text = " ".join(rendered(preview_report(plan, "USD", None), 80).split())
    for part in ("amount 10.00 → $35.00", "cycle monthly → annually",
                 "next due 2026-01-01 → 2026-02-15", "payment bank transfer → paypal",
                 "status active → suspended"):
        assert part in text


def test_a_suspend_preview_names_the_reason_it_will_record():
    plan = Plan(ids=[1, 2], command="suspend", arguments={"reason": "abuse report"},
                accepted_ids=[1, 2])
    assert "reason: abuse report" in rendered(preview_report(plan, "USD", None), 120)
    plan.arguments = {}
    assert "reason: non-payment" in rendered(preview_report(plan, "USD", None), 120)
