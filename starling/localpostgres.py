"""A throwaway PostgreSQL server on a free local port, for tests and benchmarks.

`initdb` into a temporary directory, `pg_ctl start` on 127.0.0.1 only (no Unix socket),
one database created; `stop()` and `start()` keep the port and the data directory, so a
fault test can take the server down and bring it back. PostgreSQL refuses to run as root:
under root the server runs as the `postgres` system user (or `nobody`). Durability is off
unless asked for (tests want speed, benchmarks want the real cost of a commit); either
way a commit survives the server being killed.
See docs/subsystems/store.md.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

STARTUP_TIMEOUT_S = 30
START_ATTEMPTS = 3
DATABASE = "starling"
SUPERUSER = "postgres"
# Unprivileged accounts the server may run as when we are root, in order of preference.
RUN_AS_CANDIDATES = ("postgres", "nobody")
DEBIAN_BINARIES = "/usr/lib/postgresql/*/bin"
# Without fsync a commit survives a crash of the server (its WAL is written to the
# kernel at commit) but not of the machine, which is all a test server needs.
FAST_SETTINGS = {"fsync": "off", "full_page_writes": "off"}


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries, or the server would not start."""


def find_binary(name: str) -> str:
    """`name` on PATH, else in the newest Debian version directory."""
    found = shutil.which(name)
    if found is not None:
        return found
    candidates = sorted(
        glob.glob(f"{DEBIAN_BINARIES}/{name}"), key=lambda p: int(Path(p).parts[-3])
    )
    if not candidates:
        raise PostgresUnavailable(f"{name} is neither on PATH nor in {DEBIAN_BINARIES}")
    return candidates[-1]


def _run_as() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in RUN_AS_CANDIDATES:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise PostgresUnavailable(f"running as root and none of {RUN_AS_CANDIDATES} exists")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class LocalPostgres:
    """One private server: its directory, port and superuser URL."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port
        self.data_dir = root / "data"
        self.log_file = root / "server.log"
        self._user = _run_as()

    @property
    def admin_url(self) -> str:
        """The maintenance database, for creating and dropping databases."""
        return self.url_of("postgres")

    @property
    def url(self) -> str:
        return self.url_of(DATABASE)

    def url_of(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def init(self, *, durable: bool) -> None:
        """initdb with trust authentication (loopback only) and this server's settings."""
        if self._user is not None:
            os.chown(self.root, self._user.pw_uid, self._user.pw_gid)
        args = [find_binary("initdb"), "-D", str(self.data_dir), "-U", SUPERUSER]
        self._pg([*args, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": "''",
            "max_connections": "200",
        }
        if not durable:
            settings.update(FAST_SETTINGS)
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def start(self) -> None:
        """Starts the server on its port and waits until it accepts connections."""
        ctl = [find_binary("pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file)]
        ctl += ["-o", f"-p {self.port}", "-w", "-t", str(STARTUP_TIMEOUT_S), "start"]
        self._pg(ctl)

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop; mode 'immediate' is a crash as far as the data is concerned."""
        ctl = [find_binary("pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop"]
        self._pg(ctl)

    def restart(self) -> None:
        self.stop()
        self.start()

    def is_running(self) -> bool:
        status = [find_binary("pg_ctl"), "-D", str(self.data_dir), "status"]
        return self._pg(status, check=False) == 0

    def create_database(self, name: str, template: str = "template0") -> str:
        """CREATE DATABASE; returns its URL."""
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)
        )
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(statement)
        return self.url_of(name)

    def remove(self) -> None:
        """Stops the server if it runs and deletes its directory."""
        if self.data_dir.exists() and self.is_running():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _pg(self, args: list[str], *, check: bool = True) -> int:
        """Runs a PostgreSQL tool, as the unprivileged account when we are root."""
        user = self._user
        done = subprocess.run(
            args,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            user=None if user is None else user.pw_uid,
            group=None if user is None else user.pw_gid,
            extra_groups=None if user is None else [],
            cwd=self.root,
            check=False,
        )
        if check and done.returncode != 0:
            raise PostgresUnavailable(f"{args[0]} failed: {done.stderr.decode(errors='replace')}")
        return done.returncode


def start_private_postgres(*, durable: bool = False) -> LocalPostgres:
    """A new server on a free 127.0.0.1 port with database `starling` created.

    Its directory is made under the system temporary directory, which an unprivileged
    account can reach (a root-only test directory would not do)."""
    server = LocalPostgres(Path(tempfile.mkdtemp(prefix="starling-postgres-")), _free_port())
    try:
        server.init(durable=durable)
        # The free port can be taken between probing and binding: retry on a new one.
        for attempt in range(START_ATTEMPTS):
            try:
                server.start()
                break
            except PostgresUnavailable:
                if attempt == START_ATTEMPTS - 1:
                    raise
                server.port = _free_port()
        server.create_database(DATABASE)
    except BaseException:
        server.remove()
        raise
    return server


@contextmanager
def private_postgres(*, durable: bool = False) -> Iterator[str]:
    """A private server for the duration of a with-block; yields the URL of its database."""
    server = start_private_postgres(durable=durable)
    try:
        yield server.url
    finally:
        server.remove()
