"""How fast a compliance officer verifies a node's ledger.

Builds a ledger of N entries (default 100,000) shaped like a node's round entries,
then times `verify_ledger` on the intact ledger (every link + one signature) and on
one whose last quarter was rewritten by a key other than the node's (every link +
a binary search over signatures), with a SHA-256 chain, and an intact SM3 chain.

Writes benchmarks/results/ledger_verify.json and ledger_verify.md.

Usage: python benchmarks/ledger_verify.py [--entries N] [--repeats N] [--out-dir DIR] [--quick]
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from support.cli import parse_benchmark_args, sized_parser
from support.machine import machine_info, machine_line
from support.output import markdown_table, publish, verdict

from fedscore.core.signing import SigningKey
from fedscore.privacy.ledger import LEDGER_SCHEMA, append_entry, verify_ledger

TARGET_SECONDS = 5.0


def entry(index: int) -> dict[str, object]:
    return {
        "party": "large_bank",
        "task": "default_risk",
        "data_version": "ab" * 32,
        "run_id": f"run-{index // 10}",
        "server_round": index % 10 + 1,
        "status": "trained",
        "reason": "",
        "noise_multiplier": 3.54,
        "sample_rate": 0.068,
        "steps": 15,
        "max_grad_norm": 4.0,
        "delta": 1e-5,
        "epsilon_rdp": 0.1 + index * 1e-5,
        "epsilon_prv": 0.09 + index * 1e-5,
        "max_epsilon": 4.0,
        "sampler": "poisson",
        "budget_remaining": 3.9,
        "deidentification_report_sha256": "cd" * 32,
        "consent": {"valid": 9000, "expired": 200, "withdrawn": 200, "no_record": 300},
        "created_at": "2026-11-25T18:00:00.000000+00:00",
    }


def build(
    path: Path, entries: int, signer: SigningKey, forger: SigningKey | None, algorithm: str
) -> None:
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(LEDGER_SCHEMA)
    db.execute("BEGIN")
    for index in range(entries):
        rewritten = forger is not None and index >= entries * 3 // 4
        append_entry(db, entry(index), forger if rewritten else signer, algorithm)
    db.execute("COMMIT")
    db.close()


def main(argv: list[str] | None = None) -> int:
    """The script (`argv`: its arguments): time ledger checks, write the results."""
    parser = sized_parser(__doc__, "--entries", 100_000, quick_size=2_000)
    args = parse_benchmark_args(parser, argv, "ledger_verify")
    cases = []
    with tempfile.TemporaryDirectory() as tmp:
        signer = SigningKey.load_or_create(Path(tmp) / "node.pem")
        forger = SigningKey.load_or_create(Path(tmp) / "forger.pem")
        for algorithm, name, rewriter in (
            ("sha256", "intact", None),
            ("sha256", "last quarter rewritten", forger),
            ("sm3", "intact", None),
        ):
            path = Path(tmp) / f"{algorithm}_{name.replace(' ', '_')}.sqlite"
            build(path, args.entries, signer, rewriter, algorithm)
            seconds = []
            for _ in range(args.repeats):
                started = time.perf_counter()
                checked = verify_ledger(path, signer.public_key)
                seconds.append(time.perf_counter() - started)
            cases.append(
                {
                    "case": name,
                    "hash": algorithm,
                    "entries": args.entries,
                    "seconds": seconds,
                    "best_seconds": min(seconds),
                    "ok": checked.ok,
                    "first_broken": checked.first_broken,
                    "signature_checks": checked.signature_checks,
                }
            )
    machine = machine_info()
    rows = [
        [
            c["case"],
            c["hash"],
            f"{c['entries']:,}",
            f"{c['best_seconds']:.2f}",
            str(c["ok"]),
            str(c["first_broken"]),
            str(c["signature_checks"]),
        ]
        for c in cases
    ]
    met = all(c["best_seconds"] < TARGET_SECONDS for c in cases)
    markdown = "\n".join(
        [
            "# Ledger verification",
            "",
            f"Best of {args.repeats}; target < {TARGET_SECONDS:.0f} s for "
            f"{args.entries:,} entries: {verdict(met)}.",
            "",
            markdown_table(
                [
                    "ledger",
                    "chain hash",
                    "entries",
                    "seconds",
                    "verifies",
                    "first broken",
                    "signature checks",
                ],
                rows,
            ),
            "",
            machine_line(machine),
        ]
    )
    result = {"cases": cases, "target_seconds": TARGET_SECONDS, "machine": machine}
    return publish(args.out_dir, "ledger_verify", result, markdown)


if __name__ == "__main__":
    sys.exit(main())
