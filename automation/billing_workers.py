"""Extra processes that share a daily run's invoicing (`hostdesk cron --workers N`).

The run plans its chunks (models/renewals.py), starts N-1 of these processes, bills chunks
itself, then waits. Each process gets its job as JSON on standard input (not in its command
line, where `ps` would show it), claims chunks until none is left and prints its share as JSON.
A process that dies leaves its chunk pending: the run bills what is left before it reports.

    python -m hostdesk.automation.billing_workers < job.json
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from typing import Callable

import pendulum

from hostdesk.models.cycles import DayBasis
from hostdesk.models.settings import SECRET_SETTINGS, Settings


def settings_to_json(settings: Settings) -> dict:
    values = dataclasses.asdict(settings)
    for name in SECRET_SETTINGS:  # billing needs no password: it does not leave the process
        values.pop(name, None)
    values["prorata_day_basis"] = settings.prorata_day_basis.value
    values["overdue_reminder_days"] = list(settings.overdue_reminder_days)
    return values


def settings_from_json(values: dict) -> Settings:
    values = dict(values)
    values["prorata_day_basis"] = DayBasis(values["prorata_day_basis"])
    values["overdue_reminder_days"] = tuple(values["overdue_reminder_days"])
    return Settings(**values)


class Workers:
    """The helper processes of one run."""

    def __init__(self, processes: list[subprocess.Popen]):
        self.processes = processes

    def wait(self, heartbeat: Callable[[], None] = lambda: None, poll_seconds: float = 1.0) -> list[dict]:
        """Wait for every process; returns their failures (a crash is one)."""
        failures = []
        for number, process in enumerate(self.processes, start=1):
            while process.poll() is None:
                try:
                    heartbeat()
                except BaseException:  # the run stops (lost lock, deadline): so do helpers
                    self.stop()
                    raise
                time.sleep(poll_seconds)
            output = process.stdout.read() if process.stdout else ""
            errors = process.stderr.read() if process.stderr else ""
            try:
                failures.extend(json.loads(output)["failures"])
            except (ValueError, KeyError, TypeError):
                last_line = (errors.strip().splitlines() or ["no output"])[-1]
                failures.append({"item": f"billing worker {number}",
                                 "error": f"exited with code {process.returncode}: {last_line}"})
        return failures


    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            process.wait()


def start(count: int, *, database_url: str, run_id: int, today: pendulum.Date,
          settings: Settings, send_emails: bool) -> Workers:
    """Start `count` helper processes for run `run_id`."""
    job = json.dumps({"database_url": database_url, "run_id": run_id, "today": today.isoformat(),
                      "settings": settings_to_json(settings), "send_emails": send_emails})
    processes = []
    for _ in range(count):
        process = subprocess.Popen([sys.executable, "-m", "hostdesk.automation.billing_workers"],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        process.stdin.write(job)
        process.stdin.close()
        processes.append(process)
    return Workers(processes)


def run_job(job: dict) -> dict:
    """Bill the run's pending chunks in this process; returns this worker's share."""
    from hostdesk.models import runlock
    from hostdesk.models.db import bind, run_costs
    from hostdesk.models.emails import configure_defaults
    from hostdesk.models.renewals import bill_pending_chunks

    settings = settings_from_json(job["settings"])
    configure_defaults(settings)
    db = bind(job["database_url"])
    try:
        with run_costs():
            result = bill_pending_chunks(job["run_id"], pendulum.parse(job["today"]).date(),
                                         settings, worker=runlock.this_holder(),
                                         send_emails=job["send_emails"], shared=True)
    finally:
        db.close()
    return {"invoices": result.invoices, "lines": result.lines, "amount": str(result.amount),
            "failures": result.failures}


def main() -> int:
    print(json.dumps(run_job(json.load(sys.stdin)), default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
