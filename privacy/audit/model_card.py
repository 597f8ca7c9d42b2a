"""The model card of an audited run: from its summary.json and its verified ledger heads."""

from __future__ import annotations

from typing import Any

from fedscore.privacy.audit.run_evidence import RunEvidence


def model_card(run: RunEvidence) -> dict[str, Any]:
    """What a run trained, how well the model scores, and what it cost each party.

    Args:
        run: the verified run directory.

    Returns:
        The card as the audit document holds it.
    """
    summary = run.summary
    return {
        "run_id": run.run_id,
        "path": str(run.path),
        "task": summary.get("task"),
        "task_version": summary.get("task_version"),
        "model": summary.get("model"),
        "strategy": summary.get("strategy"),
        "secure_aggregation": bool(summary.get("secure_aggregation", False)),
        "rounds": summary.get("rounds"),
        "private": summary.get("private"),
        "target_epsilon": summary.get("target_epsilon"),
        "consortium_test": summary.get("consortium_test", {}),
        "parties": {
            party: {
                "epsilon_rdp": info.get("epsilon_rdp"),
                "epsilon_prv": info.get("epsilon_prv"),
                "rounds_trained": info.get("rounds_trained"),
                "refused_rounds": info.get("refused_rounds", []),
                "local_auc": (info.get("federated_eval") or {}).get("auc"),
                "signed_heads": len(run.heads.get(party, [])),
                "verified_heads": run.verified_heads.get(party, 0),
            }
            for party, info in sorted(summary.get("parties", {}).items())
        },
    }
