"""A local MariaDB primary and read replica (binlog replication) for tests and demos.

``ReplicaPair(directory).start()`` runs ``mariadb-install-db`` once, copies that data
directory for the replica, and starts two ``mariadbd`` on free loopback ports: the
primary with ``--log-bin --server-id=1``, the replica with ``--server-id=2 --read-only``.
Sockets, pid files, error logs and data live under ``directory``. Accounts (``admin``,
``app``, ``repl``) get random passwords from an init file that both servers run at
every start with ``sql_log_bin=0``, so they exist on both without being replicated.
The replica follows the primary with ``MASTER_USE_GTID=slave_pos``.

Used by the test fixture (tests/test_replica.py) and by ``flask replica pair`` (the
README's measurement). The machine's own MariaDB is never touched.
"""
import os
import secrets
import shutil
import signal
import subprocess
import time
from contextlib import closing
from pathlib import Path

import pymysql

from flask_perf.loadtest.server import free_port

HOST = "127.0.0.1"
DATABASE = "school"
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/usr/local/sbin"])
TUNING = ("--skip-name-resolve", "--innodb-buffer-pool-size=128M", "--innodb-log-file-size=16M",
          "--innodb-flush-log-at-trx-commit=2", "--performance-schema=OFF", "--max-connections=200")


class PairError(RuntimeError):
    """The pair could not be installed, started or synchronised."""


def missing_binaries() -> list[str]:
    """Names of the MariaDB programs this module needs that are not installed."""
    return [name for name in ("mariadbd", "mariadb-install-db")
            if not shutil.which(name, path=SEARCH_PATH)]


class MariaDBServer:
    """One ``mariadbd`` process on its own data directory, socket and port."""

    def __init__(self, role: str, directory: Path, server_id: int, args: list[str]):
        self.role, self.directory, self.server_id, self.args = role, directory, server_id, args
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def datadir(self) -> Path:
        return self.directory / "data"

    def argv(self) -> list[str]:
        d = self.directory
        user = ["--user=root"] if os.geteuid() == 0 else []  # mariadbd refuses root otherwise
        return [shutil.which("mariadbd", path=SEARCH_PATH), "--no-defaults", *user,
                f"--datadir={self.datadir}", f"--socket={d / 'mysqld.sock'}",
                f"--pid-file={d / 'mysqld.pid'}", f"--log-error={d / 'error.log'}",
                f"--tmpdir={d}", f"--bind-address={HOST}", f"--port={self.port}",
                f"--server-id={self.server_id}", *TUNING, *self.args]

    def start(self, password: str, timeout: float = 30) -> None:
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise PairError(f"{self.role} mariadbd exited ({self.proc.returncode}):\n"
                                f"{self.error_log()}")
            try:
                self.connect(password).close()
                return
            except pymysql.err.OperationalError:
                time.sleep(0.05)
        raise PairError(f"{self.role} mariadbd not answering after {timeout}s:\n{self.error_log()}")

    def stop(self, timeout: float = 30) -> None:
        """Shut down cleanly (SIGTERM); kill if it takes longer than ``timeout``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def connect(self, password: str, user: str = "admin", **kwargs) -> pymysql.Connection:
        return pymysql.connect(host=HOST, port=self.port, user=user, password=password,
                               connect_timeout=2, autocommit=True, **kwargs)

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else "(no error log)"


class ReplicaPair:
    """A primary and its replica under ``directory``; ``general_log`` logs every statement
    into ``mysql.general_log`` on both (the tests read it to see which server ran what)."""

    def __init__(self, directory: str | os.PathLike, general_log: bool = False):
        self.directory = Path(directory)
        self.passwords = {user: secrets.token_urlsafe(18) for user in ("admin", "app", "repl")}
        logging_args = ["--general-log=1", "--log-output=TABLE"] if general_log else []
        init = [f"--init-file={self.directory / 'accounts.sql'}"]
        self.primary = MariaDBServer("primary", self.directory / "primary", 1, [
            f"--log-bin={self.directory / 'primary' / 'binlog'}", "--binlog-format=ROW",
            "--sync-binlog=0", *init, *logging_args])
        self.replica = MariaDBServer("replica", self.directory / "replica", 2, [
            "--read-only", "--skip-log-bin", f"--relay-log={self.directory / 'replica' / 'relay'}",
            *init, *logging_args])

    def url(self, server: MariaDBServer) -> str:
        """SQLAlchemy URL of the school database on ``server``, as the app account."""
        return f"mysql+pymysql://app:{self.passwords['app']}@{HOST}:{server.port}/{DATABASE}"

    @property
    def primary_url(self) -> str:
        return self.url(self.primary)

    @property
    def replica_url(self) -> str:
        return self.url(self.replica)

    def start(self, timeout: float = 60) -> "ReplicaPair":
        if missing := missing_binaries():
            raise PairError(f"not installed: {', '.join(missing)} (apt-get install mariadb-server)")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._write_accounts()
        self._install(self.primary.datadir)
        shutil.copytree(self.primary.datadir, self.replica.datadir, symlinks=True)
        try:
            self.primary.start(self.passwords["admin"], timeout)
            self.replica.start(self.passwords["admin"], timeout)
            self.execute(self.replica, "CHANGE MASTER TO MASTER_HOST=%s, MASTER_PORT=%s, "
                         "MASTER_USER='repl', MASTER_PASSWORD=%s, MASTER_CONNECT_RETRY=1, "
                         "MASTER_USE_GTID=slave_pos",
                         (HOST, self.primary.port, self.passwords["repl"]))
            self.execute(self.replica, "START SLAVE")
            self.wait_synced(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for server in (self.replica, self.primary):
            server.stop()

    def remove(self) -> None:
        """Stop both servers and delete the directory."""
        self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)

    def execute(self, server: MariaDBServer, sql: str, args=None) -> list[dict]:
        """Run ``sql`` as the admin account (kept out of the general log); rows as dicts."""
        with closing(server.connect(self.passwords["admin"], init_command="SET sql_log_off=1",
                                    cursorclass=pymysql.cursors.DictCursor)) as conn:
            with conn.cursor() as cur:
                cur.execute(sql, args)
                return list(cur.fetchall())

    def wait_synced(self, timeout: float = 30) -> None:
        """Block until the replica has applied everything the primary has binlogged."""
        position = self.execute(self.primary, "SELECT @@gtid_binlog_pos AS pos")[0]["pos"]
        deadline = time.monotonic() + timeout
        while True:
            status = self.execute(self.replica, "SHOW SLAVE STATUS")
            if status and status[0]["Slave_IO_Running"] == "Yes" and \
                    status[0]["Slave_SQL_Running"] == "Yes":
                break
            if status and status[0]["Last_SQL_Error"] or time.monotonic() > deadline:
                raise PairError(f"replication is not running: {status and status[0]}")
            time.sleep(0.05)
        left = max(1, int(deadline - time.monotonic()))
        waited = self.execute(self.replica, "SELECT MASTER_GTID_WAIT(%s, %s) AS r", (position, left))
        if waited[0]["r"] != 0:
            raise PairError(f"replica did not reach GTID {position} within {timeout}s")

    def _write_accounts(self) -> None:
        p = self.passwords
        sql = "\n".join([
            "SET sql_log_bin=0;",
            f"CREATE DATABASE IF NOT EXISTS {DATABASE} CHARACTER SET utf8mb4;",
            f"CREATE OR REPLACE USER 'admin'@'{HOST}' IDENTIFIED BY '{p['admin']}';",
            f"GRANT ALL PRIVILEGES ON *.* TO 'admin'@'{HOST}' WITH GRANT OPTION;",
            f"CREATE OR REPLACE USER 'app'@'{HOST}' IDENTIFIED BY '{p['app']}';",
            f"GRANT ALL PRIVILEGES ON {DATABASE}.* TO 'app'@'{HOST}';",
            f"CREATE OR REPLACE USER 'repl'@'{HOST}' IDENTIFIED BY '{p['repl']}';",
            f"GRANT REPLICATION SLAVE ON *.* TO 'repl'@'{HOST}';",
        ])
        path = self.directory / "accounts.sql"
        path.touch(mode=0o600)
        path.write_text(sql + "\n")

    def _install(self, datadir: Path) -> None:
        user = ["--user=root"] if os.geteuid() == 0 else []
        argv = [shutil.which("mariadb-install-db", path=SEARCH_PATH), "--no-defaults", *user,
                f"--datadir={datadir}", "--skip-test-db", "--auth-root-authentication-method=socket",
                "--innodb-log-file-size=16M"]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        if run.returncode != 0:
            raise PairError(f"mariadb-install-db failed ({run.returncode}): {run.stderr[-2000:]}")
