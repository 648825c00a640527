"""A throw-away PostgreSQL server for the test suite: initdb in a temp dir, a free port.

initdb and postgres refuse to run as root, so as root the server runs as the
unprivileged `postgres` system user.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _find_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    raise RuntimeError(f"PostgreSQL's {name} was not found on PATH or under /usr/lib/postgresql")


class PostgresServer:
    def __init__(self, keep_in: Path | None = None, settings: dict[str, str] | None = None):
        """A server in a temporary directory, removed by `stop`; or, with `keep_in`, one whose
        data stays in that directory and is found there again by the next start. `settings`
        are server settings given at each start, over the test suite's own."""
        self.port = _free_port()
        self.settings = dict(settings or {})
        self.kept = keep_in is not None
        if self.kept:
            keep_in.mkdir(parents=True, exist_ok=True)
            self.root = keep_in.resolve()  # pg_ctl runs the server from its own directory
        else:
            self.root = Path(tempfile.mkdtemp(prefix="hostdesk-pg-"))
        self.data = self.root / "data"
        self.as_root = os.geteuid() == 0
        self.user = "postgres" if self.as_root else os.environ.get("USER", "postgres")

    def _run(self, *args: str, **kwargs):
        command = list(args)
        if self.as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)

    def start(self) -> "PostgresServer":
        if self.as_root:
            shutil.chown(self.root, user="postgres")
        if not (self.data / "PG_VERSION").exists():
            shutil.rmtree(self.data, ignore_errors=True)  # an initdb that did not finish
            self._run(_find_binary("initdb"), "-D", str(self.data), "-U", self.user,
                      "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8")
        try:
            self._run(
                _find_binary("pg_ctl"), "-D", str(self.data), "-l", str(self.root / "log"), "-w",
                "-o", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                      "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                      "-c max_connections=200"
                      + "".join(f" -c {name}={value}" for name, value in self.settings.items()),
                "start",
            )
        except subprocess.CalledProcessError as exc:
            log = self.root / "log"
            last = log.read_text(errors="replace").splitlines()[-3:] if log.exists() else []
            raise RuntimeError(f"PostgreSQL did not start in {self.data} (a server already "
                               f"running there?): {exc.stderr.strip()} {' '.join(last)}") from None
        self._wait_ready()
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.1)
        raise RuntimeError("PostgreSQL did not start: " + (self.root / "log").read_text())

    def url(self, dbname: str) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres"):
        """A psycopg2 connection to `dbname` as the server's superuser, in autocommit."""
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, dbname=dbname)
        conn.autocommit = True
        return conn

    def admin_sql(self, sql: str, params: tuple = (), dbname: str = "postgres") -> list[tuple]:
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params or None)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    def stop(self) -> None:
        if self.kept:  # a clean shutdown: the data is used again
            self._run(_find_binary("pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")
            return
        try:
            self._run(_find_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
