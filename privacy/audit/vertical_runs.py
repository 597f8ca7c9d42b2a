"""The vertical runs' part of the consortium audit: each vertical party's ledger, verified.

A bank and a loan facilitator that model their shared customers keep a vertical journal
of their own (`vertical.sqlite`): the intersection, the label release, each side's DP-SGD,
the values disclosed without DP, the partial scores served. The consortium audit verifies
each against the key list and checks that both parties recorded the same intersection
(`fedscore.vertical.audit`); a ledger that does not verify, or an intersection the
parties disagree on, is a failure of the whole audit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fedscore.core.errors import FedscoreError

if TYPE_CHECKING:
    from fedscore.vertical.audit import PartyAudit


@dataclass(frozen=True)
class VerticalFinding:
    """A vertical finding, as the consortium audit lists findings.

    Attributes:
        subject: the party or run it is about.
        message: what is wrong.
    """

    subject: str
    message: str
    severity: str = "failure"
    check: str = "vertical ledger"


def audit_vertical_parties(
    configs: Sequence[Path], key_list: Path | None
) -> tuple[tuple[PartyAudit, ...], list[VerticalFinding]]:
    """Verify the vertical ledger of every party whose `vertical.toml` is in `configs`.

    Args:
        configs: the vertical parties' configs.
        key_list: the consortium's ledger key list (None: none given; vertical ledgers are
            then not verified, which is a finding).

    Returns:
        Each party's audit, and the findings (empty when everything verified and agrees).
    """
    if not configs:
        return (), []
    from fedscore.vertical.audit import audit_party, cross_check
    from fedscore.vertical.node_config import VerticalNodeConfig

    if key_list is None:
        message = "vertical ledgers are verified only against a key list: give --keys"
        return (), [VerticalFinding("vertical", message)]
    audits: list[PartyAudit] = []
    findings: list[VerticalFinding] = []
    for path in configs:
        try:
            audits.append(audit_party(VerticalNodeConfig.from_toml(path), key_list))
        except FedscoreError as error:
            findings.append(VerticalFinding(str(path), str(error)))
    findings += [
        VerticalFinding(a.party, f"vertical ledger does not verify: {a.problem}")
        for a in audits
        if not a.verified
    ]
    findings += [VerticalFinding("vertical runs", f) for f in cross_check(audits)]
    return tuple(audits), findings


def vertical_document(audits: Sequence[PartyAudit]) -> dict[str, Any]:
    """The audit document's "vertical" part: every party's verification and runs."""
    from fedscore.vertical.audit import document_of

    parties: dict[str, Any] = document_of(list(audits))["parties"]
    return parties
