"""A throwaway PostgreSQL cluster on a loopback port, for fault tests and ``scripts/chaos.py``.

It is never the shared server: it lives in its own directory, listens on 127.0.0.1 at a
port of its own and is removed by ``destroy``. ``restart``/``stop``/``start`` let a test
take the database away in the middle of a send. Runs ``initdb``/``pg_ctl`` as the
``postgres`` user when started as root (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

__all__ = ["ThrowawayCluster", "pg_bin"]

_CANDIDATES = ("/usr/lib/postgresql/17/bin", "/usr/lib/postgresql/16/bin",
               "/usr/lib/postgresql/15/bin")  # fmt: skip


def pg_bin() -> Path | None:
    """The directory holding ``initdb`` and ``pg_ctl``, or None when none is installed."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    for c in _CANDIDATES:
        if (Path(c) / "initdb").exists():
            return Path(c)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayCluster:
    """``initdb`` + ``pg_ctl`` in a temporary directory; trust auth on 127.0.0.1 only.

    ``base`` must be reachable by the ``postgres`` user when run as root (the default,
    a fresh directory under the system temp directory, is).
    """

    def __init__(self, base: Path | None = None, port: int | None = None) -> None:
        binary = pg_bin()
        if binary is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.bin = binary
        self.base = base or Path(tempfile.mkdtemp(prefix="alertsvc-pg-"))
        self.data = self.base / "data"
        self.port = port or _free_port()
        self.log = self.base / "server.log"

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)

    def init(self) -> ThrowawayCluster:
        """Create and start the cluster; returns self."""
        self.base.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.base, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")  # fmt: skip
        self.start()
        return self

    def start(self) -> None:
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.base} "
                "-c fsync=off -c max_connections=200")  # fmt: skip
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", opts, "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server (``immediate``: like a crash; connections die mid-statement)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create ``name`` and return its URL."""
        from sqlalchemy import create_engine, text

        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)

    def destroy(self) -> None:
        """Stop the server (if running) and remove its directory."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)
