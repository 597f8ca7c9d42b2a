"""Each party's data versions and privacy spend on a model card, from signed evidence only.

summary.json is the server's account of a run, and nothing stops anyone editing it; the
ledger heads in ledger_heads.json are the entries each node signed for every round it
was asked to train. A card takes each party's data versions, ε (RDP and PRV) and δ only
from heads that verify with the party's key from the consortium's key list and belong
to this run, and registration refuses a run whose summary.json says otherwise, naming
the party and the figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fedscore.privacy.ledger import load_public_keys
from fedscore.privacy.ledger.verify import signed_head_content, verify_signed_head
from fedscore.scoring.registry.card import PartyCard, read_run_file
from fedscore.scoring.registry.errors import RegistryError

LEDGER_HEADS = "ledger_heads.json"
SUMMARY = "summary.json"
#: The per-party figures of summary.json that the signed heads must confirm.
CHECKED_FIGURES = ("epsilon", "epsilon_rdp", "epsilon_prv", "delta", "accountant")


@dataclass(frozen=True)
class SignedSpend:
    """What one party's verified ledger heads of a run record.

    Attributes:
        party: the party.
        data_versions: SHA-256 of the raw tables its rounds ran on.
        trained_rounds: rounds its ledger records as trained (including any whose update
            the server then rejected: the party spent them).
        accountant: the run's budget accountant, as the party recorded it.
        epsilon: its cumulative ε by that accountant ("inf" if non-private).
        epsilon_rdp, epsilon_prv: both accountants' ε; None where no signed entry gives
            it (a party that refused every round records only its accountant's spend).
        delta: its δ.
        seq: the ledger entry the ε figures come from (as the run directory numbers it):
            its last trained round of the run, else its last entry of the run.
    """

    party: str
    data_versions: tuple[str, ...]
    trained_rounds: int
    accountant: str
    epsilon: float | str | None
    epsilon_rdp: float | str | None
    epsilon_prv: float | str | None
    delta: float
    seq: Any

    def card(self, rounds_trained: int) -> PartyCard:
        """The party's line on the model card, with the rounds the server aggregated."""
        return PartyCard(
            name=self.party,
            data_versions=self.data_versions,
            rounds_trained=rounds_trained,
            epsilon=self.epsilon,
            epsilon_rdp=self.epsilon_rdp,
            epsilon_prv=self.epsilon_prv,
            delta=self.delta,
        )


def signed_party_cards(
    run_dir: Path, key_list: Path, named: Path | None = None
) -> tuple[PartyCard, ...]:
    """The model card's parties of a run, from its signed ledger heads.

    Args:
        run_dir: the finished run directory (summary.json, ledger_heads.json).
        key_list: the consortium's key list (TOML, `[ledger_keys]` party = hex).
        named: the run directory as errors name it, when `run_dir` is a copy of it
            (default: `run_dir`).

    Raises:
        ConfigError: the key list or summary.json cannot be read.
        RegistryError: no ledger heads, a head that does not verify or is not this
            run's, or summary.json disagreeing with the heads.
    """
    keys = load_public_keys(key_list)
    named = named or run_dir
    summary = read_run_file(run_dir / SUMMARY)
    if not (run_dir / LEDGER_HEADS).is_file():
        raise RegistryError(
            f"{named}: no {LEDGER_HEADS}, so no party's privacy spend can be verified; "
            "only runs whose nodes signed ledger entries can be registered"
        )
    heads = read_run_file(run_dir / LEDGER_HEADS)
    spends = {
        party: _verified_spend(party, party_heads, keys, key_list, named / LEDGER_HEADS, summary)
        for party, party_heads in sorted(heads.items())
        if party_heads
    }
    claimed = summary.get("parties")
    if not isinstance(claimed, dict):
        raise RegistryError(f"{named / SUMMARY}: no parties")
    problems = _disagreements(claimed, spends)
    if problems:
        raise RegistryError(
            f"{named / SUMMARY} disagrees with the run's signed ledger entries "
            f"({LEDGER_HEADS}): " + "; ".join(problems)
        )
    return tuple(
        spend.card(claimed[party].get("rounds_trained", 0)) for party, spend in spends.items()
    )


def _verified_spend(
    party: str,
    heads: Any,
    keys: Mapping[str, Ed25519PublicKey],
    key_list: Path,
    heads_file: Path,
    summary: dict[str, Any],
) -> SignedSpend:
    """One party's figures from its heads, each verified and checked to be this run's."""
    if party not in keys:
        raise RegistryError(
            f"{key_list}: no ledger key for party '{party}', so its signed entries in "
            f"{heads_file} cannot be verified"
        )
    if not isinstance(heads, list) or not all(isinstance(head, dict) for head in heads):
        raise RegistryError(f"{heads_file}: {party}: not a list of signed ledger entries")
    entries: list[tuple[Any, dict[str, Any]]] = []
    for head in heads:
        where = f"{heads_file}: {party} ledger entry #{head.get('seq')}"
        content = _verified_content(head, keys[party], where)
        for field in ("party", "run_id", "task"):
            expected = party if field == "party" else summary.get(field)
            if content.get(field) != expected:
                raise RegistryError(f"{where}: its {field} is not this run's ({expected})")
        entries.append((head.get("seq"), content))
    # In the order the node signed them: a head's "seq" is outside what the node signed.
    entries.sort(key=lambda entry: _signed_order(entry[1]))
    last = entries[-1][1]
    trained = [entry for entry in entries if entry[1].get("status") == "trained"]
    accountant = str(last.get("accountant", "rdp"))
    if trained:
        seq, spent_in = trained[-1]
        rdp = _card_figure(spent_in.get("epsilon_rdp"))
        prv = _card_figure(spent_in.get("epsilon_prv"))
    else:  # refused every round: its entries record only its accountant's spend
        seq = entries[-1][0]
        spent = _card_figure(last.get("epsilon_spent"))
        rdp, prv = (None, spent) if accountant == "prv" else (spent, None)
    try:
        versions = tuple(sorted({str(content["data_version"]) for _, content in entries}))
        delta = float(last["delta"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RegistryError(
            f"{heads_file}: {party}'s signed ledger entries name no data version or δ ({exc})"
        ) from None
    return SignedSpend(
        party=party,
        data_versions=versions,
        trained_rounds=len(trained),
        accountant=accountant,
        epsilon=prv if accountant == "prv" else rdp,
        epsilon_rdp=rdp,
        epsilon_prv=prv,
        delta=delta,
        seq=seq,
    )


def _verified_content(head: dict[str, Any], key: Ed25519PublicKey, where: str) -> dict[str, Any]:
    """The content of a head that verifies with `key`, as its node signed it.

    Raises:
        RegistryError: it does not verify.
    """
    problem = verify_signed_head(head, key)
    if problem:
        raise RegistryError(f"{where}: {problem}")
    return signed_head_content(head)


def _signed_order(content: dict[str, Any]) -> tuple[float, float, str]:
    """Where an entry of one run stands among the party's others: round, then attempt."""
    server_round, attempt = _number(content.get("server_round")), _number(content.get("attempt", 1))
    if not isinstance(server_round, float) or not isinstance(attempt, float):
        raise RegistryError(f"{content.get('party')}: a signed ledger entry names no round")
    return server_round, attempt, str(content.get("created_at", ""))


def _disagreements(claimed: dict[str, Any], spends: dict[str, SignedSpend]) -> list[str]:
    """Where summary.json's parties differ from what they signed."""
    problems = [
        f"{party} signed ledger entries of this run, but summary.json does not list it"
        for party in spends
        if party not in claimed
    ]
    for party, info in sorted(claimed.items()):
        rounds = info.get("rounds_trained", 0) if isinstance(info, dict) else None
        spend = spends.get(party)
        if not isinstance(rounds, int) or isinstance(rounds, bool):
            problems.append(f"{party}'s rounds_trained is not a number of rounds")
        elif spend is None:
            if rounds:
                problems.append(
                    f"{party}'s rounds_trained is {rounds}, but it signed no ledger entry of "
                    "this run"
                )
        elif rounds > spend.trained_rounds:
            problems.append(
                f"{party}'s rounds_trained is {rounds}, but its signed ledger entries record "
                f"{spend.trained_rounds} trained round(s)"
            )
        if spend is None or not isinstance(info, dict):
            continue
        for figure in CHECKED_FIGURES:
            signed = getattr(spend, figure)
            if signed is not None and not _same(info.get(figure), signed):
                problems.append(
                    f"{party}'s {figure} is {info.get(figure)} in summary.json, but {signed} "
                    f"in its signed ledger entry #{spend.seq}"
                )
    return problems


def _card_figure(value: Any) -> float | str | None:
    """A figure as the card holds it: a number, "inf", or None (not recorded)."""
    number = _number(value)
    if number is None or isinstance(number, str):
        return number
    return "inf" if math.isinf(number) else number


def _number(value: Any) -> float | str | None:
    """A figure as a float ("inf" and infinities alike); other strings unchanged."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return float(value)
    if value in ("inf", "-inf"):
        return float(value)
    return None if value is None else str(value)


def _same(claimed: Any, signed: float | str) -> bool:
    a, b = _number(claimed), _number(signed)
    if isinstance(a, float) and isinstance(b, float) and not (math.isinf(a) or math.isinf(b)):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)
    return a == b
