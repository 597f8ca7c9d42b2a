"""Batch scoring of a large book with `fedscore score` in its own process, next to the floor.

The floor (`scoring_floor.py`, in its own process too) reads the same columns and
computes the logit by hand: the engine's rows/s divided by the floor's is what the
engine's validation, reasons, grades, decisions and output cost.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fedscore.deployment.localhost.processes import (
    fedscore_command,
    fedscore_environment,
    peak_rss_bytes,
)


def write_book(path: Path, frame: pd.DataFrame, features: list[str], rows: int) -> None:
    """Write a Parquet book of `rows` customers: the test customers repeated, unique keys.

    Args:
        path: the Parquet file written.
        frame: the customers repeated.
        features: the columns kept.
        rows: how many rows.
    """
    base = pa.Table.from_pandas(frame[features].reset_index(drop=True), preserve_index=False)
    step = 1_000_000
    with pq.ParquetWriter(
        path, base.schema.insert(0, pa.field("customer_id", pa.string()))
    ) as writer:
        for start in range(0, rows, step):
            count = min(step, rows - start)
            index = np.arange(start, start + count) % base.num_rows
            keys = pa.array([f"C{i:09d}" for i in range(start, start + count)])
            writer.write_table(
                base.take(index).add_column(0, "customer_id", keys), row_group_size=131_072
            )


def _run(command: list[str]) -> tuple[bytes, int, float]:
    """Run `command`: its standard output, peak RSS (bytes) and wall time.

    Raises:
        RuntimeError: the command failed.
    """
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=fedscore_environment()
    )
    peak = peak_rss_bytes(process)
    out, errors = process.communicate()
    wall = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(errors.decode())
    return out, peak, wall


def batch(
    registry: Path, source: Path, output: Path, strategy: Path | None = None
) -> dict[str, float]:
    """`fedscore score` in its own process: its summary and its peak RSS.

    Args:
        registry: the model registry (its production model scores).
        source: the book.
        output: where the graded book goes.
        strategy: a decision strategy to decide every row with too (None: scores only).

    Returns:
        Rows, seconds, rows/s, the process's wall time, peak RSS, input size and PSI.

    Raises:
        RuntimeError: `fedscore score` failed.
    """
    summary_path = output.with_suffix(".summary.json")
    command = fedscore_command("score", "--registry", str(registry), "--input", str(source))
    command += ["--output", str(output), "--summary", str(summary_path)]
    if strategy is not None:
        command += ["--strategy", str(strategy)]
    _, peak, wall = _run(command)
    summary = json.loads(summary_path.read_text())
    output.unlink(missing_ok=True)
    return {
        "rows": summary["rows"],
        "seconds": summary["seconds"],
        "rows_per_second": summary["rows_per_second"],
        "process_wall_seconds": wall,
        "peak_rss_mib": peak / 2**20,
        "input_mib": source.stat().st_size / 2**20,
        "psi": summary["psi"],
    }


def floor(registry: Path, source: Path) -> dict[str, float]:
    """The floor (`scoring_floor.py`) in its own process: rows/s and peak RSS.

    Args:
        registry: the model registry (its production model's weights and schema).
        source: the book.

    Raises:
        RuntimeError: the floor failed.
    """
    script = Path(__file__).with_name("scoring_floor.py")
    out, peak, wall = _run([sys.executable, str(script), str(registry), str(source)])
    result = json.loads(out.decode().strip().splitlines()[-1])
    return {**result, "process_wall_seconds": wall, "peak_rss_mib": peak / 2**20}
