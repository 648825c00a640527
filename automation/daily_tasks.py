"""The daily run's tasks in rules §11 order. Each is `task(ctx) -> TaskResult`.

The rules each task applies live in `models/`; module commands go through the provisioning
runner, so a failure lands in the module queue with its error instead of stopping the run.
"""

import pendulum

from hostdesk.automation.run_context import RunContext, TaskResult
from hostdesk.models import cancellations, overdue, renewals, runlock, terminationguard
from hostdesk.models.clock import Clock
from hostdesk.models.db import few_checkpoints
from hostdesk.models.errors import HostdeskError, RuleViolation
from hostdesk.models.permissions import SYSTEM_ADMIN
from hostdesk.models.renewals import generate_due_invoices
from hostdesk.models.schema import Admin, Service, ServiceStatus
from hostdesk.models.settings import Settings


def generate_invoices(ctx: RunContext) -> TaskResult:
    if ctx.dry_run or ctx.run_id is None:
        result = generate_due_invoices(
            ctx.today, ctx.settings, admin=SYSTEM_ADMIN, dry_run=ctx.dry_run,
            send_emails=ctx.send_emails,
            progress=lambda done, total: ctx.progress("invoices", done, total),
            heartbeat=ctx.heartbeat)
        return TaskResult(done=result.invoices, failures=result.failures,
                          details={"lines": result.lines, "amount": str(result.amount)},
                          items=result.items)
    return _generate_invoices_in_chunks(ctx)


def _generate_invoices_in_chunks(ctx: RunContext) -> TaskResult:
    """The run's invoicing as claimable chunks, billed by this process and `ctx.workers - 1`
    helpers; whatever a crashed helper left pending is billed here before the totals."""
    from hostdesk.automation import billing_workers

    # The planning process starts before the chunks are counted: it is ready sooner.
    with few_checkpoints(copy_back_meanwhile=True), renewals.billing_planner(
            ctx.today, ctx.settings, send_emails=ctx.send_emails) as planner:
        chunks = renewals.plan_billing_chunks(ctx.run_id, ctx.today, ctx.settings)
        helpers = None
        if ctx.workers > 1 and chunks > 1:
            helpers = billing_workers.start(min(ctx.workers, chunks) - 1,
                                            database_url=ctx.database_url, run_id=ctx.run_id,
                                            today=ctx.today, settings=ctx.settings,
                                            send_emails=ctx.send_emails)
        worker = f"{runlock.this_holder()} (run)"

        def bill_what_is_left():
            return renewals.bill_pending_chunks(
                ctx.run_id, ctx.today, ctx.settings, worker=worker, send_emails=ctx.send_emails,
                progress=lambda done, total: ctx.progress("invoices", done, total),
                heartbeat=ctx.heartbeat, planner=planner, shared=helpers is not None)

        mine = bill_what_is_left()
        helper_failures = helpers.wait(heartbeat=ctx.heartbeat) if helpers else []
        if helpers:
            mine.failures.extend(bill_what_is_left().failures)
    total = renewals.billing_totals(ctx.run_id)
    emails = total.invoices if ctx.send_emails and ctx.settings.send_invoice_emails else 0
    ctx.written = {"invoice": total.invoices, "invoice_line": total.lines,
                   "activity_log": total.invoices, "email_outbox": emails, "billing_chunk": chunks}
    failures = total.failures + [f for f in mine.failures + helper_failures
                                 if f not in total.failures]
    return TaskResult(done=total.invoices, failures=failures,
                      details={"lines": total.lines, "amount": str(total.amount),
                               "chunks": chunks, "workers": 1 + (len(helpers.processes) if helpers else 0)})


def send_reminders(ctx: RunContext) -> TaskResult:
    if not ctx.send_emails:
        return TaskResult(details={"skipped": "emails are off for this run"})
    total, after, items = 0, None, []
    while True:
        queued, after = overdue.queue_reminders(ctx.today, ctx.settings, dry_run=ctx.dry_run,
                                                after=after, limit=ctx.batch_size,
                                                found=items if ctx.dry_run else None)
        total += queued
        if after is None:
            return TaskResult(done=total, items=items)
        ctx.heartbeat()


def _run_module(ctx: RunContext, service_id: int, command: str, **arguments):
    """Run a module command for the daily run; returns (succeeded, error message)."""
    from hostdesk.automation.provisioning.runner import run_command

    try:
        result = run_command(service_id, command, admin=SYSTEM_ADMIN,
                             clock=Clock(ctx.settings.timezone, ctx.today),
                             settings=ctx.settings, source="cron",
                             send_email=ctx.send_emails, **arguments)
    except HostdeskError as exc:
        return False, str(exc)
    return result.success, result.message


def _for_each(ctx: RunContext, select, act, label: str, skip=None) -> TaskResult:
    """Page through `select(after_id=, limit=)` ids and `act` on each (or count, in a dry run),
    leaving out the ids `skip(page)` returns."""
    outcome = TaskResult()
    after, seen = 0, set()
    while True:
        ids = select(after_id=after, limit=ctx.batch_size)
        if not ids:
            return outcome
        skipped = skip(ids) if skip is not None else set()
        for item_id in ids:
            if item_id in seen or item_id in skipped:
                continue
            seen.add(item_id)
            ctx.heartbeat()  # stops the run at once when its lock or its time is gone
            if ctx.dry_run:
                outcome.done += 1
                outcome.items.append(f"{label} #{item_id}")
                continue
            ok, error = act(item_id)
            if ok:
                outcome.done += 1
            else:
                outcome.failures.append({"item": f"{label} #{item_id}", "error": error})
        after = ids[-1]
        ctx.heartbeat()


def process_request(request_id: int, *, admin: Admin, clock: Clock, settings: Settings,
                    source: str, send_email: bool = True) -> str:
    """Rules §10, one request: the module's Terminate (for an active or suspended service),
    then the request is completed and the service cancelled. The daily run and the
    cancellation queue's "process now" both come here. A failed Terminate raises
    RuleViolation and leaves the request open; returns what was done."""
    from hostdesk.automation.provisioning.runner import run_command

    request = cancellations.open_request(request_id)
    service = Service.get_by_id(request.service_id)
    note = ""
    if service.status in (ServiceStatus.ACTIVE, ServiceStatus.SUSPENDED):
        result = run_command(service.id, "terminate", admin=admin, clock=clock,
                             settings=settings, source=source, send_email=send_email)
        if not result.success:
            raise RuleViolation(f"the module's Terminate failed: {result.message}; the request "
                                "stays open")
        note = f" (Terminate: {result.message})" if result.message else ""
    cancellations.complete_request(request.id, clock.today(), admin)
    return f"Request #{request.id} processed: service #{service.id} is cancelled{note}"


def process_cancellations(ctx: RunContext) -> TaskResult:
    if not ctx.settings.process_cancellations:
        return TaskResult(details={"skipped": "process_cancellations is off"})

    def select(after_id, limit):
        return [r.id for r in cancellations.due_requests(ctx.today, after_id=after_id, limit=limit)]

    def act(request_id):
        try:
            process_request(request_id, admin=SYSTEM_ADMIN,
                            clock=Clock(ctx.settings.timezone, ctx.today), settings=ctx.settings,
                            source="cron", send_email=ctx.send_emails)
        except HostdeskError as exc:
            return False, str(exc)
        return True, ""

    requests = _for_each(ctx, select, act, "cancellation request")

    def select_auto(after_id, limit):
        return [s.id for s in cancellations.due_auto_terminations(ctx.today, after_id=after_id,
                                                                  limit=limit)]

    auto = _for_each(ctx, select_auto, lambda sid: _run_module(ctx, sid, "terminate"),
                     "service (auto-terminate)")
    return TaskResult(done=requests.done + auto.done, failures=requests.failures + auto.failures,
                      details={"requests": requests.done, "auto_terminated": auto.done},
                      items=requests.items + auto.items)


def suspend_overdue(ctx: RunContext) -> TaskResult:
    return _for_each(ctx, lambda **page: overdue.services_to_suspend(ctx.today, ctx.settings, **page),
                     lambda sid: _run_module(ctx, sid, "suspend", reason=""),  # blank: non-payment
                     "service")


def _terminations_held(ctx: RunContext) -> TaskResult | None:
    """The termination guard (rules §11), checked once per run before its first termination:
    too many terminations are held back for an admin to confirm, and none is done."""
    if ctx.terminations_held is None:
        plan = terminationguard.plan(ctx.today, ctx.settings)
        ctx.terminations_held = 0
        if terminationguard.exceeds(plan.count, plan.live, ctx.settings):
            ctx.terminations_held = plan.count
            ctx.guard_details = {"held": plan.count, "live_services": plan.live,
                                 "why": terminationguard.why(plan, ctx.settings)}
            if ctx.dry_run:
                ctx.guard_details["note"] = "dry run: a real run would hold these"
            else:
                alerted = terminationguard.hold(ctx.run_id, plan, ctx.settings)
                ctx.guard_details.update(
                    admins_alerted=alerted,
                    confirm=terminationguard.confirm_command(ctx.run_id))
    if not ctx.terminations_held:
        return None
    return TaskResult(details=dict(ctx.guard_details))


def terminate_overdue(ctx: RunContext) -> TaskResult:
    held = _terminations_held(ctx)
    if held is not None:
        return held
    return _for_each(ctx, lambda **page: overdue.services_to_terminate(ctx.today, ctx.settings, **page),
                     lambda sid: _run_module(ctx, sid, "terminate"), "service",
                     skip=terminationguard.held_among)


def terminate_fixed_term(ctx: RunContext) -> TaskResult:
    held = _terminations_held(ctx)
    if held is not None:
        return held

    def select(after_id, limit):
        return [s.id for s in cancellations.due_fixed_term(ctx.today, after_id=after_id, limit=limit)]

    return _for_each(ctx, select, lambda sid: _run_module(ctx, sid, "terminate"), "service",
                     skip=terminationguard.held_among)


def retry_module_queue(ctx: RunContext) -> TaskResult:
    from hostdesk.automation.provisioning.runner import module_queue_task

    return module_queue_task(ctx)


def deliver_email(ctx: RunContext) -> TaskResult:
    from hostdesk.automation.mail import email_task

    return email_task(ctx)


ANALYSIS_ROWS = 1000  # index entries ANALYZE samples per index (SQLite suggests 100-1000)


def maintenance(ctx: RunContext) -> TaskResult:
    """Keep searches and query plans fast: planner statistics daily, the search index weekly."""
    if ctx.dry_run:
        return TaskResult()
    from hostdesk.models import listing, search
    from hostdesk.models.db import database, is_postgres

    if is_postgres():
        tables = _tables_to_analyze(ctx.written)
        for table in tables:  # names from the catalogue, quoted: nothing typed reaches the SQL
            database.execute_sql(f'ANALYZE "{table}"')
        # the day's status changes left counter rows: folded here, not by the next list read
        listing.fold_service_counts()
        return TaskResult(done=1, details={"analyzed": tables})
    # Planner statistics from a sample of each index (SQLite's advice for optimize): a full
    # ANALYZE of a million-row table after the day's inserts costs seconds, the sample ms.
    database.execute_sql(f"PRAGMA analysis_limit={ANALYSIS_ROWS}")
    with database.atomic():  # takes the write lock up front (waits), instead of upgrading
        database.execute_sql("PRAGMA optimize")
    merged = ((search.tidy_index() + search.tidy_activity_index())
              if ctx.today.day_of_week == pendulum.WeekDay.SUNDAY else 0)
    return TaskResult(done=1, details={"search_index_steps": merged})


ANALYZE_SHARE = 0.1  # autovacuum's own default (autovacuum_analyze_scale_factor)


def _tables_to_analyze(written: dict[str, int]) -> list[str]:
    """PostgreSQL: the tables in which what changed since their last analysis is at least a
    tenth of their rows (autovacuum's rule, applied at once rather than whenever it comes
    round). What the invoicing wrote is counted too: the server's counts of this run's
    writes may lag. A normal day's invoices are a few percent of a large invoice table, which
    sampling again would cost more than the day's invoicing; a new or small table is
    analysed as soon as it changes. Analysing the whole database re-sampled every large
    table the run never touched."""
    from hostdesk.models.db import database

    chosen = []
    for table, changed, rows in database.execute_sql(
            "SELECT s.relname, s.n_mod_since_analyze, c.reltuples FROM pg_stat_user_tables s "
            "JOIN pg_class c ON c.oid = s.relid WHERE s.schemaname = current_schema()"):
        changed = (changed or 0) + written.get(table, 0)
        if changed > 0 and (rows is None or rows < 0 or changed >= ANALYZE_SHARE * rows):
            chosen.append(table)  # rows < 0: never analysed
    return sorted(chosen)


TASKS = [
    ("invoices", generate_invoices),
    ("reminders", send_reminders),
    ("cancellations", process_cancellations),
    ("suspensions", suspend_overdue),
    ("terminations", terminate_overdue),
    ("fixed_term", terminate_fixed_term),
    ("module_queue", retry_module_queue),
    ("email", deliver_email),
    ("maintenance", maintenance),
]
