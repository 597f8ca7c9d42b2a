"""The command line every benchmark script has: `--quick`, `--out-dir`, sizes, repeats.

`--quick` is a smoke check: it shrinks the workload (each script says how) and, unless
`--out-dir` is given, writes into a new temporary folder, never over the committed
results in benchmarks/results/.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from support.output import RESULTS_DIR, console


def benchmark_parser(doc: str, quick: str) -> argparse.ArgumentParser:
    """A parser with `--quick` and `--out-dir`, described by `doc`'s first line.

    Args:
        doc: the script's module docstring.
        quick: what `--quick` shrinks the workload to.

    Returns:
        The parser; the script adds its own options.
    """
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke check: {quick}; results go to a temporary folder unless --out-dir",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=None,
        help=f"where results go (default {RESULTS_DIR}, a temporary folder with --quick)",
    )
    return parser


def sized_parser(doc: str, size_option: str, size: int, quick_size: int) -> argparse.ArgumentParser:
    """`benchmark_parser` plus a workload size and `--repeats` (the best run counts).

    Args:
        doc: the script's module docstring.
        size_option: the size's option, e.g. "--rows".
        size: its default.
        quick_size: its value under `--quick` (with one repeat).

    Returns:
        The parser; `parse_benchmark_args` applies the quick values.
    """
    parser = benchmark_parser(doc, f"{size_option} {quick_size:,} and one repeat")
    parser.add_argument(size_option, type=int, default=size, help=f"(default {size:,})")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs (default 3)")
    parser.set_defaults(quick_values={size_option.lstrip("-").replace("-", "_"): quick_size})
    return parser


def parse_benchmark_args(
    parser: argparse.ArgumentParser,
    argv: Sequence[str] | None,
    name: str,
    quick: Mapping[str, object] | None = None,
) -> argparse.Namespace:
    """Parse `argv`; with `--quick`, options left at their defaults take `quick`'s values.

    Args:
        parser: from `benchmark_parser` or `sized_parser`.
        argv: the arguments (None: the process's).
        name: the benchmark's name (names the temporary folder of a quick run).
        quick: option (dest) → its value under `--quick`; `sized_parser`'s size and one
            repeat are added.

    Returns:
        The arguments, `out_dir` always set.
    """
    args = parser.parse_args(argv)
    if args.quick:
        values = {**getattr(args, "quick_values", {}), **(quick or {})}
        if hasattr(args, "repeats"):
            values.setdefault("repeats", 1)
        for dest, value in values.items():
            if getattr(args, dest) == parser.get_default(dest):
                setattr(args, dest, value)
    if args.out_dir is None:
        args.out_dir = RESULTS_DIR
        if args.quick:
            args.out_dir = Path(tempfile.mkdtemp(prefix=f"fedscore-bench-{name}-quick-"))
            console.print(f"quick run: results go to {args.out_dir}")
    return args
