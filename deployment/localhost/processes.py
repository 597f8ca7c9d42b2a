"""fedscore's processes on this machine: free ports, command lines, peak memory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

#: How often `peak_rss_bytes` reads the process's high-water mark.
_PEAK_POLL_SECONDS = 0.02


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at `host` right now.

    Args:
        host: the address the port must be free on.

    Returns:
        The port number (another process may still take it before it is used).
    """
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def fedscore_command(*args: str) -> list[str]:
    """The command line of `fedscore ARGS` in this Python environment.

    Args:
        *args: the fedscore subcommand and its options.

    Returns:
        `python -m fedscore.cli.main ARGS` with this interpreter.
    """
    return [sys.executable, "-m", "fedscore.cli.main", *args]


def fedscore_environment() -> dict[str, str]:
    """The environment fedscore's child processes run in: this one's, no Flower telemetry."""
    return {**os.environ, "FLWR_TELEMETRY_ENABLED": "0"}


def peak_rss_bytes(process: subprocess.Popen[Any]) -> int:
    """The process's peak RSS in bytes, read from /proc (VmHWM) until it exits.

    Not getrusage: a child's ru_maxrss includes its parent's RSS at fork time.

    Args:
        process: a running child process (Linux: its /proc/PID/status is read).

    Returns:
        The highest VmHWM seen, 0 where /proc cannot be read.
    """
    status = Path(f"/proc/{process.pid}/status")
    peak = 0
    while process.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) * 1024)
        except (OSError, ValueError):
            pass
        time.sleep(_PEAK_POLL_SECONDS)
    return peak
