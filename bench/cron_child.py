"""Run `hostdesk cron` in a child process and measure it: wall time and peak memory.

Peak memory is the `ru_maxrss` that `os.wait4` returns for the cron process. Linux starts a
new process's maxrss at the resident size of the process it was forked from, so the cron
process is started by a tiny launcher (a fresh interpreter with almost nothing loaded), not
by this benchmark process, whose own size would otherwise be reported as the run's peak.
The launcher waits for it and writes its maxrss to a file.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_SECRET_KEY = "hostdesk-benchmark-key-not-a-secret"


@dataclass
class CronRun:
    seconds: float
    peak_mb: float
    exit_code: int
    report: dict | None
    stderr: str
    timed_out: bool = False
    cpu_seconds: float = 0.0  # the run process's own CPU (user + system), helpers excluded

    @property
    def invoices(self) -> int:
        return int(self.report["tasks"]["invoices"]["done"]) if self.report else 0

    @property
    def lines(self) -> int:
        return int(self.report["tasks"]["invoices"]["details"].get("lines", 0)) if self.report else 0

    def failures(self) -> list[str]:
        if not self.report:
            return [f"no report (exit {self.exit_code}): {self.stderr[-500:]}"]
        return [f"{name}: {f['item']}: {f['error']}" for name, task in self.report["tasks"].items()
                for f in task["failures"]]


def hostdesk_command() -> list[str]:
    script = Path(sys.executable).parent / "hostdesk"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from hostdesk.tui.cli import main; sys.exit(main())"]


def _closed_port() -> int:
    """A local port nobody listens on: SMTP delivery fails at once instead of mailing anyone."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_environment(workdir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOSTDESK_")}
    env.update(HOSTDESK_SECRET_KEY=BENCH_SECRET_KEY, XDG_CONFIG_HOME=str(workdir / "xdg-config"),
               XDG_DATA_HOME=str(workdir / "xdg-data"), HOSTDESK_SMTP_HOST="127.0.0.1",
               HOSTDESK_SMTP_PORT=str(_closed_port()), HOSTDESK_SMTP_TIMEOUT="2",
               # the bench measures the whole day's work: the termination guard would hold
               # the "everything due" day's terminations for an admin instead
               HOSTDESK_TERMINATE_GUARD_PERCENT="100", HOSTDESK_TERMINATE_GUARD_COUNT="10000000")
    return env


LAUNCHER = """
import os, signal, sys
out, command = sys.argv[1], sys.argv[2:]
pid = os.fork()
if pid == 0:
    os.execvp(command[0], command)
signal.signal(signal.SIGTERM, lambda *a: os.kill(pid, signal.SIGKILL))
while True:
    try:
        _, status, usage = os.wait4(pid, 0)
        break
    except InterruptedError:
        continue
with open(out, "w") as f:
    f.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status) % 256)
"""


def run_cron(url: str, run_date, workdir: Path, *, emails: bool,
             timeout: float | None = None, workers: int = 1) -> CronRun:
    """`hostdesk --db URL cron --date D --json [--no-email] [--workers N]`, timed, with its
    peak RSS (the run's own process: helper workers are not counted).

    A run still going after `timeout` seconds is killed: `timed_out` is set and `seconds`
    is then a lower bound."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [*hostdesk_command(), "--db", url, "cron", "--date", run_date.isoformat(),
               "--allow-far-date", "--json"]
    if not emails:
        command.append("--no-email")
    if workers > 1:
        command += ["--workers", str(workers)]
    out_path, err_path = workdir / "cron.out", workdir / "cron.err"
    rss_path = workdir / "cron.maxrss"
    rss_path.unlink(missing_ok=True)
    launcher = [sys.executable, "-I", "-S", "-c", LAUNCHER, str(rss_path), *command]
    with open(out_path, "w") as out, open(err_path, "w") as err:
        started = time.perf_counter()
        child = subprocess.Popen(launcher, stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                 cwd=workdir, env=child_environment(workdir))
        timed_out = False
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            child.terminate()  # the launcher kills the run and still reports its peak
            child.wait()
        seconds = time.perf_counter() - started
    text = out_path.read_text()
    peak_kb, cpu = rss_path.read_text().split() if rss_path.exists() else ("0", "0")
    try:
        report = json.loads(text) if text.strip() else None
    except json.JSONDecodeError:
        report = None
    return CronRun(seconds=seconds, peak_mb=int(peak_kb) / 1024, exit_code=child.returncode,
                   report=report, stderr=err_path.read_text(), timed_out=timed_out,
                   cpu_seconds=float(cpu))
