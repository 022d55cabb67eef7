"""A throwaway PostgreSQL cluster for tests, from Debian's binaries (``make postgresql`` installs them).

PostgreSQL refuses to run as root: as root, the cluster belongs to the ``postgres`` user (Debian's
package creates it) and its commands run through ``runuser``. It listens on loopback only, trusts local
connections, and trades durability for speed (``fsync=off``): a test's database is thrown away.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


def binaries() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


class Postgres:
    """A cluster on ``port`` in a folder of its own; :meth:`url` names a database in it."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.bin = binaries()
        if self.bin is None:
            pytest.skip("needs PostgreSQL: `make test` installs Debian's postgresql")
        self.home = Path(tempfile.mkdtemp(prefix="akinon-pg-"))
        self.user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *argv: str) -> None:
        command = ["runuser", "-u", self.user, "--", *argv] if self.user else list(argv)
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{' '.join(argv)}: {done.stdout}\n{done.stderr}"

    def start(self, *databases: str) -> Postgres:
        if self.user:
            self.home.chmod(0o755)
            shutil.chown(self.home, self.user, self.user)
        data = self.home / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = (
            f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1 -c max_connections=400 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=64MB"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(self.home / "log"),
            "-o",
            options,
            "-w",
            "start",
        )
        for database in databases:
            self._run(
                str(self.bin / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                database,
            )
        return self

    def url(self, database: str, driver: str = "postgresql+psycopg2") -> str:
        return f"{driver}://postgres@127.0.0.1:{self.port}/{database}"

    def connect(self, database: str):
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user="postgres", dbname=database)

    def stop(self) -> None:
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.home / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.home, ignore_errors=True)


@contextlib.contextmanager
def postgres(port: int, *databases: str) -> Iterator[Postgres]:
    cluster = Postgres(port).start(*databases)
    try:
        yield cluster
    finally:
        cluster.stop()
