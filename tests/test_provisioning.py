"""Module discovery, the module contract and the command runner (rules §8)."""

import json
from importlib.metadata import EntryPoint

import pytest

from hostdesk.automation.provisioning import registry
from hostdesk.automation.provisioning.base import CommandResult, ProvisioningModule, ServiceParams
from hostdesk.automation.provisioning.builtin import NoneModule
from hostdesk.automation.provisioning.runner import (
    check_server_connection,
    command_availability,
    command_labels,
    run_command,
)
from hostdesk.automation.provisioning.webhook import WebhookModule
from hostdesk.models import secrets
from hostdesk.models.clock import Clock
from hostdesk.models.errors import PermissionDenied, RuleViolation, ValidationError
from hostdesk.models.permissions import SYSTEM_ADMIN, find_admin
from hostdesk.models.schema import (
    ConfigOption,
    ConfigOptionChoice,
    Service,
    ServiceAddon,
    ServiceConfigOption,
    ServiceStatus,
)
from tests.test_lifecycle import (  # noqa: F401 - secret_key is an autouse fixture
    PASSWORD,
    SETTINGS,
    TODAY,
    emails_sent,
    log_rows,
    make_addon,
    make_admin,
    make_product,
    make_server,
    make_service,
    reload,
    secret_key,
)

CLOCK = Clock("UTC", TODAY)
EXAMPLE_INSTALL = ".venv/bin/pip install --no-deps -e tests/fixtures/hostdesk_example_module"


def run(service, command, login="alice", **arguments):
    return run_command(service.id, command, admin=find_admin(login), clock=CLOCK, settings=SETTINGS,
                       **arguments)


@pytest.fixture
def alice(db):
    return make_admin("alice", "full")


class RecordingModule(ProvisioningModule):
    """Answers what the test says and remembers what it was asked."""

    name = "recording"
    calls: list = []
    answer = CommandResult.ok("done")

    def create(self, params: ServiceParams) -> CommandResult:
        RecordingModule.calls.append(("create", params))
        return RecordingModule.answer

    def suspend(self, params: ServiceParams, reason: str) -> CommandResult:
        RecordingModule.calls.append(("suspend", params, reason))
        return RecordingModule.answer


class CrashingModule(ProvisioningModule):
    name = "crashing"

    def create(self, params):
        raise RuntimeError("panel API exploded")

    def suspend(self, params, reason):
        return "success"  # the WHMCS habit: not a CommandResult


@pytest.fixture
def test_modules(monkeypatch):
    """Two in-process modules, registered the way the registry merges built-ins."""
    monkeypatch.setitem(registry.BUILTIN_MODULES, "recording", RecordingModule)
    monkeypatch.setitem(registry.BUILTIN_MODULES, "crashing", CrashingModule)
    monkeypatch.setattr(RecordingModule, "calls", [])
    registry.rescan()
    yield
    monkeypatch.undo()
    registry.rescan()


# --- the contract and discovery ------------------------------------------------------------


def test_supported_commands_are_the_methods_a_module_overrides():
    assert RecordingModule.supported_commands() == {"create", "suspend"}
    assert NoneModule().supported_commands() == {
        "create", "suspend", "unsuspend", "terminate", "change_package", "change_password",
        "renew", "test_connection"}
    assert WebhookModule.supported_commands() == NoneModule.supported_commands()


def test_the_example_package_is_discovered_through_its_entry_point():
    modules = registry.available_modules()
    assert "example" in modules, f"install the example module: {EXAMPLE_INSTALL}"
    assert modules["example"].__module__ == "hostdesk_example_module"
    assert {"none", "webhook"} <= set(modules)
    assert "example" not in registry.BUILTIN_MODULES
    assert registry.load_errors() == {}
    assert modules["example"].supported_commands() == {"create", "suspend", "unsuspend",
                                                       "terminate"}


def test_a_broken_or_impostor_plugin_is_reported_and_the_others_still_load(monkeypatch):
    group = registry.ENTRY_POINT_GROUP
    fake = [
        EntryPoint("broken", "no_such_package_for_hostdesk:Module", group),
        EntryPoint("webhook", "hostdesk.automation.provisioning.builtin:NoneModule", group),
        EntryPoint("dumps", "json:dumps", group),
        EntryPoint("example", "hostdesk_example_module:ExampleModule", group),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: fake)
    registry.rescan()
    try:
        errors = registry.load_errors()
        modules = registry.available_modules()
    finally:
        monkeypatch.undo()
        registry.rescan()
    assert set(errors) == {"broken", "webhook", "dumps"}
    assert "ModuleNotFoundError" in errors["broken"]
    assert "belongs to a built-in module" in errors["webhook"]
    assert "not a ProvisioningModule subclass" in errors["dumps"]
    assert modules["webhook"] is WebhookModule
    assert list(modules) == ["example", "none", "webhook"]


def test_an_unknown_module_name_says_which_are_installed():
    with pytest.raises(registry.UnknownModule, match="'cpanel' is not installed .*none"):
        registry.get_module("cpanel")
    assert isinstance(registry.get_module(""), NoneModule)


# --- running commands -------------------------------------------------------------------------


def test_create_with_the_none_module_activates_logs_and_sends_the_welcome(alice):
    service = make_service(status=ServiceStatus.PENDING)

    result = run(service, "create")

    assert result.success
    assert "Recorded only" in result.message
    assert reload(service).status == ServiceStatus.ACTIVE
    [attempt] = log_rows("module.create", service.id)
    assert attempt.description.startswith(f"Module Create Successful - Service ID: {service.id}")
    assert json.loads(attempt.after) == {"success": True, "message": result.message,
                                         "module": "none", "source": "admin"}
    assert len(log_rows("service.activate", service.id)) == 1
    assert [e.template for e in emails_sent()] == ["welcome_shared"]


def test_the_module_gets_the_service_client_product_server_and_options(alice, test_modules):
    server = make_server(module="recording", settings={"api_token": secrets.encrypt("t0k"),
                                                       "port": 2087})
    product = make_product(module="recording", server=server,
                           settings={"plan": "gold"})
    service = make_service(product=product, username="adal", dedicated_ip="192.0.2.50")
    disk = ConfigOption.create(product=product, name="Disk", option_type="quantity",
                               sort_order=2)
    region = ConfigOption.create(product=product, name="Region", sort_order=1)
    eu = ConfigOptionChoice.create(option=region, name="EU")
    ServiceConfigOption.create(service=service, option=disk, quantity=20)
    ServiceConfigOption.create(service=service, option=region, choice=eu)

    run(service, "create")

    [(command, params)] = RecordingModule.calls
    assert command == "create"
    assert params.service_id == service.id and params.status == "pending"
    assert (params.domain, params.username, params.password) == ("example.com", "adal",
                                                                 PASSWORD)  # decrypted
    assert params.client.email == "ada@example.com"
    assert (params.product.name, params.product.type) == ("Starter Hosting", "shared")
    assert params.server.hostname == "web1.example.net"
    assert params.server.settings == {"api_token": "t0k", "port": 2087}
    assert params.module_settings == {"plan": "gold"}
    assert params.config_options == {"Region": "EU", "Disk": 20}
    assert PASSWORD not in repr(params)  # never in a traceback or log line


def test_suspend_passes_the_reason_and_records_it(alice, test_modules):
    service = make_service(status="active", product=make_product(module="recording"))
    run(service, "suspend", reason="Abuse report #12")
    assert RecordingModule.calls[0][2] == "Abuse report #12"
    assert reload(service).suspension_reason == "Abuse report #12"


def test_a_blank_suspend_reason_reaches_the_module_as_non_payment(alice, test_modules):
    service = make_service(status="active", product=make_product(module="recording"))
    run(service, "suspend")
    assert RecordingModule.calls[0][2] == "Overdue on payment"


def test_a_failure_keeps_the_status_and_logs_the_modules_message(alice, test_modules,
                                                                  monkeypatch):
    monkeypatch.setattr(RecordingModule, "answer", CommandResult.failed("quota exceeded on web1"))
    service = make_service(status="active", product=make_product(module="recording"))
    result = run(service, "suspend", reason="")

    assert (result.success, result.message) == (False, "quota exceeded on web1")
    assert reload(service).status == ServiceStatus.ACTIVE
    [attempt] = log_rows("module.suspend", service.id)
    assert attempt.description == (f"Module Suspend Failed - Service ID: {service.id} - "
                                   "quota exceeded on web1")
    assert log_rows("service.suspend") == [] and emails_sent() == []


def test_a_module_that_crashes_or_answers_nonsense_has_failed(alice, test_modules):
    product = make_product(module="crashing")
    pending = make_service(product=product)
    active = make_service(status="active", product=product, client=pending.client)

    crashed = run(pending, "create")
    nonsense = run(active, "suspend")

    assert not crashed.success
    assert crashed.message == "the crashing module raised RuntimeError: panel API exploded"
    assert not nonsense.success and "returned str, not a CommandResult" in nonsense.message
    assert (reload(pending).status, reload(active).status) == ("pending", "active")


def test_a_status_changed_while_the_module_ran_is_not_overwritten(alice, test_modules,
                                                                   monkeypatch):
    service = make_service(status="active", product=make_product(module="recording"))

    def suspend_while_another_admin_terminates(self, params, reason):
        Service.update(status="terminated").where(Service.id == params.service_id).execute()
        return CommandResult.ok("suspended on web1")

    monkeypatch.setattr(RecordingModule, "suspend", suspend_while_another_admin_terminates)
    result = run(service, "suspend")

    assert result.success
    assert result.message.startswith("suspended on web1; but the service changed meanwhile")
    assert reload(service).status == "terminated"
    assert len(log_rows("module.state_not_updated", service.id)) == 1
    assert log_rows("service.suspend") == [] and emails_sent() == []


def test_a_command_that_does_not_apply_is_refused_before_the_module_runs(alice, test_modules):
    service = make_service(status="pending", product=make_product(module="recording"))
    with pytest.raises(RuleViolation, match="Suspend applies to active services"):
        run(service, "suspend")
    with pytest.raises(RuleViolation, match="does not support Terminate"):
        run(service, "terminate")
    assert RecordingModule.calls == []
    assert log_rows("module.suspend") == []


def test_module_commands_need_the_server_operations_permission(db, test_modules):
    make_admin("sam", "sales")
    service = make_service(product=make_product(module="recording"))
    with pytest.raises(PermissionDenied, match="perform server operations"):
        run(service, "create", login="sam")
    with pytest.raises(PermissionDenied):
        run(service, "create", login="nobody")
    assert RecordingModule.calls == []


def test_the_daily_run_acts_without_an_admin_row(db, test_modules):
    service = make_service(product=make_product(module="recording"))
    result = run_command(service.id, "create", admin=SYSTEM_ADMIN, clock=CLOCK,
                         settings=SETTINGS, source="cron")
    assert result.success and reload(service).status == "active"


def test_bad_arguments_are_refused_naming_the_field(alice):
    service = make_service(status="active")
    with pytest.raises(ValidationError) as empty:
        run(service, "change_password", new_password="   ")
    assert empty.value.field == "new_password"
    with pytest.raises(ValidationError) as control:
        run(service, "change_password", new_password="N3w\npass!")
    assert control.value.field == "new_password" and "control character" in control.value.message
    with pytest.raises(ValidationError) as stray:
        run(service, "terminate", reason="x")
    assert stray.value.field == "reason"
    with pytest.raises(ValidationError) as source:
        run_command(service.id, "create", admin=find_admin("alice"), clock=CLOCK, settings=SETTINGS,
                    source="portal")
    assert source.value.field == "source"
    assert log_rows("module.change_password") == []


def test_change_password_stores_the_new_password_encrypted(alice):
    service = make_service(status="active")
    assert run(service, "change_password", new_password="N3w-pass!").success
    stored = reload(service).password
    assert "N3w-pass!" not in stored
    assert secrets.decrypt(stored) == "N3w-pass!"


def test_without_the_secret_key_no_password_command_reaches_the_module(alice, test_modules):
    recording = make_product(module="recording")
    service = make_service(status="pending", product=recording)
    blank = make_service(status="active", password="", client=service.client)
    active = make_service(status="active", product=recording, client=service.client)
    secrets.configure("")
    with pytest.raises(secrets.MissingSecretKey):
        run(service, "create")
    with pytest.raises(secrets.MissingSecretKey):
        run(blank, "change_password", new_password="N3w-pass!")
    assert RecordingModule.calls == []
    assert (reload(service).status, reload(blank).password) == ("pending", "")
    # A suspension never needs the password (issue 19): it works without the key.
    assert run(active, "suspend").success
    assert RecordingModule.calls[0][1].password == "" and reload(active).status == "suspended"


def test_terminate_uses_the_clocks_today_and_cancels_addons(alice):
    service = make_service(status="active")
    addon = make_addon(service)
    assert run(service, "terminate").success
    fresh = reload(service)
    assert (fresh.status, fresh.termination_date) == ("terminated", TODAY)
    assert ServiceAddon.get_by_id(addon.id).termination_date == TODAY


def test_unsuspend_and_renew_and_change_package(alice):
    service = make_service(status="suspended", suspension_reason="Overdue on payment")
    assert run(service, "unsuspend").success
    assert reload(service).status == "active"
    assert run(service, "renew").success
    assert run(service, "change_package").success
    assert reload(service).status == "active"
    assert len(log_rows("module.renew", service.id)) == 1
    assert len(log_rows("service.change_package", service.id)) == 1


def test_a_product_whose_module_is_not_installed_cannot_run_commands(alice):
    service = make_service(product=make_product(module="cpanel"))
    availability = command_availability(service)
    assert all(not ok for ok, _ in availability.values())
    assert "'cpanel' is not installed" in availability["create"][1]
    with pytest.raises(registry.UnknownModule):
        run(service, "create")


# --- the command bar ---------------------------------------------------------------------------


def test_availability_greys_unsupported_and_inapplicable_commands_with_a_reason(alice):
    service = make_service(status="active", product=make_product(module="example"))

    availability = command_availability(service)

    assert availability["suspend"] == (True, "")
    assert availability["terminate"] == (True, "")
    assert availability["unsuspend"] == (False, "Unsuspend applies to suspended services; "
                                                "this one is active")
    assert availability["change_password"] == (False, "the Example panel module does not "
                                                      "support Change Password")
    assert availability["reboot"] == (True, "")
    assert list(availability)[:7] == ["create", "suspend", "unsuspend", "terminate",
                                      "change_package", "change_password", "renew"]
    assert command_labels(service)["reboot"] == "Reboot"


def test_availability_greys_everything_for_an_admin_without_the_permission(db):
    sam = make_admin("sam", "sales")
    service = make_service(status="active")
    availability = command_availability(service, admin=sam)
    assert availability["suspend"] == (False, "needs the permission 'perform server operations'")
    assert all(not ok for ok, _ in availability.values())


# --- the third-party example module ----------------------------------------------------------


def test_the_example_modules_commands_run_through_hostdesk(alice):
    service = make_service(product=make_product(module="example"), username="adal")

    created = run(service, "create")
    rebooted = run(service, "reboot")

    assert created.success and created.message == "account adal created for example.com"
    assert created.data == {"account": "adal"}
    assert reload(service).status == "active"
    assert rebooted.success and rebooted.message == "account adal rebooted"
    [attempt] = log_rows("module.reboot", service.id)
    assert attempt.description.startswith(f"Module Reboot Successful - Service ID: {service.id}")
    with pytest.raises(RuleViolation, match="does not support Change Password"):
        run(service, "change_password", new_password="whatever1")


def test_the_example_modules_failure_leaves_the_service_pending(alice):
    service = make_service(product=make_product(module="example"), username="")
    result = run(service, "create")
    assert (result.success, result.message) == (False, "the example panel needs a username")
    assert reload(service).status == "pending"


def test_test_connection_asks_the_servers_module_and_logs_it(alice):
    server = make_server(module="none")
    result = check_server_connection(server.id, admin=find_admin("alice"))
    assert result.success
    [row] = log_rows("server.test_connection", server.id)
    assert row.description.startswith("Test Connection succeeded for server web1")
    example = make_server(module="example", name="panel1")
    with pytest.raises(RuleViolation, match="cannot test a connection"):
        check_server_connection(example.id, admin=find_admin("alice"))
