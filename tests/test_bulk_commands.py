"""Bulk module commands (issue 6): item by item, failures reported and queued, cancellable."""

import pytest

from hostdesk.automation.bulk import run_bulk_command, unsupported
from hostdesk.models.clock import Clock
from hostdesk.models.permissions import find_admin
from hostdesk.models.schema import ModuleJob
from tests.test_lifecycle import SETTINGS, TODAY, make_admin, reload, secret_key  # noqa: F401
from tests.test_webhook import Endpoint, endpoint, webhook_service  # noqa: F401


@pytest.fixture
def broken_endpoint():
    server = Endpoint()
    server.reply(status=500, body=b"internal error")
    server.thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_bulk_suspend_where_one_webhook_fails(db, endpoint, broken_endpoint):
    make_admin("alice", "full")
    good = [webhook_service(endpoint.url, status="active", server_name=f"ok{i}") for i in range(4)]
    bad = webhook_service(broken_endpoint.url, status="active", server_name="broken")
    ids = [s.id for s in good[:2]] + [bad.id] + [s.id for s in good[2:]]
    seen = []
    result = run_bulk_command(ids, "suspend", admin=find_admin("alice"), clock=Clock("UTC", TODAY),
                              settings=SETTINGS, arguments={"reason": ""},
                              progress=lambda done, total: seen.append((done, total)))
    assert [o.service_id for o in result.succeeded] == [s.id for s in good]
    assert [o.service_id for o in result.failed] == [bad.id]
    assert "500" in result.failed[0].message
    assert [reload(s).status for s in good] == ["suspended"] * 4
    assert reload(bad).status == "active"
    job = ModuleJob.get()
    assert (job.service_id, job.command, job.status) == (bad.id, "suspend", "failed")
    assert seen[-1] == (5, 5) and len(endpoint.requests) == 4


def test_bulk_command_can_be_cancelled_between_items(db, endpoint):
    make_admin("alice", "full")
    services = [webhook_service(endpoint.url, status="active", server_name=f"s{i}") for i in range(5)]
    done = []
    result = run_bulk_command([s.id for s in services], "suspend", admin=find_admin("alice"),
                              clock=Clock("UTC", TODAY), settings=SETTINGS,
                              arguments={"reason": "maintenance"},
                              progress=lambda d, t: done.append(d), should_stop=lambda: len(done) >= 2)
    assert result.cancelled and len(result.outcomes) == 2
    assert [reload(s).status for s in services] == ["suspended"] * 2 + ["active"] * 3


def test_unsupported_commands_are_listed_before_running(db, endpoint):
    make_admin("alice", "full")
    active = webhook_service(endpoint.url, status="active", server_name="a")
    pending = webhook_service(endpoint.url, status="pending", server_name="p")
    refused = unsupported([active.id, pending.id], "suspend")
    assert list(refused) == [pending.id] and "pending" in refused[pending.id]


def test_bulk_commands_need_mass_update_and_server_permissions(db, endpoint):
    from hostdesk.models.errors import PermissionDenied

    make_admin("sam", "support")  # server operations, but no mass update
    service = webhook_service(endpoint.url, status="active", server_name="x")
    with pytest.raises(PermissionDenied, match="mass update"):
        run_bulk_command([service.id], "suspend", admin=find_admin("sam"), clock=Clock("UTC", TODAY),
                         settings=SETTINGS)
    assert reload(service).status == "active" and endpoint.requests == []
