"""Runs a module command for a service and records what happened (rules §8).

The module is called outside any transaction (it may wait on a remote server); its answer is
then written in one transaction: on success the state change of `models.lifecycle` (status,
activity log, email), on failure the error in the activity log and, for automation, a
module-queue job. The admin's screen and the daily run both come through `run_command`.
"""

import json
import logging
import uuid
from dataclasses import dataclass, replace

from peewee import JOIN

from hostdesk.automation.provisioning import registry
from hostdesk.automation.provisioning.base import (
    CHANGE_PACKAGE,
    CHANGE_PASSWORD,
    COMMAND_LABELS,
    CREATE,
    SERVICE_COMMANDS,
    SUSPEND,
    TERMINATE,
    TEST_CONNECTION,
    UNSUSPEND,
    ClientInfo,
    CommandResult,
    ProductInfo,
    ProvisioningModule,
    ServerInfo,
    ServiceParams,
)
from hostdesk.automation.run_context import RunContext, TaskResult
from hostdesk.models import audit, lifecycle, modulequeue, secrets
from hostdesk.models.clock import Clock
from hostdesk.models.db import connection, database
from hostdesk.models.errors import HostdeskError, RuleViolation, StaleRecordError, ValidationError
from hostdesk.models.parsing import clean_outside_text, refuse_control_characters
from hostdesk.models.permissions import (
    SERVER_OPERATIONS,
    SYSTEM_ADMIN,
    has_permission,
    require,
)
from hostdesk.models.schema import (
    Admin,
    ConfigOption,
    ConfigOptionChoice,
    ModuleJob,
    Server,
    Service,
    ServiceConfigOption,
)
from hostdesk.models.settings import Settings

SOURCES = ("admin", "cron")
_ARGUMENTS = {SUSPEND: {"reason"}, CHANGE_PASSWORD: {"new_password"}}
_MAX_PASSWORD_LENGTH = 128

log = logging.getLogger("hostdesk.modules")


@dataclass(frozen=True)
class _Context:
    """Who runs the command, and the installation's today and settings."""

    admin: Admin
    clock: Clock
    settings: Settings


def run_command(service_id: int, command: str, *, admin: Admin, clock: Clock,
                settings: Settings, source: str = "admin", send_email: bool = True,
                **arguments) -> CommandResult:
    """Run `command` (a built-in command or one of the module's custom commands).

    Refused before the module is called (RuleViolation, ValidationError, PermissionDenied)
    when the command does not apply. Otherwise returns the module's result, recorded.
    Arguments: `reason` for suspend (blank = non-payment), `new_password` for change_password.
    """
    if source not in SOURCES:
        raise ValidationError("source", f"must be one of {', '.join(SOURCES)}")
    if source == "admin":
        require(admin, SERVER_OPERATIONS)
    with connection():
        return _run(service_id, command, arguments, _Context(admin, clock, settings),
                    source=source, send_email=send_email, queue_failure=(source == "cron"))


def command_availability(service: Service,
                         admin: Admin | None = None) -> dict[str, tuple[bool, str]]:
    """For the command bar: every command of the service's module -> (available, why not).

    Built-in commands first in their usual order, then the module's custom commands. With
    `admin`, a missing permission greys every command; None: by the service's state alone.
    """
    try:
        module = registry.get_module(service.product.module)
    except registry.UnknownModule as exc:
        return {command: (False, str(exc)) for command in SERVICE_COMMANDS}
    commands = list(SERVICE_COMMANDS) + list(module.custom_commands())
    if admin is not None and not has_permission(admin, SERVER_OPERATIONS):
        why = f"needs the permission '{SERVER_OPERATIONS}'"
        return {command: (False, why) for command in commands}
    return {command: _availability(module, command, service.status) for command in commands}


def command_labels(service: Service) -> dict[str, str]:
    """Labels for the command bar, the module's custom commands included."""
    labels = {command: COMMAND_LABELS[command] for command in SERVICE_COMMANDS}
    try:
        labels.update(registry.get_module(service.product.module).custom_commands())
    except registry.UnknownModule:
        pass
    return labels


def retry_job(job_id: int, *, admin: Admin, clock: Clock,
              settings: Settings) -> CommandResult:
    """An admin retries a queued job now. The job is done on success, or keeps the new error."""
    require(admin, SERVER_OPERATIONS)
    with connection():
        execute = _job_executor(_Context(admin, clock, settings), source="admin")
        return modulequeue.retry(job_id, execute, admin=admin)


@dataclass(frozen=True)
class JobOutcome:
    """How one queued job went: `done`, `failed` (kept in the module queue with the error),
    `not_run` (refused before the module was called, e.g. no longer applies) or `queued`
    (left for the daily run: the admin may not perform server operations)."""

    job_id: int
    service_id: int
    command: str
    status: str
    message: str = ""

    @property
    def said(self) -> str:
        """The line a screen shows for it."""
        label = f"{self.command.replace('_', ' ')} of service #{self.service_id}"
        if self.status == "queued":
            return f"{label} {self.message}"
        if self.status == "not_run":
            return f"{label} not run: {self.message}"
        outcome = "done" if self.status == "done" else "failed (kept in the module queue)"
        return f"{label} {outcome}" + (f": {self.message}" if self.message else "")


def outcome_lines(outcomes: list[JobOutcome]) -> list[str]:
    """What a screen says of them: a line each, or one line when all wait for the daily run."""
    if outcomes and all(o.status == "queued" for o in outcomes):
        return [f"{len(outcomes)} module command(s) queued for the daily run "
                f"(running them needs “{SERVER_OPERATIONS}”)"]
    return [o.said for o in outcomes]


def run_queued_jobs(job_ids, admin: Admin, *, clock: Clock,
                    settings: Settings) -> list[JobOutcome]:
    """Run now the module jobs an action has just queued (`record_payment`, `apply_credit`,
    `create_upgrade`, `place_order`, `accept_order` return their ids), for the screens and the
    headless `payment-received` alike. Without the permission to perform server operations
    they stay queued for the daily run, and the outcome says so. A job already taken by
    someone else (no longer queued) is left alone; one that fails stays in the module queue
    with its error, and the action that queued it stays done."""
    with connection():
        jobs = list(ModuleJob.select().where(ModuleJob.id.in_(list(job_ids) or [0])
                                             & (ModuleJob.status == "queued"))
                    .order_by(ModuleJob.id))
    if not jobs:
        return []
    if not has_permission(admin, SERVER_OPERATIONS):
        why = f"queued for the daily run (running it now needs “{SERVER_OPERATIONS}”)"
        return [JobOutcome(job.id, job.service_id, job.command, "queued", why) for job in jobs]
    outcomes = []
    for job in jobs:
        try:
            result = retry_job(job.id, admin=admin, clock=clock, settings=settings)
        except HostdeskError as exc:
            outcomes.append(JobOutcome(job.id, job.service_id, job.command, "not_run", str(exc)))
            continue
        outcomes.append(JobOutcome(job.id, job.service_id, job.command,
                                   "done" if result.success else "failed", result.message or ""))
    return outcomes


def retry_jobs(job_ids: list[int], *, admin: Admin, clock: Clock,
               settings: Settings) -> tuple[list[str], bool]:
    """Run each job now; one line per job, and whether any is still failing."""
    said, failing = [], False
    for job_id in job_ids:
        job = ModuleJob.get_or_none(ModuleJob.id == job_id)
        what = f"#{job_id} {job.command.replace('_', ' ')} of service #{job.service_id}" \
            if job else f"#{job_id}"
        try:
            result = retry_job(job_id, admin=admin, clock=clock, settings=settings)
        except RuleViolation as exc:
            said.append(f"{what}: closed, it no longer applies ({exc})")
            continue
        except HostdeskError as exc:
            said.append(f"{what}: not run: {exc}")
            failing = True
            continue
        if result.success:
            said.append(f"{what}: done" + (f" ({result.message})" if result.message else ""))
        else:
            said.append(f"{what}: failed again: {result.message}")
            failing = True
    return said, failing


def module_queue_task(ctx: RunContext) -> TaskResult:
    """The daily run's "retry the module queue" task (rules §11)."""
    context = _Context(SYSTEM_ADMIN, Clock(ctx.settings.timezone, ctx.today), ctx.settings)
    outcome = modulequeue.retry_due(ctx, _job_executor(context, source="cron",
                                                       send_email=ctx.send_emails))
    return TaskResult(done=outcome.done, failures=outcome.failures, details=outcome.details,
                      items=outcome.items)


def check_server_connection(server_id: int, *, admin: Admin) -> CommandResult:
    """Ask the server's module whether it can reach the server; logged either way."""
    require(admin, SERVER_OPERATIONS)
    with connection():
        server = Server.get_or_none(Server.id == server_id)
        if server is None:
            raise ValidationError("server", f"there is no server #{server_id}")
        module = registry.get_module(server.module)
        if TEST_CONNECTION not in module.supported_commands():
            raise RuleViolation(f"the {module.display_name} module cannot test a connection")
        result = _call(module, lambda: module.test_connection(_server_info(server)))
        outcome = "succeeded" if result.success else "failed"
        with database.atomic():
            audit.record(admin.login, "server.test_connection", "server", server.id,
                         description=f"Test Connection {outcome} for server {server.name}: "
                                     f"{result.message}",
                         after={"success": result.success, "message": result.message})
        return result


# --- running one command ------------------------------------------------------------------


def _run(service_id: int, command: str, arguments: dict, context: _Context, *,
         source: str, send_email: bool, queue_failure: bool,
         delivery_id: str = "") -> CommandResult:
    service = lifecycle.load_service(service_id)
    module = registry.get_module(service.product.module)
    available, why = _availability(module, command, service.status)
    if not available:
        raise RuleViolation(f"service #{service_id}: {why}")
    arguments = _checked_arguments(command, arguments)
    delivery_id = delivery_id or _open_job_delivery_id(service_id, command) or _new_delivery_id()
    params = replace(_service_params(service, with_password=command in module.password_commands),
                     delivery_id=delivery_id)
    result = _call(module, lambda: _invoke(module, command, params, arguments))
    # ids and the module's answer only: the arguments may hold a password
    log.log(logging.INFO if result.success else logging.WARNING,
            "%s of service #%s by the %s module (%s): %s", command, service_id,
            module.display_name, source, "succeeded" if result.success else result.message,
            extra={"service_id": service_id, "command": command, "source": source,
                   "success": result.success})
    admin = context.admin
    with database.atomic():
        _log_attempt(service, module, command, result, admin, source)
        if result.success:
            result = _apply_success(params, command, arguments, result, context, send_email)
            modulequeue.record_success(service.id, command, admin)
        elif queue_failure and command != CHANGE_PASSWORD:  # a password is never queued
            queued = {**arguments, "send_email": send_email, "delivery_id": delivery_id}
            modulequeue.enqueue_failure(service.id, command, queued, result.message,
                                        source=source, admin=admin)
    return result


def _job_executor(context: _Context, *, source: str, send_email: bool = True):
    """Runs a queued job; the queue itself records the outcome on the job."""
    def execute(job: ModuleJob) -> CommandResult:
        arguments = modulequeue.arguments_of(job)
        wants_email = bool(arguments.pop("send_email", True)) and send_email
        delivery_id = arguments.pop("delivery_id", "") or _job_delivery_id(job.id)
        return _run(job.service_id, job.command, arguments, context, source=source,
                    send_email=wants_email, queue_failure=False, delivery_id=delivery_id)
    return execute


def _new_delivery_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def _job_delivery_id(job_id: int) -> str:
    return f"msg_hostdesk_job_{job_id}"  # a job queued before ids were kept


def _open_job_delivery_id(service_id: int, command: str) -> str:
    """A command that failed before and waits in the queue is the same delivery: a new
    attempt (the daily run selecting the service again) keeps its id."""
    job = (ModuleJob.select().where((ModuleJob.service == service_id)
                                    & (ModuleJob.command == command)
                                    & ModuleJob.status.in_(modulequeue.OPEN))
           .order_by(ModuleJob.id).first())
    if job is None:
        return ""
    return modulequeue.arguments_of(job).get("delivery_id") or _job_delivery_id(job.id)


def _availability(module: ProvisioningModule, command: str, status: str) -> tuple[bool, str]:
    if command in SERVICE_COMMANDS:
        if command not in module.supported_commands():
            return False, (f"the {module.display_name} module does not support "
                           f"{COMMAND_LABELS[command]}")
    elif command not in module.custom_commands():
        return False, f"the {module.display_name} module has no command '{command}'"
    return lifecycle.command_allowed(command, status)


def _checked_arguments(command: str, arguments: dict) -> dict:
    unexpected = set(arguments) - _ARGUMENTS.get(command, set())
    if unexpected:
        raise ValidationError(sorted(unexpected)[0],
                              f"is not an argument of {COMMAND_LABELS.get(command, command)}")
    if command == SUSPEND:
        return {"reason": lifecycle.suspension_reason(arguments.get("reason"))}
    if command == CHANGE_PASSWORD:
        password = arguments.get("new_password") or ""
        if not password.strip():
            raise ValidationError("new_password", "is required")
        refuse_control_characters(password, "new_password")
        if len(password) > _MAX_PASSWORD_LENGTH:
            raise ValidationError("new_password",
                                  f"is longer than {_MAX_PASSWORD_LENGTH} characters")
        # Encrypted now, so a missing key stops the command before the server changes.
        return {"new_password": password, "stored_password": secrets.encrypt(password)}
    return {}


def _invoke(module: ProvisioningModule, command: str, params: ServiceParams,
            arguments: dict) -> CommandResult:
    if command == SUSPEND:
        return module.suspend(params, arguments["reason"])
    if command == CHANGE_PASSWORD:
        return module.change_password(params, arguments["new_password"])
    if command in SERVICE_COMMANDS:
        return getattr(module, command)(params)
    return module.run_custom(command, params)


def _call(module: ProvisioningModule, call) -> CommandResult:
    """The module's answer, its message cleaned of escape sequences and markup (it goes to
    the activity log, the module queue, the cron output and toasts); a module that crashes
    or answers nonsense has failed."""
    try:
        result = call()
    except Exception as exc:  # a third-party module's bug must be a failure, not a crash
        result = CommandResult.failed(f"the {module.display_name} module raised "
                                      f"{type(exc).__name__}: {exc}")
    if not isinstance(result, CommandResult):
        result = CommandResult.failed(f"the {module.display_name} module returned "
                                      f"{type(result).__name__}, not a CommandResult")
    return replace(result, message=clean_outside_text(result.message))


def _apply_success(params: ServiceParams, command: str, arguments: dict,
                   result: CommandResult, context: _Context, send_email: bool) -> CommandResult:
    """The state change the module's success calls for (rules §8)."""
    service_id, admin = params.service_id, context.admin
    email = {"settings": context.settings, "send_email": send_email}
    try:
        if command == CREATE:
            lifecycle.activate(service_id, admin, password=params.password, **email)
        elif command == SUSPEND:
            lifecycle.suspend(service_id, arguments["reason"], admin, **email)
        elif command == UNSUSPEND:
            lifecycle.unsuspend(service_id, admin, **email)
        elif command == TERMINATE:
            lifecycle.terminate(service_id, admin, today=context.clock.today(), **email)
        elif command == CHANGE_PACKAGE:
            lifecycle.change_package(service_id, admin)
        elif command == CHANGE_PASSWORD:
            lifecycle.change_password(service_id, arguments["stored_password"], admin)
    except (RuleViolation, StaleRecordError) as exc:
        # The module did act; only the record could not follow. Say both, keep the truth.
        note = (f"{result.message}; but the service changed meanwhile, so hostdesk did not "
                f"update it ({exc})")
        audit.record(admin.login, "module.state_not_updated", "service", service_id,
                     client_id=params.client.id, description=note)
        return CommandResult(True, note, result.data)
    return result


def _log_attempt(service: Service, module: ProvisioningModule, command: str,
                 result: CommandResult, admin: Admin, source: str) -> None:
    label = COMMAND_LABELS.get(command) or module.custom_commands().get(command, command)
    outcome = "Successful" if result.success else "Failed"
    audit.record(admin.login, f"module.{command}", "service", service.id,
                 client_id=service.client_id,
                 description=f"Module {label} {outcome} - Service ID: {service.id}"
                             + (f" - {result.message}" if result.message else ""),
                 after={"success": result.success, "message": result.message,
                        "module": module.name, "source": source})


# --- what a module gets -------------------------------------------------------------------


def _service_params(service: Service, *, with_password: bool) -> ServiceParams:
    """What the module gets; the stored password is decrypted only for the commands the
    module says need it (a suspension never touches it, nor fails on it)."""
    product, client = service.product, service.client
    return ServiceParams(
        service_id=service.id,
        status=service.status,
        client=ClientInfo(client.id, client.display_name, client.email, client.company),
        product=ProductInfo(product.id, product.name, product.type, product.module),
        server=_server_info(service.server) if service.server_id else None,
        domain=service.domain,
        username=service.username,
        password=secrets.decrypt(service.password) if with_password else "",
        config_options=_config_options(service.id),
        module_settings=_json_settings(product.module_settings, f"product {product.name}"),
    )


def _server_info(server: Server) -> ServerInfo:
    return ServerInfo(server.id, server.name, server.hostname, server.ip_address,
                      _json_settings(server.settings, f"server {server.name}"))


def _json_settings(text: str, owner: str) -> dict:
    """Module settings as the module needs them: encrypted values (credentials) decrypted."""
    try:
        settings = json.loads(text or "{}")
    except ValueError:
        raise ValidationError("module_settings", f"the module settings of {owner} are not "
                                                 "valid JSON") from None
    if not isinstance(settings, dict):
        raise ValidationError("module_settings", f"the module settings of {owner} are not a "
                                                 "JSON object")
    return {key: secrets.decrypt(value) if _is_encrypted(value) else value
            for key, value in settings.items()}


def _is_encrypted(value) -> bool:
    return isinstance(value, str) and value.startswith(secrets.PREFIX)


def _config_options(service_id: int) -> dict:
    rows = (ServiceConfigOption
            .select(ServiceConfigOption.quantity, ConfigOption.name, ConfigOption.option_type,
                    ConfigOptionChoice.name.alias("choice_name"))
            .join(ConfigOption).switch(ServiceConfigOption)
            .join(ConfigOptionChoice, JOIN.LEFT_OUTER)
            .where(ServiceConfigOption.service == service_id)
            .order_by(ConfigOption.sort_order, ConfigOption.id)
            .dicts())
    return {row["name"]: row["quantity"] if row["option_type"] == "quantity"
            else row["choice_name"] for row in rows}
