"""How fast a node de-identifies a large table, PII scanning included.

The table: N rows (default 1,000,000) resampled from the demo institutions' tables
(the UCI features plus the synthetic name, resident ID, mobile, card number,
residence and application date a bank holds), every row a distinct customer key
and a fresh resident ID, with a consent table of the same size (5 % withdrawn).
Timed end to end as a node runs it (`load_party_data`: read the CSV, validate,
scan every non-identifier column for PII, consent, HMAC pseudonyms, rows-per-
customer bound, generalization, k-anonymity, encoding), then stage by stage.

Writes benchmarks/results/deidentify.json and deidentify.md.

Usage: python benchmarks/deidentify.py [--rows N] [--repeats N] [--out-dir DIR] [--quick]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from support.cli import parse_benchmark_args, sized_parser
from support.machine import machine_info, machine_line
from support.output import markdown_table, publish, verdict

from fedscore.clients.local_data import load_party_data
from fedscore.clients.node import NodeConfig
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.schema import load_schema
from fedscore.core.tabular import file_sha256, read_table, write_table
from fedscore.core.validation import validate_frame
from fedscore.datasets.market import default_task_path, split_market
from fedscore.demo.identities import add_identities
from fedscore.privacy.consent import ConsentTable
from fedscore.privacy.deidentification import deidentify
from fedscore.privacy.deidentification.pipeline import scan_for_pii
from fedscore.privacy.keys import KeyRing
from fedscore.privacy.pii import resident_id_check_char

TARGET_SECONDS = 20.0


def large_table(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A bank-sized customer table and its consent records."""
    market = add_identities(split_market())
    pool = pd.concat(market.parties.values(), ignore_index=True)
    rng = np.random.default_rng(seed)
    table = pool.iloc[rng.integers(0, len(pool), rows)].reset_index(drop=True)
    table["customer_id"] = [f"BM{i:010d}" for i in range(rows)]
    # A fresh resident ID per row: same region and birth date, new sequence and check char.
    sequence = rng.integers(0, 500, rows) * 2 + (table["SEX"].to_numpy() == 1)
    bodies = [b[:14] + f"{s:03d}" for b, s in zip(table["id_number"], sequence, strict=True)]
    table["id_number"] = [b + resident_id_check_char(b) for b in bodies]
    withdrawn = np.where(rng.random(rows) < 0.05, "2026-01-01", "")
    consent = pd.DataFrame(
        {
            "customer_id": table["customer_id"],
            "purpose": "credit_risk_scoring",
            "granted_at": "2025-01-01",
            "expires_at": "",
            "withdrawn_at": withdrawn,
        }
    )
    return table, consent


def time_stages(node: NodeConfig) -> dict[str, float]:
    """Seconds per stage of what `load_party_data` does."""
    schema = load_schema(node.task_path)
    key = KeyRing(node.keys, schema.purpose).current()
    times: dict[str, float] = {}

    def timed(name: str, fn, *args):
        started = time.perf_counter()
        result = fn(*args)
        times[name] = time.perf_counter() - started
        return result

    raw = timed("read CSV", read_table, node.data_path)
    table = timed("validate", validate_frame, raw, schema, str(node.data_path), 1)
    timed("PII scan", scan_for_pii, raw, schema, str(node.data_path))
    consent = timed("read consent", ConsentTable.load, node.consent_table, "customer_id")
    version = timed("hash file", file_sha256, node.data_path)
    today = datetime.now(UTC).date()
    result = timed(
        "de-identify (incl. scan)", deidentify, raw, table, schema, key, version, today, consent
    )
    timed("encode", FeatureEncoder(schema).transform, result.table)
    return times


def main(argv: list[str] | None = None) -> int:
    """The script (`argv`: its arguments): time de-identification, write the results."""
    parser = sized_parser(__doc__, "--rows", 1_000_000, quick_size=20_000)
    args = parse_benchmark_args(parser, argv, "deidentify")

    with tempfile.TemporaryDirectory(prefix="fedscore-deid-bench-") as tmp:
        home = Path(tmp) / "bank"
        (home / "data").mkdir(parents=True)
        table, consent = large_table(args.rows)
        write_table(table, home / "data" / "customers.csv")
        write_table(consent, home / "data" / "consent.csv")
        KeyRing(home / "keys", "credit_risk_scoring").init("bank")
        config = home / "node.toml"
        config.write_text(
            '[node]\nparty = "bank"\ndata = "data/customers.csv"\nstate_dir = "state"\n'
            "[privacy]\nmax_epsilon = 1.0\n"
            '[deidentification]\nkey_dir = "keys"\nconsent_table = "data/consent.csv"\n',
            encoding="utf-8",
        )
        node = NodeConfig.from_toml(config)
        schema = load_schema(default_task_path())
        totals: list[float] = []
        report = None
        for _ in range(args.repeats):
            started = time.perf_counter()
            data = load_party_data(node, schema)
            totals.append(time.perf_counter() - started)
            report = data.report
        stages = time_stages(node)
    assert report is not None
    best = min(totals)
    machine = machine_info()
    data = {
        "rows": args.rows,
        "repeats": args.repeats,
        "end_to_end_seconds": totals,
        "best_seconds": best,
        "median_seconds": statistics.median(totals),
        "rows_per_second": args.rows / best,
        "target_seconds": TARGET_SECONDS,
        "target_met": best < TARGET_SECONDS,
        "stages_seconds": stages,
        "report": {
            "rows": report.rows,
            "k_achieved": report.k_achieved,
            "suppression_rate": report.suppression_rate,
            "consent": report.consent,
            "rows_over_customer_bound": report.rows_over_customer_bound,
            "pii_scan": report.pii_scan,
        },
        "machine": machine,
    }
    rows = [[name, f"{seconds:.2f}"] for name, seconds in stages.items()]
    markdown = "\n".join(
        [
            "# De-identification speed (PII scan included)",
            "",
            f"{args.rows:,} rows, best of {args.repeats}: **{best:.1f} s** end to end "
            f"({args.rows / best:,.0f} rows/s); target < {TARGET_SECONDS:.0f} s: "
            f"{verdict(best < TARGET_SECONDS)}.",
            f"Rows after consent / bound / suppression: {report.rows['with_consent']:,} / "
            f"{report.rows['within_customer_bound']:,} / {report.rows['after_suppression']:,}; "
            f"k = {report.k_achieved}, suppression {report.suppression_rate:.2%}.",
            "",
            "Stages (one run):",
            "",
            markdown_table(["stage", "seconds"], rows),
            "",
            machine_line(machine),
        ]
    )
    return publish(args.out_dir, "deidentify", data, markdown)


if __name__ == "__main__":
    sys.exit(main())
