"""A throw-away MariaDB server for the WHMCS import tests: a fresh data directory in a temp
dir, a free loopback port, stopped at the end.

MariaDB refuses to run as root without being told a user, so as root the server runs as
the unprivileged `mysql` system user (created by the Debian package), or `nobody`.
"""

import os
import pwd
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


def _binary(*names: str) -> str:
    for name in names:
        for found in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
            if found and os.path.exists(found):
                return found
    raise RuntimeError(f"MariaDB's {names[0]} was not found (apt-get install mariadb-server)")


def _service_user() -> str:
    for name in ("mysql", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("no unprivileged user (mysql or nobody) to run MariaDB as")


class MariaDBServer:
    def __init__(self):
        self.port = _free_port()
        self.root = Path(tempfile.mkdtemp(prefix="hostdesk-mariadb-"))
        self.data = self.root / "data"
        self.socket = self.root / "mysqld.sock"
        self.tmp = self.root / "tmp"  # its own: anything that tidies /tmp cannot break a query
        self.user = _service_user() if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.process = None

    def start(self) -> "MariaDBServer":
        os.chmod(self.root, 0o755)
        self.tmp.mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, user=self.user)
            shutil.chown(self.tmp, user=self.user)
        subprocess.run(
            [_binary("mariadb-install-db", "mysql_install_db"), f"--datadir={self.data}",
             f"--user={self.user}", "--auth-root-authentication-method=normal",
             "--skip-test-db", "--skip-name-resolve"],
            check=True, capture_output=True, text=True)
        log = open(self.root / "server.log", "w")
        self.process = subprocess.Popen(
            [_binary("mariadbd", "mysqld"), "--no-defaults", f"--datadir={self.data}",
             f"--user={self.user}", f"--port={self.port}", "--bind-address=127.0.0.1",
             f"--socket={self.socket}", f"--pid-file={self.root / 'mysqld.pid'}",
             f"--tmpdir={self.tmp}", "--skip-name-resolve", "--skip-log-bin", "--innodb-flush-log-at-trx-commit=0",
             "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=32M",
             "--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"],
            stdout=log, stderr=subprocess.STDOUT)
        self._wait_ready()
        # root@localhost only answers the socket; a TCP account for the tests
        self.admin_sql("CREATE USER 'admin'@'127.0.0.1' IDENTIFIED BY 'admin'",
                       "GRANT ALL PRIVILEGES ON *.* TO 'admin'@'127.0.0.1' WITH GRANT OPTION",
                       via_socket=True)
        return self

    def _wait_ready(self):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            if self.socket.exists():
                try:
                    self.admin_sql("SELECT 1", via_socket=True)
                    return
                except Exception:
                    pass
            time.sleep(0.1)
        raise RuntimeError("MariaDB did not start: " + (self.root / "server.log").read_text())

    def connect(self, database: str | None = None, *, via_socket: bool = False):
        import pymysql

        if via_socket:
            return pymysql.connect(unix_socket=str(self.socket), user="root", database=database,
                                   autocommit=True, charset="utf8mb4")
        return pymysql.connect(host="127.0.0.1", port=self.port, user="admin", password="admin",
                               database=database, autocommit=True, charset="utf8mb4")

    def admin_sql(self, *statements: str, database: str | None = None,
                  via_socket: bool = False) -> None:
        conn = self.connect(database, via_socket=via_socket)
        try:
            with conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)
        finally:
            conn.close()

    def create_database(self, name: str, reader: str, password: str) -> str:
        """A new empty database and a user that may only read it; returns its mysql:// URL."""
        self.admin_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4",
                       f"CREATE USER IF NOT EXISTS '{reader}'@'127.0.0.1' IDENTIFIED BY '{password}'",
                       f"GRANT SELECT ON `{name}`.* TO '{reader}'@'127.0.0.1'")
        return f"mysql://{reader}:{password}@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            if self.process and self.process.poll() is None:
                self.process.kill()  # its data directory is deleted next: no clean shutdown
                self.process.wait()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
