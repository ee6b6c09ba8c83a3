"""What else kept the machine busy during a phase: busy CPU of the whole machine and of
every process, from /proc, so that figures taken on a shared machine say how shared it
was."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.common import CLK_TCK


@dataclass(frozen=True)
class MachineSample:
    """Busy CPU of the whole machine and of every process, from /proc."""

    at: float
    busy_s: float
    processes: dict[int, tuple[int, float, str]]  # pid → (parent pid, CPU seconds, name)

    @classmethod
    def take(cls) -> MachineSample:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
        busy = (user + nice + system + irq + softirq + steal) / CLK_TCK
        processes = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                raw = (entry / "stat").read_text()
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            name = raw[raw.index("(") + 1 : raw.rindex(")")]
            rest = raw.rpartition(")")[2].split()
            cpu = (int(rest[11]) + int(rest[12])) / CLK_TCK
            processes[int(entry.name)] = (int(rest[1]), cpu, name)
        return cls(time.monotonic(), busy, processes)


def _descendants(processes: dict[int, tuple[int, float, str]], root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (parent, _, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    found, todo = set(), [root]
    while todo:
        pid = todo.pop()
        found.add(pid)
        todo.extend(children.get(pid, ()))
    return found


def machine_load(
    before: MachineSample, after: MachineSample, broker_pid: int | None
) -> dict[str, Any]:
    """Cores kept busy during a phase: all, by this benchmark (its processes and the
    broker), and by everything else, with the busiest other processes by name."""
    wall = after.at - before.at
    ours = _descendants(after.processes, os.getpid())
    spent: dict[int, float] = {}
    for pid, (_, cpu, _) in after.processes.items():
        spent[pid] = cpu - before.processes.get(pid, (0, 0.0, ""))[1]
    broker = spent.get(broker_pid, 0.0) if broker_pid is not None else 0.0
    ours_s = sum(spent[pid] for pid in ours if pid in spent)
    busy = after.busy_s - before.busy_s
    others = sorted(
        (
            (cpu, after.processes[pid][2], pid)
            for pid, cpu in spent.items()
            if pid not in ours and pid != broker_pid and cpu > 0
        ),
        reverse=True,
    )
    other_s = max(0.0, busy - ours_s - broker)
    return {
        "wall_s": wall,
        "busy_cores": busy / wall,
        "benchmark_cores": ours_s / wall,
        "broker_cores": broker / wall,
        "other_cores": other_s / wall,
        # processes that came and went within the phase: busy, but no pid left to name
        "other_gone_cores": max(0.0, other_s - sum(cpu for cpu, _, _ in others)) / wall,
        "top_others": [
            {"pid": pid, "name": _command(pid, name), "cores": round(cpu / wall, 3)}
            for cpu, name, pid in others[:4]
        ],
    }


def _command(pid: int, name: str) -> str:
    """A process's name, with its script for an interpreter (`python exp2.py`)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return name
    script = next((a.decode(errors="replace") for a in argv[1:] if a.endswith(b".py")), None)
    return f"{name} {Path(script).name}" if script else name


def listener_pid(port: int) -> int | None:
    """The process listening on TCP `port` (the broker), if /proc lets us see it."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(f"socket:[{cols[9]}]")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(entry.name)
        except (FileNotFoundError, PermissionError, ProcessLookupError):
            continue
    return None
