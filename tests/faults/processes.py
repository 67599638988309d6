"""Real `campaign-dispatch` processes for the fault tests and the soak (bench/soak.py).

A `Cluster` is one deployment under test: a database, a queue name and a working
directory, and the processes started against them (`api`, `worker`, `scheduler`, each
the venv's own entry point with its own environment). A `ServiceProcess` starts, waits
until its role is ready, is killed (SIGKILL) or stopped (SIGTERM), restarts, reports its
resident memory, and keeps one log file per lifetime to show when a test fails.

Like compose's `restart: unless-stopped`, the cluster restarts a process that exits on
its own (a service that dies makes its process exit with status 3) and records that exit
in `Cluster.exits`, so a test can tell a crash from a kill it made.

The processes run the code that the venv's editable install points at (src/ of this
working tree), unless FAULTS_SERVICE_SRC names another src/ directory (for instance an
exported commit: `git archive HEAD src migrations alembic.ini | tar -x -C /tmp/head`,
then FAULTS_SERVICE_SRC=/tmp/head/src), which then comes first on their PYTHONPATH.

Nothing here imports pytest: bench/soak.py uses it too.
"""

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from campaign_dispatch.config import Settings

SEND_LOG_HOOK = Path(__file__).resolve().parent / "sendlog"
# Every setting the service reads from the environment: none leaks in from the caller's.
_SETTINGS = {name.upper() for name in Settings.model_fields}
# The log event that says a background role is up (JSON logs): the worker consumes, the
# scheduler's queue is connected (its relay can publish).
_READY_EVENTS = {"worker": "worker started", "scheduler": "rabbitmq publisher"}


def service_pythonpath() -> str:
    """The child processes' PYTHONPATH: the code under test (if not the installed one)
    and the send-log hook."""
    source = os.environ.get("FAULTS_SERVICE_SRC")
    return os.pathsep.join([*([source] if source else []), str(SEND_LOG_HOOK)])


def entry_point() -> str:
    """The venv's `campaign-dispatch` script (beside the interpreter running this)."""
    beside = Path(sys.executable).parent / "campaign-dispatch"
    if beside.exists():
        return str(beside)
    found = shutil.which("campaign-dispatch")
    if found is None:
        raise RuntimeError("no campaign-dispatch entry point: run `uv sync` first")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_kb(pid: int) -> int | None:
    """Resident memory now (VmRSS) in kB; None once the process is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


class ProcessDied(RuntimeError):
    pass


@dataclass
class Lifetime:
    pid: int
    log: Path
    started: float
    exit_code: int | None = None
    ended_by: str | None = None  # "kill", "stop", or None: it exited on its own


@dataclass
class ServiceProcess:
    name: str
    role: str
    environment: dict[str, str]
    directory: Path
    port: int | None = None
    lifetimes: list[Lifetime] = field(default_factory=list)
    _popen: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        if self._popen is None:
            raise ProcessDied(f"{self.name} is not running")
        return self._popen.pid

    @property
    def url(self) -> str:
        if self.port is None:
            raise ValueError(f"{self.name} serves no HTTP")
        return f"http://127.0.0.1:{self.port}"

    def running(self) -> bool:
        return self._popen is not None and self._popen.poll() is None

    def start(self) -> None:
        if self.running():
            raise RuntimeError(f"{self.name} is already running")
        log = self.directory / f"{self.name}.{len(self.lifetimes) + 1}.log"
        command = [entry_point(), self.role]
        if self.port is not None:
            command += ["--port", str(self.port)]
        with log.open("wb") as output:
            self._popen = subprocess.Popen(
                command,
                env=self.environment,
                cwd=self.directory,  # no stray .env file is read
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a ^C of the test run does not reach it first
            )
        self.lifetimes.append(Lifetime(self._popen.pid, log, time.monotonic()))

    async def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as http:
            while True:
                if not self.running():
                    raise ProcessDied(f"{self.name} exited while starting:\n{self.log_tail()}")
                if await self._ready(http):
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{self.name} not ready in {timeout}s:\n{self.log_tail()}")
                await asyncio.sleep(0.1)

    async def _ready(self, http: httpx.AsyncClient) -> bool:
        if self.role == "api":
            try:
                return (await http.get(f"{self.url}/ready")).status_code == 200
            except httpx.TransportError:
                return False
        wanted = _READY_EVENTS[self.role]
        return any(e.get("event") == wanted for e in self.events(current_only=True))

    def _ended(self, how: str | None) -> None:
        if self._popen is None:
            return
        code = self._popen.wait()
        lifetime = self.lifetimes[-1]
        lifetime.exit_code, lifetime.ended_by = code, how
        self._popen = None

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, whatever was claimed stays claimed."""
        if self._popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self._popen.send_signal(signal.SIGKILL)
        self._ended("kill")

    async def stop(self, grace: float = 20) -> None:
        """SIGTERM, then SIGKILL if it has not exited within `grace` seconds."""
        if self._popen is None:
            return
        with contextlib.suppress(ProcessLookupError):
            self._popen.send_signal(signal.SIGTERM)
        for _ in range(int(grace / 0.05)):
            if self._popen.poll() is not None:
                break
            await asyncio.sleep(0.05)
        if self._popen.poll() is None:
            self.kill()
            self.lifetimes[-1].ended_by = "stop (killed after the grace period)"
        else:
            self._ended("stop")

    def reap(self) -> Lifetime | None:
        """The lifetime that just ended on its own, if the process has exited unasked."""
        if self._popen is not None and self._popen.poll() is not None:
            self._ended(None)
            return self.lifetimes[-1]
        return None

    async def restart(self, timeout: float = 60) -> None:
        self.kill()
        self.start()
        await self.wait_ready(timeout)

    def rss_kb(self) -> int | None:
        return rss_kb(self.pid) if self.running() else None

    def events(self, current_only: bool = False) -> Iterator[dict[str, Any]]:
        """The JSON log lines of its lifetimes (or of the current one)."""
        lifetimes = self.lifetimes[-1:] if current_only else self.lifetimes
        for lifetime in lifetimes:
            with contextlib.suppress(OSError), lifetime.log.open("rb") as lines:
                for line in lines:
                    with contextlib.suppress(ValueError):
                        event = json.loads(line)
                        if isinstance(event, dict):
                            yield event

    def log_tail(self, lines: int = 30) -> str:
        parts = []
        for n, lifetime in enumerate(self.lifetimes, 1):
            try:
                text = lifetime.log.read_text(errors="replace").splitlines()
            except OSError:
                text = ["(no log)"]
            ended = "running" if lifetime.exit_code is None else f"exit {lifetime.exit_code}"
            how = f", {lifetime.ended_by}" if lifetime.ended_by else ""
            parts.append(f"--- {self.name} lifetime {n} (pid {lifetime.pid}, {ended}{how}) ---")
            parts += text[-lines:]
        return "\n".join(parts)


@dataclass(frozen=True)
class Exit:
    """A process that exited without being asked to."""

    name: str
    pid: int
    exit_code: int | None


class Cluster:
    """Processes of one deployment: a database, a queue name, a directory for logs."""

    def __init__(
        self,
        directory: Path,
        database_url: str,
        amqp_url: str,
        queue_name: str,
        settings: dict[str, str] | None = None,
        restart_on_exit: bool = True,
    ) -> None:
        self.directory = directory
        self.database_url = database_url
        self.amqp_url = amqp_url
        self.queue_name = queue_name
        self.settings = dict(settings or {})
        self.send_log_dir = directory / "sends"
        self.send_log_dir.mkdir(parents=True, exist_ok=True)
        self.processes: dict[str, ServiceProcess] = {}
        self.exits: list[Exit] = []
        self.restart_on_exit = restart_on_exit
        self._watcher: asyncio.Task[None] | None = None

    def environment(self, **overrides: str) -> dict[str, str]:
        inherited = {
            k: v
            for k, v in os.environ.items()
            if k.upper() not in _SETTINGS and k not in ("PYTHONPATH", "FAULTS_SEND_LOG_DIR")
        }
        return {
            **inherited,
            "DATABASE_URL": self.database_url,
            "AMQP_URL": self.amqp_url,
            "QUEUE_NAME": self.queue_name,
            "LOG_FORMAT": "json",
            "LOG_LEVEL": "INFO",
            "SEND_RATE_LIMIT_PER_MINUTE": "0",
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": service_pythonpath(),
            "FAULTS_SEND_LOG_DIR": str(self.send_log_dir),
            **self.settings,
            **overrides,
        }

    def _send_log(self, process: ServiceProcess) -> bytes:
        path = self.send_log_dir / f"sends-{process.pid}.log"
        return path.read_bytes() if path.exists() else b""

    def sends_by(self, process: ServiceProcess) -> int:
        """Provider calls the process's current lifetime has finished (its send log's
        outcome lines; a call's start is a line of its own)."""
        log = self._send_log(process)
        return log.count(b"\n") - log.count(b" S\n")

    def in_flight(self, process: ServiceProcess) -> int:
        """Provider calls the process has started and not finished."""
        log = self._send_log(process)
        started = log.count(b" S\n")
        return 2 * started - log.count(b"\n")

    async def until_sending(self, process: ServiceProcess, timeout: float = 20) -> None:
        """Wait until the process is calling the provider now (a call started and not
        finished): a worker killed then holds claims of its own, for a claim is made
        before its calls and recorded only after all of them."""
        deadline = time.monotonic() + timeout
        while True:
            if self.in_flight(process) > 0:
                return
            await asyncio.sleep(0.01)
            if time.monotonic() > deadline:
                raise AssertionError(f"{process.name} made no provider call for {timeout}s")

    def add(self, role: str, name: str | None = None, **overrides: str) -> ServiceProcess:
        name = name or role
        if name in self.processes:
            raise ValueError(f"{name} already exists")
        process = ServiceProcess(
            name=name,
            role=role,
            environment=self.environment(**overrides),
            directory=self.directory,
            port=free_port() if role == "api" else None,
        )
        self.processes[name] = process
        return process

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.processes[name]

    async def start(self, *processes: ServiceProcess, timeout: float = 60) -> None:
        for process in processes:
            process.start()
        await asyncio.gather(*(p.wait_ready(timeout) for p in processes))
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch())

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            for process in list(self.processes.values()):
                ended = process.reap()
                if ended is None:
                    continue
                self.exits.append(Exit(process.name, ended.pid, ended.exit_code))
                if self.restart_on_exit:
                    await asyncio.sleep(1)
                    process.start()

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        await asyncio.gather(*(p.stop() for p in self.processes.values()))

    def report(self, lines: int = 30) -> str:
        exits = ", ".join(f"{e.name} pid {e.pid} exit {e.exit_code}" for e in self.exits)
        parts = [
            f"cluster in {self.directory}: queue {self.queue_name}, "
            f"unasked exits: {exits or 'none'}"
        ]
        parts += [p.log_tail(lines) for p in self.processes.values()]
        return "\n".join(parts)
