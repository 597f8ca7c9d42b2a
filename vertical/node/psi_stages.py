"""The stages up to the intersection: admission, the channel, the PSI, and CLOSE.

ADMIT verifies the signed terms against the node's config and policy, reads the table
(consent evaluated today, recorded for the rest of the run) and offers a channel key.
PSI_START opens the channel with the peer's offer (checked against the consortium's key
list) and sends the blinded set of the consented customers; PSI_ANSWER blinds the peer's
set; PSI_FINISH intersects, keeps the shared rows ordered by join key, picks the held-out
test customers by join key (the same ones at both parties) and writes the ledger entry of
the disclosure before replying. Nothing here sends an identifier, a pseudonym or H(id).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import numpy as np

from fedscore.core.errors import ConfigError
from fedscore.core.run_request import SignedRunRequest
from fedscore.core.signing import SigningKey
from fedscore.privacy.ledger import load_public_keys
from fedscore.vertical.channel import Channel
from fedscore.vertical.journal import VerticalJournal
from fedscore.vertical.messages import Outcome, Stage, StageReply, StageRequest
from fedscore.vertical.node.run_folder import Admission, RunFolder
from fedscore.vertical.node_config import VerticalNodeConfig
from fedscore.vertical.party_table import PartyTable, load_party_table
from fedscore.vertical.psi.domain import PsiDomain
from fedscore.vertical.psi.group import POINT_BYTES
from fedscore.vertical.psi.protocol import PsiParty
from fedscore.vertical.request import VerticalTerms, admit

PROTOCOL = "ecdh-psi/ristretto255/sha512"
INTERSECTION = "intersection.npz"


def journal_of(config: VerticalNodeConfig) -> VerticalJournal:
    """The node's vertical journal, signing with its ledger key."""
    return VerticalJournal(config.journal_path, SigningKey.load(config.ledger_key), config.party)


def table_of(config: VerticalNodeConfig, folder: RunFolder) -> PartyTable:
    """The party's usable rows as admitted (consent on the admission date).

    Raises:
        ConfigError: the table changed since the run was admitted.
    """
    admission = folder.admission()
    table = load_party_table(config, admission.as_of)
    if table.data_version != admission.data_version:
        raise ConfigError(
            f"{config.table}: the table changed since run {folder.run_id} was admitted; "
            "start a new run"
        )
    return table


def admit_run(config: VerticalNodeConfig, request: StageRequest) -> StageReply:
    """ADMIT: take part (reply: the signed channel offer) or decline, with every reason."""
    try:
        signed = SignedRunRequest.decode(request.request)
        if signed.request.run_id != request.run_id:
            raise ConfigError("the run request names another run than the message")
        terms = admit(config, signed)
    except ConfigError as error:
        return StageReply(config.party, Outcome.DECLINED, str(error))
    folder = RunFolder(config, request.run_id)
    if folder.admitted:
        if folder.admission().request_sha256 != signed.sha256:
            return StageReply(
                config.party, Outcome.DECLINED, f"run {request.run_id} exists with other terms"
            )
        channel = Channel.load(folder.file("channel.state"))
        return StageReply(config.party, Outcome.DONE, sealed=channel.offer)
    as_of = datetime.now(UTC).date()
    table = load_party_table(config, as_of)
    folder.save_admission(signed, Admission(as_of, table.data_version, signed.sha256))
    channel = Channel.create(
        folder.file("channel.state"),
        request.run_id,
        config.party,
        config.peer,
        SigningKey.load(config.ledger_key),
    )
    facts: dict[str, int | float | str] = {"role": config.role.value, "reveal": terms.reveal.value}
    return StageReply(config.party, Outcome.DONE, sealed=channel.offer, facts=facts)


def psi_start(config: VerticalNodeConfig, request: StageRequest) -> StageReply:
    """PSI_START: accept the peer's offer, send the blinded set of consented customers."""
    folder = RunFolder(config, request.run_id)
    terms = folder.terms()
    channel = Channel.load(folder.file("channel.state"))
    channel.accept(request.sealed, load_public_keys(config.consortium_keys))
    table = table_of(config, folder)
    party, blinded = PsiParty.start(
        config.role, _domain(folder, terms), table.identifiers, reveal=terms.reveal
    )
    party.save(folder.file("psi.state"))
    return StageReply(config.party, Outcome.DONE, sealed=channel.seal(Stage.PSI_START, blinded))


def psi_answer(config: VerticalNodeConfig, request: StageRequest) -> StageReply:
    """PSI_ANSWER: blind the peer's set (the label holder keeps it under 'label_holder')."""
    folder = RunFolder(config, request.run_id)
    channel = Channel.load(folder.file("channel.state"))
    party = PsiParty.load(folder.file("psi.state"))
    peer_set = channel.open(Stage.PSI_START, request.sealed)
    if len(peer_set) // POINT_BYTES < config.min_peer_set:
        raise ConfigError(
            f"{config.party} answers no set under {config.min_peer_set} customers (min_peer_set): "
            f"{config.peer} sent {len(peer_set) // POINT_BYTES}"
        )
    answer = party.answer(peer_set)
    party.save(folder.file("psi.state"))
    sealed = b"" if answer is None else channel.seal(Stage.PSI_ANSWER, answer)
    facts: dict[str, int | float | str] = {"peer_set_size": party.peer_size or 0}
    return StageReply(config.party, Outcome.DONE, sealed=sealed, facts=facts)


def psi_finish(config: VerticalNodeConfig, request: StageRequest) -> StageReply:
    """PSI_FINISH: the intersection, its ledger entry, the shared rows by join key."""
    folder = RunFolder(config, request.run_id)
    terms = folder.terms()
    party = PsiParty.load(folder.file("psi.state"))
    table = table_of(config, folder)
    consent = table.consent.as_dict()
    facts: dict[str, int | float | str] = {
        "own_set_size": party.own_size,
        "peer_set_size": party.peer_size or 0,
    }
    ledgered = {
        "peer": config.peer,
        "role": config.role.value,
        "protocol": PROTOCOL,
        "reveal": terms.reveal.value,
        "purpose": config.purpose,
        "consent_as_of": str(consent.get("as_of", "")),
        "consent_valid": int(table.consent.valid),
        "consent_excluded": int(table.consent.excluded),
        "data_version": table.data_version,
        "request_sha256": folder.admission().request_sha256,
        **facts,
    }
    if not party.learns_intersection:
        journal_of(config).record_psi(request.run_id, learned_intersection=False, **ledgered)
        return StageReply(config.party, Outcome.DONE, facts=facts)
    channel = Channel.load(folder.file("channel.state"))
    result = party.finish(channel.open(Stage.PSI_ANSWER, request.sealed))
    keys = np.frombuffer(b"".join(result.join_keys), np.uint8).reshape(-1, 32)
    order = np.lexsort(keys.T[::-1]) if len(keys) else np.arange(0)
    rows = np.asarray(result.rows, dtype=np.int64)[order]
    keys = keys[order]
    held_out = np.array([_held_out(bytes(key), terms.test_share) for key in keys], dtype=bool)
    folder.save_arrays(INTERSECTION, {"rows": rows, "join_keys": keys, "test": held_out})
    facts |= {"intersection_size": result.intersection_size, "commitment": result.commitment.hex()}
    journal_of(config).record_psi(
        request.run_id,
        learned_intersection=True,
        intersection_size=result.intersection_size,
        commitment=result.commitment.hex(),
        duplicates_dropped=result.duplicates,
        **ledgered,
    )
    return StageReply(config.party, Outcome.DONE, facts=facts)


def close_run(config: VerticalNodeConfig, request: StageRequest) -> StageReply:
    """CLOSE: erase the channel key and the PSI scalar; the model and join keys stay."""
    folder = RunFolder(config, request.run_id)
    folder.admission()
    folder.erase_secrets()
    return StageReply(config.party, Outcome.DONE)


def _domain(folder: RunFolder, terms: VerticalTerms) -> PsiDomain:
    return PsiDomain(folder.run_id, f"{terms.purpose}:{terms.label_holder}:{terms.feature_holder}")


def _held_out(join_key: bytes, share: float) -> bool:
    """Whether a shared customer is in the test share (the same answer at both parties)."""
    draw = int.from_bytes(
        hashlib.sha256(b"fedscore-vertical-test\x00" + join_key).digest()[:8], "big"
    )
    return draw < share * 2**64
