"""What the trust boundary adds to a deployed round, measured on a running consortium.

Per message, a node's task runner recomputes the app bundle's SHA-256 and checks it
(`check_app`), and the ClientApp admits the run (`admit`: the owner's signature, the
node's policy, its accepted-runs table in SQLite). Per Fleet request, the gateway adds
one hop on loopback. `deployment.py` calls `measure` while its consortium runs, on that
consortium's own files; the cost per round is

    messages per round per node × (app check + admission)
    + Fleet requests per round per node × (gateway − direct) latency,

with the requests counted in the gateway's own log during the measured run.
"""

from __future__ import annotations

import hashlib
import re
import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from flwr.app import ConfigRecord
from support.timing import median_seconds

from fedscore.clients.admission import admit
from fedscore.clients.node import NodeConfig
from fedscore.core import protocol
from fedscore.core.run_request import RUN_REQUEST_KEY, SignedRunRequest
from fedscore.core.schema import load_schema
from fedscore.deployment.app_approval import check_app

#: Messages a node handles per round: one training request (it also evaluates the
#: previous round's model); under SecAgg+ the training request comes in four stages.
MESSAGES_PER_ROUND = {"plain": 1, "secagg": 4}
TARGET_SECONDS_PER_ROUND = 0.5
_FORWARDED = re.compile(r"^(\S+ \S+) \S+ \S+: forwarded ")


def _median_ms(action: Callable[[], object], repeats: int) -> float:
    """The median duration of `action` over `repeats` calls, in milliseconds."""
    return 1000 * median_seconds(action, repeats)


def _latency_ms(url: str, ca: Path, repeats: int) -> float:
    """Median time of an (unauthenticated, so refused by Flower) Fleet call on keep-alive."""
    context = ssl.create_default_context(cafile=str(ca))
    with httpx.Client(verify=context, trust_env=False) as client:
        for _ in range(20):  # warm-up: connection, TLS session
            client.post(url, content=b"")
        return _median_ms(lambda: client.post(url, content=b""), repeats)


def forwarded_requests(gateway_log: Path, start: datetime, end: datetime) -> int:
    """Fleet requests the gateway forwarded between `start` and `end` (its debug log)."""
    count = 0
    for line in gateway_log.read_text(errors="replace").splitlines():
        found = _FORWARDED.match(line)
        if not found:
            continue
        stamp = datetime.strptime(found.group(1), "%Y-%m-%d %H:%M:%S,%f").astimezone(UTC)
        count += start <= stamp <= end
    return count


def measure(
    node_config: Path,
    release: Path,
    run_dir: Path,
    gateway_port: int,
    internal_port: int,
    ca: Path,
    requests_per_round_per_node: float,
    repeats: int = 200,
) -> dict[str, Any]:
    """Each check's median cost and the resulting cost per round (plain and SecAgg+).

    Args:
        node_config: one institution's node config (its policy, trust and state).
        release: the approved app bundle the runs used.
        run_dir: a finished run of that consortium (its signed request is re-admitted).
        gateway_port, internal_port: the coordinator's public and loopback ports.
        ca: the consortium CA certificate.
        requests_per_round_per_node: Fleet requests per round per node, counted in the
            gateway's log during the measured run.
        repeats: repetitions of each timed operation.
    """
    node = NodeConfig.from_toml(node_config)
    fab = release.read_bytes()
    sha256 = hashlib.sha256(fab).hexdigest()
    signed_text = (run_dir / "run_request.json").read_text(encoding="utf-8").strip()
    signed = SignedRunRequest.decode(signed_text)
    run_config = {RUN_REQUEST_KEY: signed_text}
    schema = load_schema(node.task_path)
    run = signed.request.run_config()
    round_config = ConfigRecord(
        {
            **run.to_flower(),
            protocol.RUN_ID: signed.request.run_id,
            protocol.SERVER_ROUND: 1,
            protocol.SCHEMA_SHA256: schema.sha256,
            protocol.TASK: schema.name,
            RUN_REQUEST_KEY: signed_text,
        }
    )
    app_check = _median_ms(lambda: check_app(node.trust, fab, sha256, run_config), repeats)
    request = protocol.RoundRequest.from_record(round_config)
    admission = _median_ms(lambda: admit(node, schema, request, sha256), repeats)
    through_gateway = _latency_ms(f"https://127.0.0.1:{gateway_port}/v1/fleet/get-run", ca, repeats)
    direct = _latency_ms(f"https://127.0.0.1:{internal_port}/v1/fleet/get-run", ca, repeats)
    hop = max(0.0, through_gateway - direct)
    per_round = {
        mode: (messages * (app_check + admission) + requests_per_round_per_node * hop) / 1000
        for mode, messages in MESSAGES_PER_ROUND.items()
    }
    return {
        "app_check_ms": app_check,
        "admission_ms": admission,
        "fab_bytes": len(fab),
        "fleet_call_through_gateway_ms": through_gateway,
        "fleet_call_direct_ms": direct,
        "gateway_hop_ms": hop,
        "fleet_requests_per_round_per_node": requests_per_round_per_node,
        "messages_per_round_per_node": MESSAGES_PER_ROUND,
        "seconds_per_round": per_round,
        "target_seconds_per_round": TARGET_SECONDS_PER_ROUND,
        "met": all(cost < TARGET_SECONDS_PER_ROUND for cost in per_round.values()),
        "repeats": repeats,
    }


def markdown(result: dict[str, Any]) -> str:
    """The trust boundary's section of deployment.md."""
    per_round = result["seconds_per_round"]
    verdict = "met" if result["met"] else "NOT met"
    return "\n".join(
        [
            "## What the trust boundary costs",
            "",
            "| check | where | median |",
            "|:---|:---|---:|",
            f"| app bundle SHA-256 + approval ({result['fab_bytes'] / 1024:.0f} KiB) | "
            f"task runner, per message | {result['app_check_ms']:.2f} ms |",
            "| run admission (signature, policy, accepted-runs table) | ClientApp, per message | "
            f"{result['admission_ms']:.2f} ms |",
            "| Fleet call through the gateway vs direct | per Fleet request | "
            f"{result['fleet_call_through_gateway_ms']:.2f} vs "
            f"{result['fleet_call_direct_ms']:.2f} ms (+{result['gateway_hop_ms']:.2f}) |",
            "",
            f"Per round and node: {result['messages_per_round_per_node']['plain']} messages "
            f"({result['messages_per_round_per_node']['secagg']} with SecAgg+) and "
            f"{result['fleet_requests_per_round_per_node']:.0f} Fleet requests (counted in the "
            f"gateway's log during the plain run): **{per_round['plain']:.3f} s** per plain "
            f"round, **{per_round['secagg']:.3f} s** per SecAgg+ round "
            f"(target < {result['target_seconds_per_round']} s: **{verdict}**). Medians of "
            f"{result['repeats']} repetitions each, in the same run.",
        ]
    )
