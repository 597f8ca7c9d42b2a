"""Batch scoring of a large book with `fedscore score` in its own process."""

from __future__ import annotations

import json
import subprocess
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


def batch(registry: Path, source: Path, output: Path) -> dict[str, float]:
    """`fedscore score` in its own process: its summary and its peak RSS.

    Args:
        registry: the model registry (its production model scores).
        source: the book.
        output: where the graded book goes.

    Returns:
        Rows, seconds, rows/s, the process's wall time, peak RSS, input size and PSI.

    Raises:
        RuntimeError: `fedscore score` failed.
    """
    summary_path = output.with_suffix(".summary.json")
    started = time.perf_counter()
    command = fedscore_command("score", "--registry", str(registry), "--input", str(source))
    process = subprocess.Popen(
        [*command, "--output", str(output), "--summary", str(summary_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=fedscore_environment(),
    )
    peak = peak_rss_bytes(process)
    wall = time.perf_counter() - started
    _, errors = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(errors.decode())
    summary = json.loads(summary_path.read_text())
    return {
        "rows": summary["rows"],
        "seconds": summary["seconds"],
        "rows_per_second": summary["rows_per_second"],
        "process_wall_seconds": wall,
        "peak_rss_mib": peak / 2**20,
        "input_mib": source.stat().st_size / 2**20,
        "psi": summary["psi"],
    }
