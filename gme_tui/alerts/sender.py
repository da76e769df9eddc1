"""One sender per outbox (SPEC §10): the processes that share an outbox agree on which one sends.

The sender holds an exclusive `fcntl.flock` on `<outbox>.lock`. The kernel releases it when the
process ends, however it ends (SIGKILL included), so there is no stale pid file to clean up and
no guessing whether a pid is still alive. The holder writes who it is into the lock file (pid,
start time, command line) only so that the others can say which process sends; the lock, not
that text, decides. The others retry the lock now and then and take over when it is free.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SenderInfo:
    """Who holds the lock, as it wrote it (best effort: empty fields when unreadable)."""

    pid: int = 0
    started_ms: int = 0
    command: str = ""

    def describe(self) -> str:
        """`pid 1234 (gme-tui --headless)`, or `another gme-tui process` when unknown."""
        if not self.pid:
            return "another gme-tui process"
        return f"pid {self.pid}" + (f" ({self.command})" if self.command else "")


def lock_path_for(outbox: Path) -> Path:
    return outbox.with_name(outbox.name + ".lock")


def _command_line() -> str:
    args = [Path(sys.argv[0]).name if sys.argv else "gme-tui", *sys.argv[1:]]
    if args[0] in ("__main__.py", "-m"):
        args[0] = "gme-tui"
    return " ".join(args)[:200]


class SenderLock:
    """`try_acquire()` is cheap and never blocks; call it again while `held` is False."""

    def __init__(self, path: Path, started_ms: int) -> None:
        """Raises OSError when the lock file cannot be created."""
        self.path = path
        self.started_ms = started_ms
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self.held = False

    def try_acquire(self) -> bool:
        """Take the lock if it is free. True when this process is (now) the sender."""
        if self.held:
            return True
        if self._fd < 0:
            return False
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        self.held = True
        self._write_info()
        return True

    def _write_info(self) -> None:
        info = {"pid": os.getpid(), "started_ms": self.started_ms, "command": _command_line()}
        data = json.dumps(info).encode("utf-8")
        with contextlib.suppress(OSError):  # the text is informative only
            os.ftruncate(self._fd, 0)
            os.pwrite(self._fd, data, 0)

    def holder(self) -> SenderInfo:
        """Who the lock file says holds it (this process when `held`)."""
        try:
            raw = os.pread(self._fd, 4096, 0) if self._fd >= 0 else b""
            data = json.loads(raw.decode("utf-8")) if raw else {}
            if not isinstance(data, dict):
                return SenderInfo()
            return SenderInfo(int(data.get("pid", 0)), int(data.get("started_ms", 0)), str(data.get("command", "")))
        except (OSError, ValueError, TypeError):
            return SenderInfo()

    def release(self) -> None:
        """Give the lock up (closing the file releases it); safe to call twice."""
        if self._fd < 0:
            return
        fd, self._fd = self._fd, -1
        self.held = False
        with contextlib.suppress(OSError):
            os.close(fd)
