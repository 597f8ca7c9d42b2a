"""How fast `scan_frame` scans a bank-sized table for PII.

The table: 1,000,000 rows of the 25 numeric columns of the UCI "default of credit
card clients" data (ID, LIMIT_BAL, SEX, EDUCATION, MARRIAGE, AGE, PAY_0..PAY_6,
BILL_AMT1-6, PAY_AMT1-6, default) as integers in their realistic ranges, plus two
short text columns (city, branch). A second measurement adds three columns full
of PII: mobiles stored as integers, resident IDs as strings and a free-text
remark column (unique values, one in a hundred holding a mobile), the worst case
for the text path.

Writes benchmarks/results/pii_scan.json and pii_scan.md.

Usage: python benchmarks/pii_scan.py [--rows N] [--repeats N] [--out-dir DIR] [--quick]
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
from support.cli import parse_benchmark_args, sized_parser
from support.machine import machine_info, machine_line
from support.output import console, markdown_table, publish

from fedscore.privacy.pii import resident_id_check_char, scan_frame

CITIES = ["北京", "上海", "广州", "深圳", "杭州", "成都", "武汉", "西安", "南京", "重庆"]
BRANCHES = ["朝阳支行", "浦东支行", "天河支行", "南山支行", "西湖支行", "营业部"]


def bank_table(rows: int, seed: int = 0) -> pd.DataFrame:
    """UCI-like numeric columns plus two short text columns, no PII."""
    rng = np.random.default_rng(seed)
    columns: dict[str, np.ndarray] = {
        "ID": np.arange(1, rows + 1, dtype=np.int64),
        "LIMIT_BAL": rng.integers(1, 101, rows) * 10_000,
        "SEX": rng.integers(1, 3, rows),
        "EDUCATION": rng.integers(0, 7, rows),
        "MARRIAGE": rng.integers(0, 4, rows),
        "AGE": rng.integers(21, 80, rows),
    }
    for name in ("PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"):
        columns[name] = rng.integers(-2, 9, rows)
    for i in range(1, 7):
        columns[f"BILL_AMT{i}"] = rng.integers(-170_000, 1_000_000, rows)
    for i in range(1, 7):
        columns[f"PAY_AMT{i}"] = rng.integers(0, 900_000, rows)
    columns["default"] = rng.integers(0, 2, rows)
    frame = pd.DataFrame(columns)
    frame["city"] = np.asarray(CITIES, dtype=object)[rng.integers(0, len(CITIES), rows)]
    frame["branch"] = np.asarray(BRANCHES, dtype=object)[rng.integers(0, len(BRANCHES), rows)]
    return frame


def with_pii(frame: pd.DataFrame, seed: int = 1) -> pd.DataFrame:
    """`frame` plus a mobile (int), a resident ID (str) and a free-text remark column."""
    rng = np.random.default_rng(seed)
    rows = len(frame)
    frame = frame.copy()
    frame["mobile"] = 13_000_000_000 + rng.integers(0, 7_000_000_000, rows)
    bodies = [
        f"{region}{year}{month:02d}{day:02d}{seq:03d}"
        for region, year, month, day, seq in zip(
            rng.choice(["110105", "310104", "440305", "510107"], rows).tolist(),
            rng.integers(1950, 2005, rows).tolist(),
            rng.integers(1, 13, rows).tolist(),
            rng.integers(1, 29, rows).tolist(),
            rng.integers(0, 1000, rows).tolist(),
            strict=True,
        )
    ]
    frame["id_no"] = [body + resident_id_check_char(body) for body in bodies]
    amounts = rng.integers(0, 100_000, rows).tolist()
    phones = frame["mobile"].tolist()
    frame["remark"] = [
        f"第{i}笔 还款{amount}元 客户电话{phones[i]}" if i % 100 == 0 else f"第{i}笔 还款{amount}元"
        for i, amount in enumerate(amounts)
    ]
    return frame


def time_scan(frame: pd.DataFrame, repeats: int) -> tuple[list[float], list[dict[str, object]]]:
    """Wall seconds of each `scan_frame(frame)`, and the hits of the last one."""
    seconds = []
    hits: list[dict[str, object]] = []
    for _ in range(repeats):
        start = time.perf_counter()
        found = scan_frame(frame)
        seconds.append(time.perf_counter() - start)
        hits = [{"column": h.column, "detector": h.detector, "count": h.count} for h in found]
    return seconds, hits


def main(argv: list[str] | None = None) -> int:
    """The script (`argv`: its arguments): time PII scans, write the results."""
    parser = sized_parser(__doc__, "--rows", 1_000_000, quick_size=20_000)
    args = parse_benchmark_args(parser, argv, "pii_scan")

    clean = bank_table(args.rows)
    dirty = with_pii(clean)
    cases = []
    for name, frame in (("clean bank table", clean), ("with 3 PII columns", dirty)):
        seconds, hits = time_scan(frame, args.repeats)
        best = min(seconds)
        cases.append(
            {
                "case": name,
                "rows": len(frame),
                "columns": frame.shape[1],
                "seconds": seconds,
                "best_seconds": round(best, 3),
                "rows_per_second": round(len(frame) / best),
                "hits": hits,
            }
        )
        console.print(f"{name}: {len(frame):,} rows × {frame.shape[1]} columns in {best:.3f} s")

    machine = machine_info()
    result = {"benchmark": "pii_scan", "repeats": args.repeats, "cases": cases, "machine": machine}
    rows = [
        [
            case["case"],
            f"{case['rows']:,}",
            str(case["columns"]),
            str(case["best_seconds"]),
            f"{case['rows_per_second']:,}",
            ", ".join(f"{h['column']}: {h['detector']} × {h['count']:,}" for h in case["hits"])
            or "none",
        ]
        for case in cases
    ]
    markdown = "\n".join(
        [
            "# PII scan (`scan_frame`)",
            "",
            f"Best of {args.repeats} runs.",
            "",
            markdown_table(["table", "rows", "columns", "seconds", "rows/s", "hits"], rows),
            "",
            machine_line(machine),
        ]
    )
    return publish(args.out_dir, "pii_scan", result, markdown)


if __name__ == "__main__":
    sys.exit(main())
