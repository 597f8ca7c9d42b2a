"""The coordinator's record of a vertical run (`vertical_summary.json` in its run folder).

The relay writes it when the run ends, whether it finished or not: the run's id, the hash
of its terms, every exchange with its duration and the bytes relayed, the facts the parties
reported (set sizes, the intersection commitment, the training plan, the test figures),
and `ok` with the `error` that stopped it. Read by whoever started the run: the simulation
driver, and the model owner after a deployed run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fedscore.core.errors import FedscoreError

SUMMARY_FILE = "vertical_summary.json"


def read_summary(run_dir: Path) -> dict[str, Any]:
    """The record of the finished vertical run in `run_dir`.

    Args:
        run_dir: the run's folder at the coordinator.

    Raises:
        FedscoreError: the run did not start (no record), or it failed (the record's error
            says why: a party declined, failed, or the parties disagreed).
    """
    summary_path = run_dir / SUMMARY_FILE
    if not summary_path.is_file():
        raise FedscoreError(
            f"the vertical run did not start: {summary_path} was not written (the coordinator "
            "refused the run, or it failed before its first exchange)"
        )
    summary: dict[str, Any] = json.loads(summary_path.read_text(encoding="utf-8"))
    if not summary.get("ok"):
        raise FedscoreError(
            f"the vertical run failed: {summary.get('error', 'no reason recorded')}"
        )
    return summary
