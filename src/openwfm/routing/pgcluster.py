"""A throw-away PostgreSQL cluster in a temporary folder, for tests, benchmarks and local use.

No system service: ``initdb`` makes a cluster in a fresh folder, ``pg_ctl`` starts it on a free
TCP port of 127.0.0.1 (and a Unix socket in the folder), and :meth:`PostgresCluster.stop`
removes everything. ``initdb`` refuses to run as root, so under root the binaries run as the
``postgres`` OS user (Debian's package creates it; else ``nobody``) through ``runuser``, in a
folder that user owns. The binaries: ``OPENWFM_PG_BIN``, else the newest
``/usr/lib/postgresql/*/bin`` (Debian), else ``initdb`` on ``PATH``.
``scripts/ensure-postgres`` installs Debian's ``postgresql`` when it is missing.

``python -m openwfm.routing.pgcluster`` starts one, prints its URL and runs until Ctrl-C.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """PostgreSQL's binaries are missing or the cluster did not start (the message says why)."""


def postgres_bin() -> Path:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``."""
    configured = os.environ.get("OPENWFM_PG_BIN")
    if configured:
        return Path(configured)
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise PostgresUnavailable(
        "PostgreSQL's initdb was not found: run scripts/ensure-postgres "
        "(or 'sudo apt-get install postgresql'), or set OPENWFM_PG_BIN"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _os_user() -> str | None:
    """The user the server runs as when we are root (initdb refuses root), else None."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise PostgresUnavailable("running as root and neither 'postgres' nor 'nobody' exists")


class PostgresCluster:
    """One cluster in a temporary folder; ``durable=False`` turns off fsync and full-page
    writes (tests only: faster; a machine crash loses commits, a server crash does not)."""

    def __init__(self, durable: bool = True, port: int | None = None) -> None:
        self.durable = durable
        self.port = port or free_port()
        self.bin = postgres_bin()
        self.user = _os_user()
        self.folder = Path(tempfile.mkdtemp(prefix="openwfm-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "postgres.log"
        self.started = False

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the ``postgres`` database (superuser ``postgres``, trust)."""
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=check, timeout=120)

    def start(self) -> PostgresCluster:
        """initdb (once) and start; raises :class:`PostgresUnavailable` with the log's tail."""
        try:
            if self.user:
                shutil.chown(self.folder, self.user)
            if not self.data.exists():
                self._run(
                    "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                    "-E", "UTF8", "--no-sync", "--no-instructions",
                )  # fmt: skip
                self._configure()
            self._pg_ctl_start()
        except (OSError, subprocess.SubprocessError) as error:
            raise PostgresUnavailable(f"PostgreSQL did not start: {self._why(error)}") from error
        self.started = True
        return self

    def _configure(self) -> None:
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{self.folder}'",
            "max_connections": "200",
            "fsync": "on" if self.durable else "off",
            # always on: off acknowledges commits still in WAL buffers, which a server crash
            # (an immediate restart) loses; fsync off loses only what an OS crash would
            "synchronous_commit": "on",
            "full_page_writes": "on" if self.durable else "off",
            "shared_buffers": "64MB",
        }
        config = self.data / "postgresql.conf"
        lines = [f"{key} = {value}" for key, value in settings.items()]
        with config.open("a", encoding="utf-8") as handle:
            handle.write("\n# openwfm throw-away cluster\n" + "\n".join(lines) + "\n")

    def _pg_ctl_start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
            "-o", f"-p {self.port}", "start",
        )  # fmt: skip

    def _why(self, error: Exception) -> str:
        text = getattr(error, "stderr", None) or str(error)
        if self.log.exists():
            text += " | log: " + " ".join(self.log.read_text(errors="replace").split()[-40:])
        return text.strip()

    def restart(self, immediate: bool = True) -> None:
        """Stop (``immediate``: like a crash, no checkpoint) and start again on the same port."""
        mode = "immediate" if immediate else "fast"
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop", check=False)
        self._pg_ctl_start()

    def create_database(self, name: str) -> str:
        """A fresh, empty database; returns its URL."""
        import psycopg

        with psycopg.connect(self._dsn("postgres"), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def _dsn(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the server and remove the folder."""
        if self.data.exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
        self.started = False
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()


def main() -> None:  # pragma: no cover - interactive
    with PostgresCluster() as cluster:
        print(cluster.url, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":  # pragma: no cover
    main()
