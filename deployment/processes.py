"""A party's processes, started and stopped together.

The coordinator runs the SuperLink, fedscore's executor and the fleet gateway; an
institution runs its SuperNode and fedscore's executor. `ProcessGroup` starts them,
stops all of them when one dies or on SIGTERM/SIGINT, and reports which one ended and
how, so a half-running party never stays up unnoticed.
"""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


@dataclass
class ManagedProcess:
    """One process of the group.

    Attributes:
        name: how messages name it ("SuperLink", "executor", "gateway").
        process: the running process.
    """

    name: str
    process: subprocess.Popen[bytes] | subprocess.Popen[str]


@dataclass
class ProcessGroup:
    """Processes that live and die together.

    Attributes:
        members: the started processes, in start order.
        stopping: set once a stop was asked for (a signal) or one member died.
    """

    members: list[ManagedProcess] = field(default_factory=list)
    stopping: bool = False

    def start(
        self,
        name: str,
        command: list[str],
        log: Path | None,
        env: dict[str, str] | None = None,
        stdout: int | IO[bytes] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start `command` as member `name`, its output appended to `log` (or `stdout`)."""
        output: int | IO[bytes] | None = stdout
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            output = log.open("ab")
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=env)
        self.members.append(ManagedProcess(name, process))
        return process

    def adopt(self, name: str, process: subprocess.Popen[str]) -> None:
        """Add a process started elsewhere (e.g. one whose output is read line by line)."""
        self.members.append(ManagedProcess(name, process))

    def stop_on_signals(self) -> None:
        """SIGTERM/SIGINT stop the whole group."""

        def handle(_signum: int, _frame: object) -> None:
            self.stopping = True

        signal.signal(signal.SIGTERM, handle)
        signal.signal(signal.SIGINT, handle)

    def first_ended(self) -> ManagedProcess | None:
        """A member that is no longer running, if any."""
        return next((m for m in self.members if m.process.poll() is not None), None)

    def wait(self) -> ManagedProcess | None:
        """Block until a stop is asked for or a member ends.

        Returns the member that ended (None on a requested stop).
        """
        while not self.stopping:
            ended = self.first_ended()
            if ended is not None:
                return ended
            time.sleep(0.2)
        return None

    def stop(self, timeout: float = 20.0) -> None:
        """Stop every member (SIGTERM, then SIGKILL after `timeout`), newest first."""
        self.stopping = True
        for member in reversed(self.members):
            if member.process.poll() is None:
                member.process.terminate()
        deadline = time.monotonic() + timeout
        for member in reversed(self.members):
            remaining = max(0.1, deadline - time.monotonic())
            try:
                member.process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                member.process.kill()
                member.process.wait(timeout=10)
