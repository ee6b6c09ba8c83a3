"""What the benchmarks share: scratch databases, site configs of their own, the API as a
separate process, CPU time read from /proc, and the statistics they print.

The orchestrating process is synchronous; it uses `asyncio.run` for its few SQL calls and
leaves the HTTP load to `benchmarks.loadgen`'s processes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from benchmarks.loadgen import LoadGenerator

REPO = Path(__file__).resolve().parent.parent
DEMO_SITE = REPO / "config" / "sites" / "demo.yaml"
ERP_KEY = "bench-erp"
ERP_HEADERS = {"Authorization": f"Bearer {ERP_KEY}", "Content-Type": "application/json"}
PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/test"
READY_DEADLINE_S = 60.0  # the API creates its tables and seeds the site before it is ready
STOP_DEADLINE_S = 15.0
LISTEN_BACKLOG = 2048  # uvicorn's default
DATABASES = ("sqlite", "postgres")
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- command-line helpers


def int_list(value: str) -> list[int]:
    """`1,8,64` → [1, 8, 64]."""
    try:
        numbers = [int(part) for part in value.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of integers: {value!r}") from None
    if not numbers or min(numbers) < 1:
        raise argparse.ArgumentTypeError(f"need positive integers: {value!r}")
    return numbers


def db_list(value: str) -> list[str]:
    """`sqlite,postgres` (or `both`) → the databases to run on."""
    names = list(DATABASES) if value == "both" else [p for p in value.split(",") if p]
    unknown = sorted(set(names) - set(DATABASES))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown database {unknown or value!r}: sqlite|postgres")
    return names


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=db_list, default=list(DATABASES), help="sqlite,postgres")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions; medians are quoted")
    parser.add_argument("--api-workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--client-procs", type=int, default=1, help="load generator processes (default 1)"
    )
    parser.add_argument(
        "--raw-updates",
        type=int,
        default=2000,
        help="updates per raw conditional-update run (the limit the ratio is taken to)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated orders")
    parser.add_argument("--pg-admin-dsn", default=PG_ADMIN_DSN, help="where to create databases")
    parser.add_argument("--workdir", type=Path, default=None, help="keep files here (else a tmp)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")


# ---------------------------------------------------------------- the machine


def describe_machine(pg_admin_dsn: str | None) -> dict[str, Any]:
    """What a reader needs to judge the figures: cores, load when we started, versions."""
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
    }
    if pg_admin_dsn:
        info["postgres"] = asyncio.run(_pg_fetch(pg_admin_dsn, "SHOW server_version"))
    return info


def print_machine(info: dict[str, Any]) -> None:
    load = " ".join(f"{x:.2f}" for x in info["load_average_at_start"])
    pg = f", PostgreSQL {info['postgres']}" if "postgres" in info else ""
    print(
        f"machine: {info['cores']} cores, load average {load} at start; "
        f"Python {info['python']}, SQLite {info['sqlite']}{pg}",
        flush=True,
    )


# ---------------------------------------------------------------- scratch databases


async def _pg_fetch(dsn: str, sql: str) -> Any:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


def pg_url(admin_dsn: str, database: str) -> str:
    """The SQLAlchemy URL of `database` on the server of `admin_dsn`."""
    base, _, _ = admin_dsn.rpartition("/")
    return f"{base.replace('postgresql://', 'postgresql+asyncpg://', 1)}/{database}"


@contextmanager
def scratch_database(kind: str, workdir: Path, label: str, pg_admin_dsn: str) -> Iterator[str]:
    """A fresh, empty database (SQLite file or PostgreSQL database), removed afterwards."""
    if kind == "sqlite":
        path = workdir / f"{label}-{secrets.token_hex(4)}.db"
        try:
            yield f"sqlite+aiosqlite:///{path}"
        finally:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        return
    name = f"wh_bench_{label}_{secrets.token_hex(4)}"
    asyncio.run(_pg_fetch(pg_admin_dsn, f'CREATE DATABASE "{name}"'))
    try:
        yield pg_url(pg_admin_dsn, name)
    finally:
        asyncio.run(_pg_fetch(pg_admin_dsn, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def work_directory(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="wh-bench-") as tmp:
        yield Path(tmp)


# ---------------------------------------------------------------- site configs


def write_site(path: Path, site_id: str, edit: Callable[[dict[str, Any]], None]) -> Path:
    """A copy of the demo site under a site id of its own, changed by `edit`."""
    raw = yaml.safe_load(DEMO_SITE.read_text(encoding="utf-8"))
    raw["site"] = site_id
    edit(raw)
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def site_skus(path: Path) -> tuple[list[str], list[str]]:
    """The SKUs and carrier codes of a site config."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [s["sku"] for s in raw["skus"]], [c["code"] for c in raw["carriers"]]


# ---------------------------------------------------------------- the API process


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class ApiServer:
    """The central API as a real process: uvicorn with the `create_app` factory, settings
    from `WH_*` variables, `--workers N` for several processes sharing one socket."""

    def __init__(
        self,
        *,
        database_url: str,
        site_config: Path,
        workers: int,
        log: Path,
        app_factory: str = "api.main:create_app",
    ) -> None:
        self._database_url, self._site_config, self._workers = database_url, site_config, workers
        self._app_factory = app_factory
        self._listener: socket.socket | None = None
        if workers > 1:
            # uvicorn --workers binds its socket without IPPROTO_TCP, so asyncio never sets
            # TCP_NODELAY on its connections and every answer stalls ≈ 40 ms (Nagle against
            # delayed ACK; measured: /healthz p50 44 ms with 2 workers, 4 ms with 1). Hand it
            # a listening socket with TCP_NODELAY, which Linux copies to accepted sockets.
            self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._listener.bind(("127.0.0.1", 0))
            self._listener.listen(LISTEN_BACKLOG)
            self.port = self._listener.getsockname()[1]
            where = ("--fd", str(self._listener.fileno()), "--workers", str(workers))
        else:
            self.port = free_port()
            where = ("--host", "127.0.0.1", "--port", str(self.port))
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_path = log
        self._env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
            "WH_DATABASE_URL": database_url,
            "WH_SITE_CONFIGS": json.dumps([str(site_config)]),
            "WH_API_KEYS": json.dumps({ERP_KEY: ["erp"]}),
        }
        # The access log off, as `warehouse api` runs it (its log level is WARNING).
        self._args = [
            sys.executable,
            *("-m", "uvicorn", "--factory", app_factory, *where),
            *("--log-level", "warning", "--no-access-log"),
        ]
        self._proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ApiServer:
        try:
            if self._workers > 1:
                # Every worker creates the tables and seeds the site as it starts; on a fresh
                # PostgreSQL database two doing it at once collide (duplicate pg_type "sites")
                # and uvicorn stops them all. One process prepares the database first.
                with ApiServer(
                    database_url=self._database_url,
                    site_config=self._site_config,
                    workers=1,
                    log=self._log_path.with_suffix(".init.log"),
                    app_factory=self._app_factory,
                ):
                    pass
            with self._log_path.open("wb") as log:
                self._proc = subprocess.Popen(
                    self._args,
                    cwd=REPO,
                    env=self._env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=[self._listener.fileno()] if self._listener else [],
                )
        finally:
            if self._listener is not None:
                self._listener.close()  # uvicorn has its own copy
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)  # uvicorn shuts down (and stops its workers)
        try:
            proc.wait(STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + READY_DEADLINE_S
        while True:
            assert self._proc is not None
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"the API exited with {self._proc.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"/readyz not ready in {READY_DEADLINE_S} s:\n{self.log_tail()}")
            time.sleep(0.05)  # poll interval, bounded by the deadline above

    def log_tail(self, lines: int = 30) -> str:
        text = self._log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def cpu_seconds(self) -> float:
        """User + system CPU of the API process and its workers so far."""
        assert self._proc is not None
        return process_tree_cpu(self._proc.pid)


# ---------------------------------------------------------------- CPU time from /proc


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds) of a live process, from /proc/<pid>/stat."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw.rpartition(")")[2].split()  # after "pid (comm)": state, ppid, …
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def process_tree_cpu(root: int) -> float:
    """CPU seconds of `root` and its live descendants (uvicorn's workers)."""
    parents: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            parents.setdefault(stat[0], []).append(int(entry.name))
            cpu[int(entry.name)] = stat[1]
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo.extend(parents.get(pid, ()))
    return total


class PgBackendCpu:
    """CPU seconds of the PostgreSQL backends serving one database (the API's pool).

    Counts only backends alive at the end of a phase (the pool keeps its connections) and
    not the server's shared processes (WAL writer, checkpointer)."""

    def __init__(self, database_url: str) -> None:
        self._dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)

    def sample(self) -> dict[int, float]:
        pids = asyncio.run(self._pids())
        return {pid: s[1] for pid in pids if (s := _stat(pid)) is not None}

    async def _pids(self) -> list[int]:
        import asyncpg

        conn = await asyncpg.connect(self._dsn)
        try:
            rows = await conn.fetch(
                "SELECT pid FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await conn.close()
        return [r["pid"] for r in rows]

    @staticmethod
    def spent(before: dict[int, float], after: dict[int, float]) -> float:
        return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


# ---------------------------------------------------------------- statistics and output


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0-100) of unsorted values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def spread(values: Sequence[float], fmt: str = "{:.0f}") -> str:
    """`median (min-max)` of repeated runs."""
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(median(values))} ({fmt.format(min(values))}-{fmt.format(max(values))})"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def write_json(path: Path | None, document: dict[str, Any]) -> None:
    if path is not None:
        path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# ---------------------------------------------------------------- one measured phase


@dataclass(frozen=True)
class Figures:
    """What one phase measured, with the CPU each party spent on it."""

    requests: int
    wall_s: float
    rate: float  # requests per second
    p50_ms: float
    p99_ms: float
    errors: dict[str, int]  # every answer but the expected status, by status
    error_samples: dict[str, str]  # the first body of each error status
    order_statuses: dict[str, int]  # of the 201 answers (when parsed)
    reserved_units: int  # Σ reserved_qty of the 201 answers (when parsed)
    client_cpu_us: float  # load generator CPU per request
    client_cores: float  # load generator CPU / wall time: near 1 per process means client-bound
    api_cpu_ms: float  # API processes' CPU per request
    db_cpu_ms: float | None  # PostgreSQL backends' CPU per request (SQLite: inside the API)

    def line(self) -> str:
        db = f", db {self.db_cpu_ms:.2f}" if self.db_cpu_ms is not None else ""
        text = (
            f"{self.rate:,.0f}/s  p50 {self.p50_ms:.1f} ms  p99 {self.p99_ms:.1f} ms  "
            f"{self.requests} requests in {self.wall_s:.1f} s  errors {self.errors or 0}  "
            f"CPU per request: client {self.client_cpu_us:.0f} µs "
            f"({self.client_cores:.2f} cores), API {self.api_cpu_ms:.2f} ms{db}"
        )
        for status, body in self.error_samples.items():
            text += f"\n    first {status}: {body}"
        return text

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_phase(
    load: LoadGenerator,
    api: ApiServer,
    pg_cpu: PgBackendCpu | None,
    *,
    path: str,
    clients: int,
    bodies: list[bytes] | None = None,
    count: int = 0,
    parse_orders: bool = False,
    ok_status: str = "201",
) -> Figures:
    load.prepare(
        api.url,
        path,
        clients=clients,
        headers=ERP_HEADERS,
        bodies=bodies,
        count=count,
        parse_orders=parse_orders,
    )
    api_before = api.cpu_seconds()
    db_before = pg_cpu.sample() if pg_cpu else {}
    result = load.go()
    api_spent = api.cpu_seconds() - api_before
    db_spent = PgBackendCpu.spent(db_before, pg_cpu.sample()) if pg_cpu else None
    n = result.requests
    return Figures(
        requests=n,
        wall_s=result.wall_s,
        rate=result.rate,
        p50_ms=result.p(50),
        p99_ms=result.p(99),
        errors=result.errors(ok_status),
        error_samples=result.samples,
        order_statuses=dict(result.order_statuses),
        reserved_units=result.reserved_units,
        client_cpu_us=result.client_cpu_us_per_request,
        client_cores=result.client_cpu_s / result.wall_s,
        api_cpu_ms=api_spent / n * 1000,
        db_cpu_ms=db_spent / n * 1000 if db_spent is not None else None,
    )
