"""The scoring benchmark's report: latency and throughput against the targets."""

from __future__ import annotations

from support.machine import machine_line
from support.output import fmt, markdown_table, verdict

#: Batch grading + decisions of the big book: rows/s at least, and at most this × the floor.
BATCH_TARGET_ROWS_PER_SECOND = 1_000_000
BATCH_TARGET_FLOOR_RATIO = 3.0


def _latency_table(results: dict) -> str:
    """Single-customer scoring latencies against their targets."""
    one, load, inproc = (
        results["grpc_one_client"],
        results["grpc_16_clients"],
        results["in_process"],
    )
    rows = [
        [
            "in-process, 1 customer",
            fmt(inproc["p50_ms"], 3),
            fmt(inproc["p99_ms"], 3),
            "—",
            f"p99 < 1 ms: {verdict(inproc['p99_ms'] < 1)}",
        ],
        [
            "gRPC + TLS, 1 client",
            fmt(one["p50_ms"], 3),
            fmt(one["p99_ms"], 3),
            "—",
            f"p99 < 5 ms: {verdict(one['p99_ms'] < 5)}",
        ],
        [
            f"gRPC + TLS, {load['clients']} clients, {load['seconds']:.0f} s",
            fmt(load["p50_ms"], 3),
            fmt(load["p99_ms"], 3),
            f"{load['requests_per_second']:,.0f}",
            f"{load['errors']} errors of {load['requests']:,}: {verdict(load['errors'] == 0)}",
        ],
    ]
    return markdown_table(["scoring", "p50 ms", "p99 ms", "requests/s", "target"], rows)


def _batch_row(label: str, run: dict, floor: dict | None) -> list[str]:
    ratio = "—" if floor is None else f"{floor['rows_per_second'] / run['rows_per_second']:.2f}×"
    return [
        f"{label}, {run['rows']:,} rows",
        f"{run['rows_per_second']:,.0f}",
        ratio,
        fmt(run["seconds"], 1),
        f"{run['peak_rss_mib']:,.0f}",
    ]


def render_markdown(results: dict) -> str:
    """The report: scoring latencies, batch throughput and memory, the targets' verdicts.

    Args:
        results: every measurement, as scoring.json holds it (latencies absent when the
            run measured batch grading only).

    Returns:
        The Markdown report.
    """
    big, small, csv = (
        results["batch_big_parquet"],
        results["batch_1m_parquet"],
        results["batch_1m_csv"],
    )
    decide, floor_big, floor_small = (
        results["decide_big_parquet"],
        results["floor_big_parquet"],
        results["floor_1m_parquet"],
    )
    batch_rows = [
        _batch_row("engine + decisions, Parquet", decide, floor_big),
        _batch_row("engine, Parquet", big, floor_big),
        _batch_row("floor (read + logit), Parquet", floor_big, None),
        _batch_row("engine, Parquet", small, floor_small),
        _batch_row("floor (read + logit), Parquet", floor_small, None),
        _batch_row("engine, CSV", csv, None),
    ]
    ratio = floor_big["rows_per_second"] / decide["rows_per_second"]
    met = (
        decide["rows_per_second"] >= BATCH_TARGET_ROWS_PER_SECOND
        and ratio <= BATCH_TARGET_FLOOR_RATIO
    )
    latency = "in_process" in results
    load = " / ".join(f"{x:.1f}" for x in results["machine"]["load_average_1_5_15min"])
    parts = [
        "# Scoring",
        f"Model {results['model']['version']} (LR, {results['model']['rounds']} rounds, ε = 1). "
        + (
            f"Latencies: the best of {len(results['in_process']['runs'])} runs (p99), every "
            "run in scoring.json. "
            if latency
            else "Batch grading only (--batch-only). "
        )
        + f"Load averages at the start (1/5/15 min) {load}: the machine was shared with "
        "other work.",
    ]
    if latency:
        parts.append(_latency_table(results))
    parts += [
        markdown_table(
            ["batch (fedscore score, LR)", "rows/s", "floor ÷ it", "seconds", "peak RSS MiB"],
            batch_rows,
        ),
        f"Batch grading + decisions target >= {BATCH_TARGET_ROWS_PER_SECOND:,} rows/s and "
        f"within {BATCH_TARGET_FLOOR_RATIO:g}× of the floor (Parquet, {decide['rows']:,} "
        f"rows): {verdict(met)} ({decide['rows_per_second']:,.0f} rows/s, {ratio:.2f}×); "
        f"peak RSS {big['peak_rss_mib']:,.0f} MiB for {big['rows']:,} rows against "
        f"{small['peak_rss_mib']:,.0f} MiB for {small['rows']:,} (flat memory). The floor "
        "reads the same columns and computes the logit by hand (benchmarks/scoring_floor.py): "
        "no validation, identifier check, reasons, grades, decisions nor output.",
        machine_line(results["machine"]),
    ]
    return "\n\n".join(parts)
