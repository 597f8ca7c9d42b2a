"""Vertical scoring: the bank's online joint score with the facilitator's partial score.

A demo pair is trained with an in-process relay (each node's own stage handler, in the
relay's order), the bank trains its fallback, and the facilitator's partial-score
service runs in its own process (`python -m fedscore.vertical.scoring.partial_service`)
on 127.0.0.1 with mutual TLS under a consortium CA. This process is the bank:

- online: `JointScorer.score` of shared customers one after another (warm: the first
  calls untimed), each a gRPC call to the facilitator with a deadline; p50 / p99;
- batch: `JointScorer.score_book` of a book of shared and bank-only customers (batches
  of up to 10,000 join keys), rows per second.

    python benchmarks/vertical_scoring.py            # JSON on stdout
    python benchmarks/vertical_scoring.py --requests 5000

Target: online p99 ≤ 5 ms.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from fedscore.demo.vertical_consortium import prepare_vertical_consortium
from fedscore.deployment.pki import init_pki
from fedscore.vertical.messages import Outcome, Stage, StageRequest
from fedscore.vertical.node.dispatch import answer
from fedscore.vertical.node_config import VerticalNodeConfig
from fedscore.vertical.scoring.fallback import load_fallback, train_fallback
from fedscore.vertical.scoring.joint_scorer import JointScorer
from fedscore.vertical.scoring.shared_rows import load_shared_rows
from fedscore.vertical.scoring.tls import TlsFiles, issue_party_certificate
from fedscore.vertical.training.settings import VerticalSettings

RUN = "bench-vertical-scoring"
FALLBACK = "bench-fallback"
TARGET_P99_MS = 5.0


def train_pair(root: Path, size: int, epochs: int = 10) -> tuple[Path, Path]:
    """A trained demo pair under `root` (in-process relay); the two vertical.toml files."""
    consortium = prepare_vertical_consortium(root, size=size)
    bank = VerticalNodeConfig.from_toml(consortium.bank)
    facilitator = VerticalNodeConfig.from_toml(consortium.facilitator)
    signed = consortium.signed_run(RUN, {"epochs": epochs})

    def ask(config, stage, sealed=b"", step=0, request=""):
        reply = answer(config, StageRequest(stage, RUN, step=step, sealed=sealed, request=request))
        if reply.outcome is not Outcome.DONE:
            raise RuntimeError(f"{stage.value}: {reply.reason}")
        return reply.sealed, reply.facts

    def both(stage, sealed):
        return {
            "bank": ask(bank, stage, sealed["facilitator"])[0],
            "facilitator": ask(facilitator, stage, sealed["bank"])[0],
        }

    offers = {
        "bank": ask(bank, Stage.ADMIT, request=signed.encode())[0],
        "facilitator": ask(facilitator, Stage.ADMIT, request=signed.encode())[0],
    }
    both(Stage.PSI_FINISH, both(Stage.PSI_ANSWER, both(Stage.PSI_START, offers)))
    steps = int(ask(bank, Stage.SETUP)[1]["steps"])
    ask(facilitator, Stage.SETUP)
    gradients = b""
    for step in range(steps):
        contributions = ask(facilitator, Stage.FORWARD, gradients, step)[0]
        gradients = ask(bank, Stage.STEP, contributions, step)[0]
    ask(facilitator, Stage.FORWARD, gradients, steps)
    ask(bank, Stage.EVALUATE, ask(facilitator, Stage.EVALUATE)[0])
    ask(bank, Stage.CLOSE)
    ask(facilitator, Stage.CLOSE)
    train_fallback(bank, FALLBACK, VerticalSettings(epochs=10))
    return consortium.bank, consortium.facilitator


def start_facilitator(config: Path, tls: TlsFiles) -> tuple[subprocess.Popen, str]:
    """The partial-score service in its own process; it and its address once serving."""
    command = [
        sys.executable,
        "-m",
        "fedscore.vertical.scoring.partial_service",
        *("--config", str(config), "--run", RUN, "--port", "0"),
        *("--ca", str(tls.ca_certificate), "--cert", str(tls.certificate)),
        *("--key", str(tls.private_key)),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert process.stdout is not None
    banner = process.stdout.readline()
    if "serving on" not in banner:
        process.kill()
        raise RuntimeError(f"the partial-score service did not start: {banner!r}")
    return process, banner.strip().rsplit(" ", 1)[-1]


def _percentiles(seconds: list[float]) -> dict[str, float]:
    values = np.asarray(seconds) * 1e3
    return {
        "p50_ms": float(np.percentile(values, 50)),
        "p99_ms": float(np.percentile(values, 99)),
        "max_ms": float(values.max()),
        "n": len(values),
    }


def measure_online(
    size: int = 3000,
    requests: int = 2000,
    warmup: int = 200,
    book_rows: int = 50_000,
    deadline_ms: float = 100.0,
    workdir: Path | None = None,
) -> dict[str, Any]:
    """Online joint-score latency and batch throughput (see the module).

    Args:
        size: people of the demo data the pair is made of.
        requests: timed online scores (shared customers, cycling).
        warmup: untimed online scores first.
        book_rows: rows of the batch-scored book (its customers repeat as needed).
        deadline_ms: the bank's deadline for the facilitator's partial score.
        workdir: where the pair, PKI and state go (default: a temporary folder).

    Returns:
        online (p50_ms, p99_ms, max_ms, n, fallbacks), batch (rows, seconds,
        rows_per_second, fallbacks), the pair's sizes and whether p99 met the target.
    """
    with tempfile.TemporaryDirectory(prefix="vertical-scoring-") as temporary:
        root = Path(workdir or temporary)
        started = time.perf_counter()
        bank_toml, facilitator_toml = train_pair(root / "pair", size)
        prepared = time.perf_counter() - started
        pki = root / "pki"
        init_pki(pki, ["127.0.0.1"])
        bank_tls = issue_party_certificate(pki, "bank")
        facilitator_tls = issue_party_certificate(pki, "loan_facilitator")
        bank = VerticalNodeConfig.from_toml(bank_toml)
        shared = load_shared_rows(bank, RUN)
        shared_keys = [shared.table.customer_keys[row] for row in shared.rows]
        process, address = start_facilitator(facilitator_toml, facilitator_tls)
        try:
            scorer = JointScorer(
                bank, RUN, address, bank_tls, deadline_ms, load_fallback(bank, FALLBACK)
            )
            with scorer:
                scorer.wait_ready()
                for i in range(warmup):
                    scorer.score(shared_keys[i % len(shared_keys)])
                latencies, fallbacks = [], 0
                for i in range(requests):
                    key = shared_keys[i % len(shared_keys)]
                    began = time.perf_counter()
                    score = scorer.score(key)
                    latencies.append(time.perf_counter() - began)
                    fallbacks += score.used_fallback
                usable = sorted(shared.consented_keys)
                book = [usable[i % len(usable)] for i in range(book_rows)]
                scorer.score_book(book[:1000])  # warm
                began = time.perf_counter()
                frame = scorer.score_book(book)
                batch_seconds = time.perf_counter() - began
        finally:
            process.terminate()
            process.wait(timeout=30)
    online = {**_percentiles(latencies), "fallbacks": fallbacks, "deadline_ms": deadline_ms}
    joint = int((~frame["used_fallback"]).sum())
    return {
        "online": online,
        "batch": {
            "rows": len(book),
            "joint_rows": joint,
            "fallback_rows": len(book) - joint,
            "seconds": batch_seconds,
            "rows_per_second": len(book) / batch_seconds,
        },
        "pair": {
            "people": size,
            "shared_customers": len(shared_keys),
            "bank_usable": len(shared.consented_keys),
        },
        "prepare_seconds": prepared,
        "target_p99_ms": TARGET_P99_MS,
        "meets_target": online["p99_ms"] <= TARGET_P99_MS and fallbacks == 0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--book-rows", type=int, default=50_000)
    args = parser.parse_args()
    result = measure_online(args.size, args.requests, book_rows=args.book_rows)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
