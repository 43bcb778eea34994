"""A throwaway PostgreSQL server for tests and benchmarks.

``TempPostgres`` runs ``initdb`` into a fresh temporary directory, starts the server
with ``pg_ctl`` on a free 127.0.0.1 port (its unix socket inside that directory),
creates one database and exposes its ``dsn``. ``stop()`` stops the server and removes
the directory; it is safe to call twice and also runs at interpreter exit, so a crashed
test run leaves no server behind.

A watchdog process (started with the server, in a session of its own) holds the read
end of a pipe whose write end only the owning process holds: when the owner dies in any
way, even SIGKILL, where atexit never runs, the watchdog sees end-of-file, stops the
server and removes the directory.

``initdb`` refuses to run as root: as root, every server command runs as the
``postgres`` user (``runuser -u postgres --``) and the directory is chowned to it.

Tests that need a server outage use ``kill()`` (an immediate stop that keeps the data
directory, like a crash) and ``restart()`` (start again on the same port and data).
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType

__all__ = ["TempPostgres", "find_bindir"]


def find_bindir() -> Path:
    """The directory holding ``initdb`` and ``pg_ctl``: from the PATH, else Debian's layout."""
    found = shutil.which("pg_ctl")
    if found is not None:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    raise RuntimeError(
        "cannot find PostgreSQL's pg_ctl: install PostgreSQL (initdb and pg_ctl) "
        "and put its bin directory on the PATH"
    )


_WATCHDOG = r"""
import os, shutil, subprocess, sys
root, pg_ctl, as_postgres = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
sys.stdin.buffer.read()  # end-of-file: the owner closed the pipe or died
data = os.path.join(root, "data")
if os.path.exists(os.path.join(data, "postmaster.pid")):
    cmd = [pg_ctl, "-D", data, "-m", "immediate", "-w", "stop"]
    if as_postgres:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    subprocess.run(cmd, cwd="/", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
shutil.rmtree(root, ignore_errors=True)
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TempPostgres:
    """A PostgreSQL server in a temporary directory, gone after ``stop()``.

    ``fsync`` stays on by default because benchmarks measure durable commits; pass
    ``fsync=False`` for speed when durability is not under test.
    """

    def __init__(
        self,
        *,
        database: str = "lograph",
        fsync: bool = True,
        max_connections: int = 100,
        settings: dict[str, str] | None = None,
        start_timeout: float = 60.0,
    ) -> None:
        self.database = database
        self.fsync = fsync
        self.max_connections = max_connections
        self.settings = dict(settings or {})
        self.start_timeout = start_timeout
        self.port: int | None = None
        self.root: Path | None = None
        self._bindir: Path | None = None
        self._running = False
        self._watchdog: subprocess.Popen[bytes] | None = None

    # -- public surface ------------------------------------------------------------

    @property
    def dsn(self) -> str:
        if self.port is None:
            raise RuntimeError("the server is not started; call start() first")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    @property
    def running(self) -> bool:
        return self._running

    @property
    def datadir(self) -> Path:
        if self.root is None:
            raise RuntimeError("the server is not started; call start() first")
        return self.root / "data"

    def start(self) -> TempPostgres:
        """Create the directory, initdb, start the server and create the database.

        On failure everything made so far is removed and RuntimeError carries the
        tool's output.
        """
        if self.root is not None:
            raise RuntimeError("this TempPostgres was already started; use restart()")
        self._bindir = find_bindir()
        self.root = Path(tempfile.mkdtemp(prefix="lograph-pg-"))
        atexit.register(self.stop)
        try:
            self._watchdog = subprocess.Popen(
                [sys.executable, "-c", _WATCHDOG, str(self.root), str(self._bindir / "pg_ctl"),
                 "1" if _is_root() else "0"],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd="/",
                start_new_session=True,  # outlives a signal sent to the test run's group
            )
            if _is_root():
                shutil.chown(self.root, user="postgres", group="postgres")
            self._run(
                "initdb",
                ["-D", str(self.datadir), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                 "--no-locale", "--no-sync"],
                what="initdb",
            )
            for attempt in range(5):
                self.port = _free_port()
                self._write_config()
                try:
                    self._pg_ctl_start()
                    break
                except RuntimeError:
                    # another process may have taken the port between probe and bind
                    if attempt == 4 or "could not bind" not in self._log_tail():
                        raise
            self._run(
                "createdb",
                ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.database],
                what="createdb",
            )
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self) -> None:
        """Stop the server at once (like a crash), keeping the data directory."""
        if self._running:
            self._running = False
            self._run("pg_ctl", ["-D", str(self.datadir), "-m", "immediate", "-w", "stop"],
                      what="pg_ctl stop", check=False)

    def restart(self) -> None:
        """Start the server again on the same port and data directory (after ``kill()``)."""
        if self.root is None:
            raise RuntimeError("the server was never started (or was removed); call start()")
        self.kill()
        self._pg_ctl_start()

    def stop(self) -> None:
        """Stop the server and remove its directory. Safe to call twice."""
        root, self.root = self.root, None
        if root is None:
            return
        atexit.unregister(self.stop)
        try:
            if self._running:
                self._running = False
                with contextlib.suppress(Exception):
                    self._tool(
                        "pg_ctl", ["-D", str(root / "data"), "-m", "immediate", "-w", "stop"],
                        check=False,
                    )
        finally:
            shutil.rmtree(root, ignore_errors=True)
            watchdog, self._watchdog = self._watchdog, None
            if watchdog is not None:
                with contextlib.suppress(Exception):
                    assert watchdog.stdin is not None
                    watchdog.stdin.close()  # it wakes, finds nothing left, exits
                    watchdog.wait(timeout=30)

    def __enter__(self) -> TempPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<TempPostgres {state} port={self.port} root={self.root}>"

    # -- internals -----------------------------------------------------------------

    def _write_config(self) -> None:
        assert self.root is not None and self.port is not None
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "max_connections": str(self.max_connections),
            "fsync": "on" if self.fsync else "off",
            "full_page_writes": "on" if self.fsync else "off",
            "shared_buffers": "128MB",
            "log_min_messages": "warning",
            "logging_collector": "off",
        }
        settings.update(self.settings)
        lines = "".join(f"{k} = {v}\n" for k, v in settings.items())
        # postgresql.auto.conf wins over postgresql.conf and is re-read on every start
        path = self.datadir / "postgresql.auto.conf"
        path.write_text("# written by lograph TempPostgres\n" + lines)
        if _is_root():
            shutil.chown(path, user="postgres", group="postgres")

    def _pg_ctl_start(self) -> None:
        assert self.root is not None
        logfile = self.root / "server.log"
        with contextlib.suppress(FileNotFoundError):
            logfile.unlink()
        self._run(
            "pg_ctl",
            ["-D", str(self.datadir), "-l", str(logfile), "-w",
             "-t", str(int(self.start_timeout)), "start"],
            what="pg_ctl start",
        )
        self._running = True

    def _log_tail(self) -> str:
        if self.root is None:
            return ""
        try:
            return (self.root / "server.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def _run(self, tool: str, args: list[str], *, what: str, check: bool = True) -> None:
        proc = self._tool(tool, args, check=False)
        if check and proc.returncode != 0:
            log = self._log_tail()
            raise RuntimeError(
                f"{what} failed (exit {proc.returncode}): "
                f"{(proc.stderr or proc.stdout).strip()}"
                + (f"\nserver log:\n{log.strip()}" if log.strip() else "")
            )

    def _tool(self, tool: str, args: list[str], *, check: bool) -> subprocess.CompletedProcess[str]:
        bindir = self._bindir or find_bindir()
        cmd = [str(bindir / tool), *args]
        if _is_root():
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        cwd = str(self.root) if self.root is not None and self.root.exists() else "/"
        return subprocess.run(
            cmd,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=check,
            start_new_session=True,  # a Ctrl-C of the test run must not kill the server early
            timeout=self.start_timeout + 30,
        )


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0
