"""A hostile coordinator relays the vertical protocol: it cannot read, alter or swap.

The relay here is in-process (the nodes' real handler, no Flower in between), so each
attack is exact: a flipped bit, a replayed message, the relay's own key in place of the
peer's offer. Each makes the receiving node fail the stage with a reason, and no ledger
entry is written for an intersection that did not happen.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest
from vertical_support import ask

from fedscore.core.signing import SigningKey
from fedscore.demo.vertical_consortium import VerticalConsortium, prepare_vertical_consortium
from fedscore.vertical.channel import Channel
from fedscore.vertical.messages import Outcome, Stage, StageReply, StageRequest
from fedscore.vertical.node.run_folder import RunFolder, erase_expired_secrets
from fedscore.vertical.node_config import VerticalNodeConfig

BANK, FACILITATOR = "bank", "loan_facilitator"


@pytest.fixture()
def pair(tmp_path) -> VerticalConsortium:
    return prepare_vertical_consortium(tmp_path / "pair", size=200)


def _started(pair: VerticalConsortium, run: str) -> dict[str, StageReply]:
    """Both parties admitted and their blinded sets sealed, as an honest relay gets them."""
    signed = pair.signed_run(run, {"epochs": 2})
    paths = {BANK: pair.bank, FACILITATOR: pair.facilitator}
    offers = {
        p: ask(c, StageRequest(Stage.ADMIT, run, request=signed.encode())) for p, c in paths.items()
    }
    assert all(o.outcome is Outcome.DONE for o in offers.values())
    return {
        BANK: ask(pair.bank, StageRequest(Stage.PSI_START, run, sealed=offers[FACILITATOR].sealed)),
        FACILITATOR: ask(
            pair.facilitator, StageRequest(Stage.PSI_START, run, sealed=offers[BANK].sealed)
        ),
    }


def _ledger_size(config_path: Path) -> int:
    path = VerticalNodeConfig.from_toml(config_path).journal_path
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT COUNT(*) FROM ledger").fetchone()[0])


def test_a_flipped_bit_in_a_sealed_set_is_refused(pair):
    sets = _started(pair, "attack-bitflip")
    blob = bytearray(sets[FACILITATOR].sealed)
    blob[len(blob) // 2] ^= 0x01
    reply = ask(pair.bank, StageRequest(Stage.PSI_ANSWER, "attack-bitflip", sealed=bytes(blob)))
    assert reply.outcome is Outcome.FAILED and reply.sealed == b""
    assert _ledger_size(pair.bank) == 0


def test_a_replayed_message_is_refused(pair):
    sets = _started(pair, "attack-replay")
    first = ask(
        pair.bank, StageRequest(Stage.PSI_ANSWER, "attack-replay", sealed=sets[FACILITATOR].sealed)
    )
    assert first.outcome is Outcome.DONE
    again = ask(
        pair.bank, StageRequest(Stage.PSI_ANSWER, "attack-replay", sealed=sets[FACILITATOR].sealed)
    )
    assert again.outcome is Outcome.FAILED


def test_the_relays_own_key_in_place_of_the_peers_offer_is_refused(pair, tmp_path):
    run = "attack-mitm"
    signed = pair.signed_run(run, {"epochs": 2})
    ask(pair.bank, StageRequest(Stage.ADMIT, run, request=signed.encode()))
    # The relay makes an offer in the facilitator's name with a key of its own.
    relay_key = SigningKey.load_or_create(tmp_path / "relay.pem")
    forged = Channel.create(tmp_path / "relay.channel", run, FACILITATOR, BANK, relay_key).offer
    reply = ask(pair.bank, StageRequest(Stage.PSI_START, run, sealed=forged))
    assert reply.outcome is Outcome.FAILED and reply.sealed == b""
    # The facilitator's genuine offer of another run is refused too.
    other = pair.signed_run("attack-other", {"epochs": 2})
    genuine = ask(
        pair.facilitator, StageRequest(Stage.ADMIT, "attack-other", request=other.encode())
    )
    reply = ask(pair.bank, StageRequest(Stage.PSI_START, run, sealed=genuine.sealed))
    assert reply.outcome is Outcome.FAILED
    assert _ledger_size(pair.bank) == 0


def test_an_honest_in_process_relay_completes_the_intersection(pair):
    run = "honest-relay"
    sets = _started(pair, run)
    answers = {
        BANK: ask(pair.bank, StageRequest(Stage.PSI_ANSWER, run, sealed=sets[FACILITATOR].sealed)),
        FACILITATOR: ask(
            pair.facilitator, StageRequest(Stage.PSI_ANSWER, run, sealed=sets[BANK].sealed)
        ),
    }
    done = {
        BANK: ask(
            pair.bank, StageRequest(Stage.PSI_FINISH, run, sealed=answers[FACILITATOR].sealed)
        ),
        FACILITATOR: ask(
            pair.facilitator, StageRequest(Stage.PSI_FINISH, run, sealed=answers[BANK].sealed)
        ),
    }
    assert done[BANK].outcome is done[FACILITATOR].outcome is Outcome.DONE
    assert done[BANK].facts["commitment"] == done[FACILITATOR].facts["commitment"]
    assert done[BANK].facts["intersection_size"] > 0
    assert _ledger_size(pair.bank) == _ledger_size(pair.facilitator) == 1


def test_a_peer_probing_with_a_handful_of_identifiers_gets_no_answer(pair, tmp_path):
    """A facilitator that puts in five people would learn whether each is a bank customer."""
    import pandas as pd

    config = VerticalNodeConfig.from_toml(pair.facilitator)
    few = tmp_path / "five.csv"
    pd.read_csv(config.table, dtype=str).head(5).to_csv(few, index=False)
    probing = pair.facilitator.with_name("vertical-probing.toml")
    probing.write_text(
        pair.facilitator.read_text().replace('table = "data/users.csv"', f'table = "{few}"')
    )
    run = "attack-probe"
    signed = pair.signed_run(run, {"epochs": 2})
    offers = {
        BANK: ask(pair.bank, StageRequest(Stage.ADMIT, run, request=signed.encode())),
        FACILITATOR: ask(probing, StageRequest(Stage.ADMIT, run, request=signed.encode())),
    }
    ask(pair.bank, StageRequest(Stage.PSI_START, run, sealed=offers[FACILITATOR].sealed))
    probe = ask(probing, StageRequest(Stage.PSI_START, run, sealed=offers[BANK].sealed))
    reply = ask(pair.bank, StageRequest(Stage.PSI_ANSWER, run, sealed=probe.sealed))
    assert reply.outcome is Outcome.FAILED and "min_peer_set" in reply.reason
    assert reply.sealed == b"" and _ledger_size(pair.bank) == 0


def test_a_run_that_failed_at_a_node_leaves_no_secret_there(pair):
    """Whatever made the stage fail, the node's channel key and PSI scalar of that run go at
    once: a hostile relay cannot stop the run midway and keep the secrets on disk."""
    run = "attack-abandoned"
    sets = _started(pair, run)
    folder = RunFolder(VerticalNodeConfig.from_toml(pair.bank), run)
    assert folder.holds_secrets
    tampered = bytes(reversed(sets[FACILITATOR].sealed))
    reply = ask(pair.bank, StageRequest(Stage.PSI_ANSWER, run, sealed=tampered))
    assert reply.outcome is Outcome.FAILED
    assert not folder.holds_secrets
    assert not (folder.path / "channel.state").exists() and not (folder.path / "psi.state").exists()


def test_an_expired_runs_secrets_are_erased_the_next_time_the_node_answers(pair):
    run = "abandoned-by-the-coordinator"
    _started(pair, run)
    config = VerticalNodeConfig.from_toml(pair.facilitator)
    folder = RunFolder(config, run)
    expires = folder.signed_request().request.expires_at
    assert erase_expired_secrets(config, expires - timedelta(seconds=1)) == []
    assert folder.holds_secrets
    assert erase_expired_secrets(config, expires + timedelta(seconds=1)) == [run]
    assert not folder.holds_secrets and folder.admitted  # the record of the run stays
