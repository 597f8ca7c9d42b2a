"""Where a deployed round's time goes, from the task runners' lines in the parties' logs.

Each message a node answers leaves one line (`fedscore.deployment.task_runner`):

    2026-11-30 08:01:02 fedscore task runner: large_bank: train message of run 42:
    launch 0.004 s, pull 0.021 s, app check 0.012 s, handler 0.310 s, push 0.015 s

`task_phases` collects a run's lines (by the run's time window) into medians per message
kind and phase; `round_breakdown` sets a round's wall time against them: what the task
processes spent per exchange (launch, pull, app check, handler, push) and what is left,
the waiting between processes (SuperNode and ServerApp polls, the SuperLink, gRPC/TLS).
"""

from __future__ import annotations

import re
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PHASES = ("launch", "pull", "app check", "handler", "push")
_LINE = re.compile(
    r"^(?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) fedscore task runner: (?P<party>[a-z0-9_]+): "
    r"(?P<kind>\w+) message of run \d+: (?P<phases>.*)$"
)
_PHASE = re.compile(r"(?P<name>[a-z ]+) (?P<seconds>[0-9.]+) s")


def task_phases(logs: list[Path], started_at: datetime, ended_at: datetime) -> dict[str, Any]:
    """Median seconds per phase of the messages the parties answered in a time window.

    Args:
        logs: the parties' executor logs (`state/executor.log` of each node).
        started_at, ended_at: the run's window (UTC; the log stamps have whole seconds).

    Returns:
        Per message kind ("train", "evaluate", "query"): how many messages, and the
        median seconds of each phase and of all of them together.
    """
    window = (started_at.replace(microsecond=0), ended_at)
    found: dict[str, list[dict[str, float]]] = {}
    for log in logs:
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            match = _LINE.match(line)
            if match is None:
                continue
            stamp = datetime.strptime(match["stamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
            if not window[0] <= stamp <= window[1]:
                continue
            phases = {
                m["name"].strip(): float(m["seconds"]) for m in _PHASE.finditer(match["phases"])
            }
            found.setdefault(match["kind"], []).append(phases)
    return {
        kind: {
            "messages": len(rows),
            "median_seconds": {
                phase: statistics.median(row.get(phase, 0.0) for row in rows) for phase in PHASES
            },
            "median_total_seconds": statistics.median(sum(row.values()) for row in rows),
        }
        for kind, rows in sorted(found.items())
    }


def round_breakdown(
    phases: dict[str, Any], round_seconds: float, exchanges_per_round: int
) -> dict[str, float]:
    """A steady round's wall time split into the task processes' phases and waiting.

    The parties answer each exchange in parallel, so one exchange costs about one
    message's phases (the median party's); what the round takes beyond its exchanges'
    task processes is waiting: polls, the SuperLink, transport, aggregation.

    Args:
        phases: `task_phases` of the run.
        round_seconds: the median steady round's wall time.
        exchanges_per_round: training messages each party answers per round (1 plain,
            4 under SecAgg+).
    """
    train = phases.get("train")
    if train is None:
        return {}
    per_message = train["median_seconds"]
    split = {
        f"{phase.replace(' ', '_')}_seconds": per_message[phase] * exchanges_per_round
        for phase in PHASES
    }
    in_tasks = sum(split.values())
    return {**split, "waiting_seconds": max(0.0, round_seconds - in_tasks)}
