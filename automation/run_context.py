"""What a daily-run task receives (`RunContext`) and returns (`TaskResult`).

Its own module so that the tasks (`daily_tasks`, `mail`, the provisioning runner) and the
run that calls them (`cron`) depend on it, not on each other.
"""

from dataclasses import dataclass, field
from typing import Callable

import pendulum

from hostdesk.models.settings import Settings


@dataclass
class TaskResult:
    done: int = 0  # items acted on (or, in a dry run, that would be)
    failures: list = field(default_factory=list)  # [{"item": "...", "error": "..."}]
    details: dict = field(default_factory=dict)
    items: list = field(default_factory=list)  # dry run: what it would act on ("service #12")

    @property
    def ok(self) -> bool:
        return not self.failures


class RunStopped(BaseException):
    """The run must stop now: its lock is no longer its own, or its deadline passed.

    A BaseException, like KeyboardInterrupt, so no task's `except Exception` swallows it;
    the transaction in progress rolls back and the run reports what it did and did not do."""


@dataclass
class RunContext:
    today: pendulum.Date
    settings: Settings
    dry_run: bool = False
    send_emails: bool = True
    progress: Callable[[str, int, int | None], None] = lambda task, done, total: None
    heartbeat: Callable[[], None] = lambda: None
    run_id: int | None = None  # the CronRun row (none in a dry run)
    workers: int = 1  # processes sharing the invoicing (PostgreSQL)
    database_url: str = ""  # for the extra workers to connect to
    terminations_held: int | None = None  # decided by the termination guard, once per run
    guard_details: dict = field(default_factory=dict)
    written: dict = field(default_factory=dict)  # table -> rows the run's invoicing wrote

    @property
    def batch_size(self) -> int:
        return self.settings.batch_size
