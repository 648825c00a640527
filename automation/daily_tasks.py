"""The daily run's tasks in rules §11 order. Each is `task(ctx) -> TaskResult`.

The billing, cancellation and provisioning work each task does lives in `models/` and
`automation/` modules; this file only orders them.
"""

from automation.cron import RunContext, TaskResult


def generate_invoices(ctx: RunContext) -> TaskResult:
    return TaskResult()


def send_reminders(ctx: RunContext) -> TaskResult:
    return TaskResult()


def process_cancellations(ctx: RunContext) -> TaskResult:
    return TaskResult()


def suspend_overdue(ctx: RunContext) -> TaskResult:
    return TaskResult()


def terminate_overdue(ctx: RunContext) -> TaskResult:
    return TaskResult()


def terminate_fixed_term(ctx: RunContext) -> TaskResult:
    return TaskResult()


def retry_module_queue(ctx: RunContext) -> TaskResult:
    return TaskResult()


def deliver_email(ctx: RunContext) -> TaskResult:
    return TaskResult()


TASKS = [
    ("invoices", generate_invoices),
    ("reminders", send_reminders),
    ("cancellations", process_cancellations),
    ("suspensions", suspend_overdue),
    ("terminations", terminate_overdue),
    ("fixed_term", terminate_fixed_term),
    ("module_queue", retry_module_queue),
    ("email", deliver_email),
]
