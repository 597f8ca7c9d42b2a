"""The vertical PSI at a bank's size: two parties as two processes, through the channel.

Each party is its own process (spawned, as a node would be), holding its own resident
IDs; this process is only the relay between them, as the coordinator is in deployment.
Every step goes the way it does on a node: load the channel and PSI state, compute,
save the state (owner-only files), seal for the peer. Per stage the wall time (from
the relay's side: the slower party's), each party's own time, the bytes relayed, each
party's peak RSS and a check of the intersection against the known answer.

    python benchmarks/vertical_psi.py                 # 100,000 customers a party
    python benchmarks/vertical_psi.py --n 1000000     # a million (minutes)

Targets on the 2-core reference machine: 100k × 100k ≤ 15 s, 1M × 1M ≤ 150 s.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fedscore.core.signing import SigningKey, public_key_from_hex
from fedscore.privacy.pii.resident_id import resident_id_check_char
from fedscore.vertical.channel import Channel
from fedscore.vertical.psi import group
from fedscore.vertical.psi.domain import PsiDomain
from fedscore.vertical.psi.protocol import PsiParty
from fedscore.vertical.roles import Role

NAMES = {Role.LABEL_HOLDER: "bank", Role.FEATURE_HOLDER: "facilitator"}
REGIONS = ("110105", "310104", "440305", "510107", "330106", "420111", "610113", "210102")
DOMAIN = PsiDomain("bench-run", "joint_risk_control:bank:facilitator")
_EPOCH = date(1950, 1, 1)


def resident_id(index: int) -> str:
    """A valid resident ID, distinct for each index (birth date and sequence from it)."""
    born = _EPOCH + timedelta(days=index // 1000)
    first17 = f"{REGIONS[(index * 7919) % len(REGIONS)]}{born:%Y%m%d}{index % 1000:03d}"
    return first17 + resident_id_check_char(first17)


def _party(role: Role, first: int, count: int, folder: str, workers: int, conn) -> None:
    """One party's whole run; `conn` is its link to the relay."""
    indices = list(range(first, first + count))
    random.Random(first).shuffle(indices)  # a table's rows are in no particular order
    ids = [resident_id(i) for i in indices]
    base = Path(folder) / role.value
    own, peer = NAMES[role], NAMES[next(r for r in Role if r is not role)]
    signer = SigningKey.create(base / "ledger.pem")
    conn.send(signer.public_hex)
    public_keys = {name: public_key_from_hex(text) for name, text in conn.recv().items()}
    channel_path, state_path = base / "channel.state", base / "psi.state"
    conn.send(Channel.create(channel_path, DOMAIN.run_id, own, peer, signer).offer)
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        """Wall and CPU seconds of one stage, from its message received to its reply sent."""
        started, cpu_started = time.perf_counter(), time.process_time()
        yield
        timings[name] = time.perf_counter() - started
        cpu[name] = time.process_time() - cpu_started

    peer_offer = conn.recv()
    with stage("stage1"):
        Channel.load(channel_path).accept(peer_offer, public_keys)
        party, blinded = PsiParty.start(role, DOMAIN, ids, workers=workers)
        party.save(state_path)
        conn.send(Channel.load(channel_path).seal("psi/set", blinded))
    peer_set = conn.recv()
    with stage("stage2"):
        channel, party = Channel.load(channel_path), PsiParty.load(state_path)
        answer = party.answer(channel.open("psi/set", peer_set), workers)
        party.save(state_path)
        conn.send(channel.seal("psi/answer", answer) if answer is not None else b"")
    peer_answer = conn.recv()
    with stage("finish"):
        channel, party = Channel.load(channel_path), PsiParty.load(state_path)
        result = party.finish(channel.open("psi/answer", peer_answer), workers)
        channel.close()
        state_path.unlink()
    matched = sorted(zip((indices[row] for row in result.rows), result.join_keys, strict=True))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    conn.send(
        {
            "seconds": timings,
            "cpu_seconds": cpu,
            "peak_rss_mib": round(peak, 1),
            "indices": [index for index, _ in matched],
            "join_keys": b"".join(key for _, key in matched),
            "commitment": result.commitment.hex(),
            "duplicates": result.duplicates,
        }
    )


def measure_psi(n_each: int, overlap: float, workers: int = 1) -> dict[str, Any]:
    """Run the PSI of two parties of `n_each` customers, `overlap` of them shared.

    Args:
        n_each: customers each party holds.
        overlap: the share of each party's customers the other holds too (0 to 1).
        workers: threads each party spreads its group operations over (1: one core
            each, as on the 2-core reference machine).

    Returns:
        Wall seconds per stage and in total, each party's seconds and peak RSS, the
        bytes relayed, and whether the intersection and join keys were right.
    """
    shared = round(n_each * overlap)
    context = mp.get_context("spawn")
    links, processes = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for role, first in ((Role.LABEL_HOLDER, 0), (Role.FEATURE_HOLDER, n_each - shared)):
            mine, theirs = context.Pipe()
            args = (role, first, n_each, folder, workers, theirs)
            processes[role] = context.Process(target=_party, args=args, name=NAMES[role])
            processes[role].start()
            links[role] = mine
        a, b = links[Role.LABEL_HOLDER], links[Role.FEATURE_HOLDER]
        keys = {NAMES[role]: link.recv() for role, link in links.items()}
        for link in (a, b):
            link.send(keys)
        offers = (a.recv(), b.recv())
        relayed: dict[str, int] = {"offers": sum(map(len, offers))}
        start = time.perf_counter()
        b.send(offers[0])
        a.send(offers[1])
        walls: dict[str, float] = {}
        for stage in ("stage1", "stage2"):
            from_a, from_b = a.recv(), b.recv()
            walls[stage] = time.perf_counter() - start - sum(walls.values())
            relayed[stage] = len(from_a) + len(from_b)
            b.send(from_a)
            a.send(from_b)
        reports = {NAMES[Role.LABEL_HOLDER]: a.recv(), NAMES[Role.FEATURE_HOLDER]: b.recv()}
        total = time.perf_counter() - start
        walls["finish"] = total - sum(walls.values())
        for process in processes.values():
            process.join(timeout=60)
    bank, facilitator = reports["bank"], reports["facilitator"]
    expected = list(range(n_each - shared, n_each))
    correct = (
        bank["indices"] == facilitator["indices"] == expected
        and bank["join_keys"] == facilitator["join_keys"]
        and bank["commitment"] == facilitator["commitment"]
    )
    return {
        "n_each": n_each,
        "overlap": overlap,
        "workers": workers,
        "intersection": shared,
        "correct": correct,
        "wall_seconds": {k: round(v, 2) for k, v in walls.items()} | {"total": round(total, 2)},
        "party_seconds": {
            name: {k: round(v, 2) for k, v in report["seconds"].items()}
            for name, report in reports.items()
        },
        "party_cpu_seconds": {
            name: {k: round(v, 2) for k, v in report["cpu_seconds"].items()}
            | {"total": round(sum(report["cpu_seconds"].values()), 2)}
            for name, report in reports.items()
        },
        "peak_rss_mib": {name: report["peak_rss_mib"] for name, report in reports.items()},
        "relayed_bytes": relayed,
    }


def measure_group(count: int = 20_000) -> dict[str, float]:
    """Microseconds per element of the group operations, on one core."""
    ids = [resident_id(i) for i in range(count)]
    scalar = group.new_secret_scalar()
    started = time.perf_counter()
    points = group.hash_to_group(DOMAIN.to_bytes(), ids)
    hashed = time.perf_counter()
    group.blind(points, scalar, "bench")
    blinded = time.perf_counter()
    group.validate_points(points, "bench")
    validated = time.perf_counter()
    per = 1e6 / count
    return {
        "hash_to_group_us": round((hashed - started) * per, 1),
        "scalarmult_us": round((blinded - hashed) * per, 1),
        "validate_us": round((validated - blinded) * per, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="customers per party")
    parser.add_argument("--overlap", type=float, default=0.5, help="share held by both")
    parser.add_argument("--workers", type=int, default=1, help="threads per party")
    args = parser.parse_args()
    load_before = os.getloadavg()
    per_element = measure_group()
    run = measure_psi(args.n, args.overlap, args.workers)
    machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
    machine |= {"load_before": load_before, "load_after": os.getloadavg()}
    print(json.dumps({"per_element": per_element, "psi": run, "machine": machine}, indent=2))


if __name__ == "__main__":
    main()
