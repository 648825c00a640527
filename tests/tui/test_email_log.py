"""The email log (g e): admins read what went out, and send a failed email again."""

from dataclasses import replace

from hostdesk.models.emails import queue_email
from hostdesk.models.schema import Admin, EmailOutbox
from tests.test_mail_delivery import SmtpServer
from tests.tui.conftest import run, screen_text, settle


def test_email_log_lists_the_outbox_and_r_sends_a_failed_email(db, app_for):
    Admin.create(login="tester", role="full")
    failed = queue_email("admin_notice", to="ops@example.org",
                         context={"company_name": "Acme", "title": "Disk", "message": "Full"})
    EmailOutbox.update(status="failed", attempts=2, last_error="connection refused").where(
        EmailOutbox.id == failed.id).execute()
    server = SmtpServer().start()
    app = app_for()
    app.settings = replace(app.settings, smtp_host="127.0.0.1", smtp_port=server.port,
                           smtp_security="none", from_email="billing@acme.test")

    async def scenario():
        async with app.run_test(size=(120, 30)) as pilot:
            await settle(pilot)
            await pilot.press("g", "e")
            await settle(pilot)
            text = screen_text(app)
            assert "hostdesk · Email log" in text
            assert "ops@example.org" in text and "connection refused" in text
            await pilot.press("r")
            await settle(pilot, rounds=4)
            assert EmailOutbox.get_by_id(failed.id).status == "sent"
            assert "sent" in screen_text(app)

    try:
        run(scenario())
    finally:
        server.stop()
    assert len(server.received) == 1 and server.received[0].rcpt_tos == ["ops@example.org"]
