"""A party's cost at a bank's real size: 3 parties of 50k, 200k and 1M customers each.

For every size N, the demo's three institutions are grown to N customers each (their
rows resampled, every customer with a fresh valid identity and consent records:
`scale_data.py`). Then, per party, in processes of their own (`scale_party.py`):

* the first load: read, validate, check consent, de-identify, encode, write the cache;
* a run of `--rounds` training rounds (default 4; LR, DP-SGD at ε = 1, δ each party's
  own, the other `RunConfig` defaults) through the node's real handler, signed by the
  demo's model owner: round 1 calibrates the run's noise, every round reads the table
  from the cache, scores the received model and trains.

Each process reports its CPU seconds and its peak resident memory (VmHWM). The
report gives, per N, the first load and the steady round (median of rounds 2..R) per
party, their cost per 1,000 rows (flat when the cost is linear), and the targets: a
steady round at 1M rows ≤ 15 CPU-s per party, the first load ≤ 25 s per 1M rows, peak
memory per party process ≤ 2 GiB at 1M rows, and cost per row at the largest N within
25 % of the smallest N's.

Writes benchmarks/results/scale.json and scale.md (`make bench-scale`). `--quick`: N =
5,000 and 20,000, 2 rounds, results in a temporary folder.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from scale_data import scaled_institution
from support.cli import benchmark_parser, parse_benchmark_args
from support.machine import machine_line
from support.output import Session, configuration_progress, markdown_table, verdict

from fedscore.core.runconfig import RunConfig
from fedscore.demo import prepare_demo

SIZES = (50_000, 200_000, 1_000_000)
PARTIES = ("large_bank", "city_bank", "loan_facilitator")
SEED = 2026
TARGETS = {
    "steady_round_cpu_seconds_at_1m": 15.0,
    "first_load_seconds_per_1m_rows": 25.0,
    "peak_rss_mib_at_1m": 2048.0,
    "cost_per_row_growth": 1.25,
}
PARTY_SCRIPT = Path(__file__).with_name("scale_party.py")


def _party_process(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(PARTY_SCRIPT), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"scale_party.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def measure_size(work: Path, demo: Path, rows: int, request: Path) -> dict[str, Any]:
    """Grow every party to `rows` customers; time its first load and its rounds."""
    parties: dict[str, Any] = {}
    for party in PARTIES:
        config = scaled_institution(
            demo / "institutions" / party, work / str(rows) / party, rows, SEED
        )
        load = _party_process("load", str(config))
        rounds = _party_process("rounds", str(config), "--request", str(request))
        steady = [r["cpu_seconds"] for r in rounds["rounds"][1:]] or [
            rounds["rounds"][0]["cpu_seconds"]
        ]
        parties[party] = {
            "first_load": load,
            "rounds": rounds["rounds"],
            "rounds_peak_rss_mib": rounds["peak_rss_mib"],
            "steady_round_cpu_seconds": statistics.median(steady),
            "steady_round_wall_seconds": statistics.median(
                r["wall_seconds"] for r in rounds["rounds"][1:] or rounds["rounds"]
            ),
        }
    return {
        "rows": rows,
        "parties": parties,
        "first_load_cpu_seconds": statistics.mean(
            p["first_load"]["cpu_seconds"] for p in parties.values()
        ),
        "first_load_wall_seconds": statistics.mean(
            p["first_load"]["wall_seconds"] for p in parties.values()
        ),
        "steady_round_cpu_seconds": statistics.mean(
            p["steady_round_cpu_seconds"] for p in parties.values()
        ),
        "peak_rss_mib": max(
            max(p["first_load"]["peak_rss_mib"], p["rounds_peak_rss_mib"]) for p in parties.values()
        ),
        "first_load_peak_rss_mib": max(p["first_load"]["peak_rss_mib"] for p in parties.values()),
        "rounds_peak_rss_mib": max(p["rounds_peak_rss_mib"] for p in parties.values()),
    }


def assess(cases: list[dict[str, Any]]) -> dict[str, Any]:
    """The targets against the largest and smallest N measured."""
    small, large = cases[0], cases[-1]
    per_million = 1_000_000 / large["rows"]

    def per_row(case: dict[str, Any], key: str) -> float:
        return float(case[key]) / case["rows"]

    growth = {
        key: per_row(large, key) / per_row(small, key)
        for key in ("first_load_cpu_seconds", "steady_round_cpu_seconds")
    }
    figures = {
        "steady_round_cpu_seconds_at_1m": large["steady_round_cpu_seconds"] * per_million,
        "first_load_seconds_per_1m_rows": large["first_load_wall_seconds"] * per_million,
        "peak_rss_mib_at_1m": large["peak_rss_mib"],
        "cost_per_row_growth": max(growth.values()),
    }
    return {
        "largest_rows": large["rows"],
        "figures": figures,
        "cost_per_row_growth": growth,
        "met": {key: figures[key] <= TARGETS[key] for key in TARGETS},
    }


def render(result: dict[str, Any]) -> str:
    rows = [
        [
            f"{c['rows']:,}",
            f"{c['first_load_wall_seconds']:.1f}",
            f"{c['first_load_cpu_seconds']:.1f}",
            f"{1000 * c['first_load_cpu_seconds'] / c['rows']:.3f}",
            f"{c['steady_round_cpu_seconds']:.2f}",
            f"{1000 * c['steady_round_cpu_seconds'] / c['rows']:.4f}",
            f"{c['first_load_peak_rss_mib']:.0f}",
            f"{c['rounds_peak_rss_mib']:.0f}",
        ]
        for c in result["cases"]
    ]
    assessment = result["assessment"]
    figures, met = assessment["figures"], assessment["met"]
    largest = assessment["largest_rows"]
    scaled = "" if largest == 1_000_000 else f" (scaled from {largest:,} rows)"
    targets = [
        [
            f"steady round at 1M rows per party (CPU-s){scaled}",
            f"{figures['steady_round_cpu_seconds_at_1m']:.2f}",
            "≤ 15",
            verdict(met["steady_round_cpu_seconds_at_1m"]),
        ],
        [
            f"first load per 1M rows (s){scaled}",
            f"{figures['first_load_seconds_per_1m_rows']:.1f}",
            "≤ 25",
            verdict(met["first_load_seconds_per_1m_rows"]),
        ],
        [
            f"peak memory per party process at {largest:,} rows (MiB)",
            f"{figures['peak_rss_mib_at_1m']:.0f}",
            "≤ 2048",
            verdict(met["peak_rss_mib_at_1m"]),
        ],
        [
            "cost per row, largest N ÷ smallest N (load, round)",
            " / ".join(f"{v:.2f}" for v in assessment["cost_per_row_growth"].values()),
            "≤ 1.25",
            verdict(met["cost_per_row_growth"]),
        ],
    ]
    run = result["run"]
    return "\n".join(
        [
            "# A party at a bank's real size",
            "",
            f"Three parties of N customers each (the demo's institutions grown to N with "
            "fresh identities and consent records), each party's work in processes of its "
            f"own: the first load, then a run of {run['rounds']} rounds "
            f"({run['model'].upper()}, DP-SGD at ε = {run['epsilon']:g}, batch "
            f"{run['batch_size']}, δ each party's own) through the node's training handler. "
            "Per N, the mean over the three parties; CPU seconds of the party's process; "
            "peak memory is the largest process's peak resident set (VmHWM).",
            "",
            markdown_table(
                [
                    "customers per party",
                    "first load (s)",
                    "first load (CPU-s)",
                    "load CPU-s / 1k rows",
                    "steady round (CPU-s)",
                    "round CPU-s / 1k rows",
                    "load peak (MiB)",
                    "rounds peak (MiB)",
                ],
                rows,
            ),
            "",
            markdown_table(["target", "measured", "target", ""], targets),
            "",
            machine_line(result["machine"]),
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """The script (`argv`: its arguments): grow the parties, measure, write the results."""
    parser = benchmark_parser(__doc__, "N = 5,000 and 20,000, 2 rounds")
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--rounds", type=int, default=4, help="rounds of the run (default 4)")
    parser.add_argument("--work", type=Path, help="work (and keep the grown tables) here")
    args = parse_benchmark_args(
        parser, argv, "scale", quick={"sizes": [5_000, 20_000], "rounds": 2}
    )
    session = Session("scale", args.out_dir)
    with tempfile.TemporaryDirectory(prefix="fedscore-scale-") as scratch:
        work = args.work or Path(scratch)
        work.mkdir(parents=True, exist_ok=True)
        federation = prepare_demo(work / "demo")
        run = RunConfig(rounds=args.rounds)
        settings = federation.run_settings(run, show_progress=False)
        request = work / "request.json"
        request.write_text(
            json.dumps(
                {
                    "run": run.as_dict(),
                    "run_id": settings.run_id,
                    "run_request": settings.run_request,
                }
            ),
            encoding="utf-8",
        )
        cases = []
        with configuration_progress() as progress:
            task = progress.add_task("scale", total=len(args.sizes))
            for rows in sorted(args.sizes):
                progress.update(task, description=f"{rows:,} customers per party")
                cases.append(measure_size(work, work / "demo", rows, request))
                progress.advance(task)
    result = {
        "cases": cases,
        "run": run.as_dict(),
        "targets": TARGETS,
        "assessment": assess(cases),
    }
    return session.finish(result, render, with_load=True)


if __name__ == "__main__":
    sys.exit(main())
