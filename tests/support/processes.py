"""Processes as Linux shows them in /proc: who descends from whom, and which ones a test session started.

A process is the session's when it descends from the pytest process, or when its environment carries the
session's mark: one that outlived its parent (a demo ERP whose load test was killed) is reparented away from
pytest, but keeps the environment it inherited. What the user started before pytest (`make server`) has
neither, so the session's end never touches it."""

import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

SESSION_MARK = "RPA_PLATFORM_TEST_SESSION"
EXIT_GRACE_SECONDS = 5.0  # one just stopped, or watching for its parent's end, is gone within this


@dataclass(frozen=True)
class RunningProcess:
    pid: int
    command: str


def mark_session() -> None:
    """Before the session starts anything: every process it starts inherits the mark."""
    os.environ[SESSION_MARK] = f"{os.getpid()}-{uuid.uuid4().hex}"


def _parents() -> dict[int, int]:
    """Every running process's parent; zombies left out (they have ended, only their exit status remains)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The command in parentheses may hold spaces and parentheses: the fields after its last ")".
            state, parent = stat.read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if state != "Z":
            parents[int(stat.parent.name)] = int(parent)
    return parents


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, whatever session or process group it sits in."""
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found, waiting = [], [pid]
    while waiting:
        for child in children.get(waiting.pop(), []):
            found.append(child)
            waiting.append(child)
    return found


def is_running(pid: int) -> bool:
    """Neither ended nor a zombie (ended, its exit status not yet collected)."""
    return pid in _parents()


def command_of(pid: int) -> str | None:
    """Its command line; None when it has ended."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return None


def _marked(pid: int, mark: bytes) -> bool:
    try:
        return mark in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:  # ended, or another user's
        return False


def session_processes() -> list[RunningProcess]:
    """Those of this session (this process's descendants, or marked with its mark) still running, itself
    left out."""
    own = os.getpid()
    mark = f"{SESSION_MARK}={os.environ[SESSION_MARK]}".encode()
    pids = set(descendants(own)) | {pid for pid in _parents() if pid != own and _marked(pid, mark)}
    return [RunningProcess(pid, command) for pid in sorted(pids) if (command := command_of(pid)) is not None]


def kill_session_processes() -> list[RunningProcess]:
    """Those still running after a short grace, killed (SIGKILL); what they were."""
    deadline = time.monotonic() + EXIT_GRACE_SECONDS
    while (left := session_processes()) and time.monotonic() < deadline:
        time.sleep(0.2)
    for process in left:
        try:
            os.kill(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            continue  # ended at the last moment
    return left
